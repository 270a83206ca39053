"""The forms a secret can take in output, as the leak and redaction tests search for them."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus


def secret_forms(value: str, user: str | None = None) -> dict[str, str]:
    """``value`` literal, base64, URL- and form-encoded, JSON-escaped; with ``user``, also the
    HTTP Basic ``user:value`` header value."""
    found = {
        "literal": value,
        "base64": base64.b64encode(value.encode()).decode(),
        "url-encoded": quote(value, safe=""),
        "form-encoded": quote_plus(value),
        "json-escaped": json.dumps(value)[1:-1],
    }
    if user is not None:
        found["basic auth"] = base64.b64encode(f"{user}:{value}".encode()).decode()
    return found
