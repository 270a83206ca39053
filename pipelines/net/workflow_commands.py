"""GitHub Actions workflow commands as stdout lines: escaping, ``::add-mask::``.

Secret masking announces each secret to the runner with ``::add-mask::``, so the
encoding sits here, below both the redaction and the Actions glue in ``pipelines.ops.gha``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TextIO


def in_actions(env: Mapping[str, str] | None = None) -> bool:
    """True inside a GitHub Actions job (the runner sets ``GITHUB_ACTIONS=true``)."""
    return (os.environ if env is None else env).get("GITHUB_ACTIONS") == "true"


def escape_data(text: str) -> str:
    """A command's message, escaped as the runner's toolkit does (``%``, CR, LF)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A command property value (``title=…``): the data escapes plus ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str, properties: Mapping[str, str] | None = None) -> str:
    """One workflow command line, e.g. ``::warning title=shopify::fetched 0 rows``."""
    props = ",".join(f"{k}={escape_property(v)}" for k, v in (properties or {}).items() if v)
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


def add_mask(value: str, stream: TextIO | None = None) -> None:
    """Ask the runner to mask ``value`` in every later log line (each line of it on its own)."""
    out = stream or sys.stdout
    for line in value.splitlines() or [value]:
        if line.strip():
            out.write(command("add-mask", line) + "\n")
    out.flush()
