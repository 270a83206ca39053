"""What the run report shows of the datasets beyond products: their rows and their verdicts.

The ``datasets`` section of the run record (one entry per pull ``<dataset>.<provider>``)
becomes one table row per table of the pull: its new, changed and unchanged rows, with the
pull's status and its records, quarantined and dropped (counted per raw record) on the pull's
first row. A volume verdict of a dataset (``pipelines/checks/dataset_anomaly.py``) is named
``<dataset> <provider>`` and, for a daily volume, its metric carries the day.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DATASET_HEADERS = ("Dataset", "Provider", "Status", "Records", "Quarantined", "Dropped",
                   "Table", "New", "Changed", "Unchanged")  # fmt: skip
PULL_COUNTS = ("records", "quarantined", "dropped")
TABLE_COUNTS = ("new", "changed", "unchanged")


def dataset_rows(record: Mapping[str, Any]) -> list[list[str]]:
    """The datasets table of the report (empty when the run pulled products only)."""
    pulls = record.get("datasets")
    rows = []
    for pull, entry in (pulls if isinstance(pulls, Mapping) else {}).items():
        if not isinstance(entry, Mapping):
            continue
        dataset, _, provider = str(pull).partition(".")
        head = [dataset, provider, str(entry.get("status", "")),
                *(_count(entry.get(k)) for k in PULL_COUNTS)]  # fmt: skip
        tables = entry.get("tables")
        tables = tables if isinstance(tables, Mapping) and tables else {"": {}}
        for number, (name, counts) in enumerate(tables.items()):
            counts = counts if isinstance(counts, Mapping) else {}
            lead = head if number == 0 else ["", "", "", "", "", ""]
            rows.append([*lead, str(name), *(_count(counts.get(k)) for k in TABLE_COUNTS)])
    return rows


def _count(value: Any) -> str:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else ""


def verdict_names(verdict: Mapping[str, Any]) -> tuple[str, str]:
    """The report's subject and metric of a verdict: ``orders shopify``, ``revenue_CAD
    (2026-11-20)`` for a dataset's; the provider and metric as they are for products."""
    subject, metric = str(verdict.get("provider")), str(verdict.get("metric"))
    if verdict.get("dataset"):
        subject = f"{verdict['dataset']} {subject}"
    if verdict.get("day"):
        metric = f"{metric} ({verdict['day']})"
    return subject, metric
