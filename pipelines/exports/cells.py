"""Provider text made safe for spreadsheet cells, and the text form of each value.

Text from providers is data. A spreadsheet opening a CSV or workbook cell that starts with
``=``, ``+``, ``-`` or ``@`` (or a tab, carriage return or NUL before one) reads it as a
formula, which can fetch URLs or start programs (CSV or formula injection, OWASP; ASVS 5.0
requirement 1.2.10: escape such a first character with a single quote, in CSV and XLSX
alike). ``inert`` puts a ``'`` in front of such a cell; spreadsheets show the text as it was.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\0")


def inert(text: str) -> str:
    """``text``, with a leading ``'`` when a spreadsheet would read it as a formula."""
    return "'" + text if text.startswith(FORMULA_TRIGGERS) else text


def decimal_text(value: Decimal) -> str:
    """A decimal as plain digits, every stored place kept (``12.5000``)."""
    return format(value, "f")


def utc_text(value: datetime) -> str:
    """A timestamp as ISO 8601 in UTC with a ``Z`` (``2026-12-05T10:00:00Z``)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def list_text(values: list[Any]) -> str:
    """A list column as a JSON array (lossless; it never starts like a formula)."""
    return json.dumps(values, ensure_ascii=False)


def text_cell(value: Any) -> str:
    """One value of a row as CSV text: empty for null, text made inert."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return inert(value)
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, list):
        return list_text(value)
    return str(value)
