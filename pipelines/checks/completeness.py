"""The completeness table of a run report: what each source said it held against what was read.

Providers record the counts during their fetch (``FetchContext.expect``); the run log keeps
them under each provider's ``completeness``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

COMPLETENESS_HEADERS = ("Provider", "Objects", "Source says", "Readable", "Read", "Verdict")


def completeness_rows(record: Mapping[str, Any]) -> list[list[str]]:
    """One row per recorded count, its verdict ``complete`` or ``INCOMPLETE``."""
    rows = []
    providers = record.get("providers")
    for name, entry in (providers if isinstance(providers, Mapping) else {}).items():
        for count in entry.get("completeness") or ():
            rows.append([name, str(count.get("what")), *_numbers(count), _verdict(count)])
    return rows


def _numbers(count: Mapping[str, Any]) -> list[str]:
    source = f"≥ {count.get('source')}" if count.get("at_least") else str(count.get("source"))
    return [source, str(count.get("expected")), str(count.get("read"))]


def _verdict(count: Mapping[str, Any]) -> str:
    expected, read = count.get("expected") or 0, count.get("read") or 0
    tolerance = count.get("tolerance") or 0
    short = expected - read > tolerance
    long = not count.get("at_least") and read - expected > tolerance
    verdict = "INCOMPLETE" if short or long else "complete"
    return f"{verdict} ({count['note']})" if count.get("note") else verdict
