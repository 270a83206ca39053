"""The run history the detector trains on: run-log records read, dated and shaped into values.

Apart from the detector (pipelines.checks.anomaly), which only does the statistics: this
knows the run log's record shape (providers, statuses, modes, stored verdicts, acknowledged runs).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

log = logging.getLogger("pipeline.anomaly")

TOTAL = "total"
SOLO_MODES = frozenset({"dry_run", "offline"})


def read_run_log(path: Path | str) -> list[dict[str, Any]]:
    """The records of a ``runs.jsonl`` file, oldest first; unreadable lines are skipped.

    A run killed while writing leaves a truncated last line: it is logged and ignored.
    """
    path = Path(path)
    if not path.exists():
        return []
    records = []
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                log.warning("%s line %d skipped, not valid JSON (a killed run?): %s",
                            path, number, exc)  # fmt: skip
                continue
            if isinstance(record, dict):
                records.append(record)
            else:
                log.warning("%s line %d skipped, not a JSON object", path, number)
    return records


def run_time(record: Mapping[str, Any]) -> datetime | None:
    """When a run started (UTC), from ``started_at`` or else the run id's timestamp prefix."""
    started = record.get("started_at")
    if isinstance(started, str):
        try:
            moment = datetime.fromisoformat(started)
        except ValueError:
            pass
        else:
            return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    run_id = record.get("run_id")
    if isinstance(run_id, str):
        try:
            return datetime.strptime(run_id[:16], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            return None
    return None


def finite_number(value: Any) -> int | float | None:
    """``value`` if it is a finite int or float (bools are not numbers here), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value if math.isfinite(value) else None


def eligible_runs(
    history: Iterable[Mapping[str, Any]],
    current: Mapping[str, Any],
    window_days: int,
    now: datetime,
) -> list[tuple[Mapping[str, Any], datetime]]:
    """History runs inside the window, of a comparable mode, neither bootstrap nor backfill."""
    start = now - timedelta(days=window_days)
    runs = []
    for record in history:
        moment = run_time(record)
        if moment is None or not start <= moment < now:
            continue
        if record.get("run_id") == current.get("run_id"):
            continue
        if record.get("bootstrap") or record.get("backfill"):
            continue
        if _comparable_mode(record.get("mode"), current.get("mode")):
            runs.append((record, moment))
    return runs


def _comparable_mode(mode: Any, current_mode: Any) -> bool:
    if current_mode == "offline":
        return mode == "offline"
    return mode == current_mode or mode not in SOLO_MODES


def _providers(record: Mapping[str, Any]) -> Mapping[str, Any]:
    providers = record.get("providers")
    return providers if isinstance(providers, Mapping) else {}


def provider_status(record: Mapping[str, Any], provider: str) -> Any:
    entry = _providers(record).get(provider)
    return entry.get("status") if isinstance(entry, Mapping) else None


def attempted_providers(record: Mapping[str, Any]) -> list[str]:
    return [
        name
        for name, entry in _providers(record).items()
        if isinstance(entry, Mapping) and entry.get("status") != "skipped"
    ]


def current_value(
    current: Mapping[str, Any], provider: str, metric: str, attempted: list[str]
) -> int | float | None:
    providers = _providers(current)
    if provider != TOTAL:
        return finite_number(providers[provider].get(metric))
    # A failed provider may have no counters at all: it contributed nothing.
    return sum(finite_number(providers[p].get(metric)) or 0 for p in attempted)


def _history_value(
    record: Mapping[str, Any], provider: str, metric: str, attempted: list[str]
) -> int | float | None:
    """The metric of a run fit for training, or None when the run does not qualify."""
    names = attempted if provider == TOTAL else [provider]
    values = []
    for name in names:
        entry = _providers(record).get(name)
        if not isinstance(entry, Mapping) or entry.get("status") != "ok":
            return None
        values.append(finite_number(entry.get(metric)))
    if not values or None in values:
        return None
    return sum(values)


def _was_flagged(record: Mapping[str, Any], provider: str, metric: str) -> bool:
    anomaly = record.get("anomaly")
    if not isinstance(anomaly, Mapping):
        return False
    for verdict in anomaly.get("verdicts") or ():
        if isinstance(verdict, Mapping) and (
            verdict.get("provider") == provider and verdict.get("metric") == metric
        ):
            return verdict.get("verdict") == "alert"
    return False


def training_points(
    runs: list[tuple[Mapping[str, Any], datetime]],
    provider: str,
    metric: str,
    attempted: list[str],
    acknowledged: AbstractSet[str],
) -> list[tuple[datetime, float]]:
    points = []
    for record, moment in runs:
        if record.get("run_id") not in acknowledged and _was_flagged(record, provider, metric):
            continue
        value = _history_value(record, provider, metric, attempted)
        if value is not None:
            points.append((moment, value))
    return points
