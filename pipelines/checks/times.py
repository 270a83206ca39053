"""Times as people read them in reports and summaries: ``2026-12-05 23:57 UTC``, ``4 min 12 s``."""

from __future__ import annotations

from datetime import datetime


def human_duration(seconds: float | None) -> str:
    """``12.3 s``, ``48 s``, ``4 min 12 s``, ``1 h 03 min``; ``–`` when unknown."""
    if seconds is None:
        return "–"
    if seconds < 59.5:
        return f"{seconds:.0f} s" if float(seconds).is_integer() else f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def human_time(iso: str | None) -> str:
    """``2026-12-05 23:57 UTC`` from an ISO time with its offset; ``–`` when unknown."""
    if not iso:
        return "–"
    return f"{datetime.fromisoformat(iso):%Y-%m-%d %H:%M} UTC"
