"""The volumes a dataset declares for the anomaly detector, and their sums over new rows.

A ``Volume`` is either a per-run count of the run record's ``datasets`` section (``records``:
what the pull fetched) or a sum of one money column of a table's *new* rows per UTC day of a
timestamp column and per value of a grouping column (revenue per day per currency). Each row is
new exactly once, so summing the new rows of every run gives each day's full total, however
often and however incrementally the pulls run. The dataset's schema module declares its
volumes (``ORDER_VOLUMES``); the detector is ``pipelines/checks/dataset_anomaly.py``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pyarrow as pa


@dataclass(frozen=True)
class Volume:
    """One watched volume: ``metric`` is the verdicts' metric name (per group: ``metric_GROUP``)."""

    metric: str
    counter: str = ""  # a count of the datasets section, judged per run
    table: str = ""  # or: the sum of ``amount`` over this table's new rows,
    amount: str = ""
    day: str = ""  # per UTC day of this timestamp column
    by: str = ""  # and per value of this column

    @property
    def daily(self) -> bool:
        return not self.counter


class DaySums:
    """The daily volumes of one pull, summed over the new rows of its tables."""

    def __init__(self, volumes: Iterable[Volume]) -> None:
        self.volumes = [v for v in volumes if v.daily]
        self.sums: dict[str, dict[str, dict[str, Decimal]]] = {}

    def add(self, table_name: str, rows: pa.Table) -> None:
        """Count the ``new`` rows of ``rows``, a batch of ``table_name`` after the dedup."""
        for volume in (v for v in self.volumes if v.table == table_name):
            groups = self.sums.setdefault(volume.metric, {})
            columns = rows.select([volume.by, volume.day, volume.amount, "change_type"])
            for row in columns.to_pylist():
                if row["change_type"] != "new" or row[volume.day] is None:
                    continue
                day = row[volume.day].date().isoformat()
                by = groups.setdefault(str(row[volume.by]), defaultdict(Decimal))
                by[day] += row[volume.amount] or Decimal(0)

    def to_dict(self) -> dict[str, Any]:
        """``{metric: {group: {day: "decimal text"}}}``, the run record's ``volumes``."""
        return {
            metric: {
                group: {day: str(value) for day, value in sorted(days.items())}
                for group, days in sorted(groups.items())
            }
            for metric, groups in self.sums.items()
            if groups
        }
