"""Vendors' timestamps as aware UTC datetimes, for normalizers and watermarks alike."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def parse_utc(value: Any) -> datetime | None:
    """An ISO 8601 timestamp as an aware UTC datetime; naive ones are taken as UTC.

    None when the value is absent or not a timestamp (``2026-10-03T08:15:00Z`` parses).
    """
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
