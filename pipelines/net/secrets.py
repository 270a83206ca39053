"""Secret values known to this process, and masking them out of any text: the one redaction.

Every secret setting is registered when the configuration is read, and every
token minted at run time when it arrives, so that ``mask`` can replace them
before anything is printed or written. A secret is hidden in every form it can
take in output: as is, base64-encoded (alone, and as the ``id:secret`` pair of
HTTP Basic auth, wherever it sits in a longer encoded string), URL- and
form-encoded, JSON-escaped and HTML-escaped. ``mask`` also blanks credential
shapes it was never told about (``Bearer …``, ``Authorization: …``,
``client_secret=…``, Shopify and GitHub token prefixes), because a later process
(``gha-publish``, ``file-issues``) does not know the tokens a run minted.

Logs (``SecretMaskingFilter``), the run log, the checkpoint, reports, job
summaries, annotations and issue bodies all go through ``mask`` (``mask_data``
for structured records). Inside GitHub Actions a newly registered value is also
announced with ``::add-mask::`` on stdout, so the runner hides it from the job log too.
"""

from __future__ import annotations

import base64
import html
import json
import logging
import re
from typing import Any
from urllib.parse import quote, quote_plus

from pipelines.net.workflow_commands import add_mask, in_actions

MASK = "***"
_MIN_SECRET_LENGTH = 4
_MIN_DERIVED_LENGTH = 8  # encodings of shorter values would hide ordinary words
_MIN_BASE64_CORE = 12  # bytes from which the base64 of a value is hidden inside longer strings
_secrets: set[str] = set()

# Values stop at whitespace, quotes, backslashes and separators, so that masking a JSON text
# never eats its structure.
_VALUE = r"[^\s\"'\\,;&<>)}\]]+"
_PATTERNS = (
    (re.compile(r"\b(Basic) [A-Za-z0-9+/_-]{8,}=*"), r"\1 " + MASK),
    (re.compile(r"(?i)\b(Bearer) (?=[^\s\"'\\]{8})" + _VALUE), r"\1 " + MASK),
    (
        re.compile(
            r"(?i)\b(authorization|proxy-authorization|x-shopify-access-token|x-api-key|"
            r"set-cookie|cookie)(\"?\s*[:=]\s*\"?)[^\"\\\r\n,;]+"
        ),
        r"\1\2" + MASK,
    ),
    (
        re.compile(
            r"(?i)\b(client_secret|access_token|refresh_token|id_token|password|api_key|"
            r"credential_secret)(\"?\s*[:=]\s*\"?)" + _VALUE
        ),
        r"\1\2" + MASK,
    ),
    (re.compile(r"\b(shp(?:at|ca|pa|ss)_|gh[pousr]_|github_pat_)[A-Za-z0-9_]+"), r"\1" + MASK),
)


def register_secret(value: str | None) -> None:
    """Remember ``value`` (and its encodings) so that ``mask`` hides it from now on.

    Inside Actions the runner is told the value itself; it derives the encodings on its own.
    """
    if not value or len(value) < _MIN_SECRET_LENGTH or value in _secrets:
        return
    if in_actions():
        add_mask(value)
    _secrets.add(value)
    if len(value) >= _MIN_DERIVED_LENGTH:
        _secrets.update(form for form in derived_forms(value) if len(form) >= _MIN_SECRET_LENGTH)


def register_basic_auth(user: str, password: str) -> None:
    """Register both halves of HTTP Basic credentials and the header value they make."""
    register_secret(user)
    register_secret(password)
    pair = f"{user}:{password}".encode()
    _secrets.update({base64.b64encode(pair).decode(), base64.urlsafe_b64encode(pair).decode()})


def derived_forms(value: str) -> set[str]:
    """The forms ``value`` takes when encoded for URLs, forms, JSON, HTML and base64."""
    forms = {
        quote(value, safe=""),
        quote(value),
        quote_plus(value),
        quote_plus(value, safe=""),
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        html.escape(value),
    }
    forms |= {re.sub(r"%[0-9A-F]{2}", lambda m: m[0].lower(), form) for form in forms}
    return forms | _base64_forms(value.encode())


def _base64_forms(raw: bytes) -> set[str]:
    """The base64 of ``raw`` and, for longer values, the part of it that stays the same
    whatever bytes come before or after (so ``base64(id + ":" + secret)`` is caught too)."""
    standard = {base64.b64encode(raw).decode()}
    if len(raw) >= _MIN_BASE64_CORE:
        for offset in range(3):
            encoded = base64.b64encode(bytes(offset) + raw + bytes(3)).decode()
            standard.add(encoded[-(-8 * offset // 6) : 8 * (offset + len(raw)) // 6])
    urlsafe = {form.replace("+", "-").replace("/", "_") for form in standard}
    return standard | urlsafe | {form.rstrip("=") for form in standard | urlsafe}


def mask(text: str) -> str:
    """``text`` with each registered secret (in any form) and credential shape as ``***``."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def mask_data(value: Any) -> Any:
    """``value`` (a run record, a checkpoint) with ``mask`` applied to every string in it."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {key: mask_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask_data(item) for item in value]
    return value


class SecretMaskingFilter(logging.Filter):
    """A logging filter that masks secrets in the formatted message and any traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = mask(logging.Formatter().formatException(record.exc_info))
        return True
