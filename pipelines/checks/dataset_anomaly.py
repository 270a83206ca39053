"""Volume anomalies of the datasets beyond products, from the run log's ``datasets`` section.

Each dataset declares its volumes next to its schema (``Dataset.volumes``, e.g.
``ORDER_VOLUMES``); nothing here knows one dataset from another. The statistics and the
thresholds are the products detector's (``pipelines.checks.anomaly.judge``, ``[anomaly]``), and
so is the verdicts' shape, plus ``"dataset"`` (and ``"day"``), so reports, issues,
notifications and metrics take them as they come. For each pull ``<dataset>.<provider>`` whose
status is ``ok``:

- a **per-run** volume (``counter``, e.g. the orders a pull fetched) is judged like a product
  counter: against the same pull's value in the eligible runs of the window
  (``pipelines.checks.history.eligible_runs``), leaving out runs whose verdict on it alerted
  unless acknowledged;
- a **daily** volume (e.g. revenue per currency) sums the pull's ``volumes`` (the new rows of
  each run, so each row counts once) over every run of the log by UTC day, and judges the last
  complete day (yesterday, UTC) against the ``window_days`` days before it, from the first day
  with any amount on (a day without orders is a zero). It is judged once a day, by the first
  run of the day; real runs count real runs only (a dry run commits nothing, so its new rows
  come again), an offline run counts offline runs. Days of slot of day do not exist here:
  ``seasonal`` is always false.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from pipelines.checks.anomaly import AnomalyConfig, Verdict, judge
from pipelines.checks.history import SOLO_MODES, eligible_runs, finite_number, run_time
from pipelines.lake.datasets import DATASETS
from pipelines.lake.volumes import Volume

Record = Mapping[str, Any]


def detect_dataset_anomalies(
    history: list[dict[str, Any]],
    current: dict[str, Any],
    config: AnomalyConfig,
    acknowledged: AbstractSet[str] = frozenset(),
) -> list[Verdict]:
    """The verdicts on every declared volume of every pull of the current run."""
    now = run_time(current)
    if now is None:
        raise ValueError(f"run {current.get('run_id')!r} has no usable started_at")
    verdicts: list[Verdict] = []
    for pull, entry in _pulls(current).items():
        name = pull.partition(".")[0]
        dataset = DATASETS.get(name)
        if dataset is None or entry.get("status") != "ok":
            continue
        for volume in dataset.volumes:
            judged = _daily if volume.daily else _per_run
            found = judged(history, current, now, pull, volume, config, acknowledged)
            verdicts += [replace(v, dataset=name) for v in found]
    return verdicts


def _pulls(record: Record) -> dict[str, Mapping[str, Any]]:
    pulls = record.get("datasets")
    if not isinstance(pulls, Mapping):
        return {}
    return {k: v for k, v in pulls.items() if isinstance(v, Mapping)}


def _alerted(record: Record, pull: str, metric: str, acknowledged: AbstractSet[str]) -> set[Any]:
    """The days (``None`` for a per-run volume) whose verdict on ``pull``'s ``metric`` in
    ``record`` alerted, unless the run was acknowledged."""
    if record.get("run_id") in acknowledged:
        return set()
    dataset, _, source = pull.partition(".")
    verdicts = (record.get("anomaly") or {}).get("verdicts") or ()
    return {
        v.get("day")
        for v in verdicts
        if isinstance(v, Mapping) and v.get("verdict") == "alert"
        and (v.get("dataset"), v.get("provider"), v.get("metric")) == (dataset, source, metric)
    }  # fmt: skip


def _per_run(history: list[dict[str, Any]], current: Record, now: datetime, pull: str,
             volume: Volume, config: AnomalyConfig, acknowledged: AbstractSet[str],
             ) -> list[Verdict]:  # fmt: skip
    value = finite_number(_pulls(current)[pull].get(volume.counter))
    if value is None:
        return []
    points = []
    for record, moment in eligible_runs(history, current, config.window_days, now):
        entry = _pulls(record).get(pull)
        if not entry or entry.get("status") != "ok":
            continue
        if None in _alerted(record, pull, volume.metric, acknowledged):
            continue
        past = finite_number(entry.get(volume.counter))
        if past is not None:
            points.append((moment, past))
    return [judge(pull.partition(".")[2], volume.metric, value, points, now, config)]


def _daily(history: list[dict[str, Any]], current: Record, now: datetime, pull: str,
           volume: Volume, config: AnomalyConfig, acknowledged: AbstractSet[str],
           ) -> list[Verdict]:  # fmt: skip
    runs = [r for r in history if _counts_toward(r, current, now)]
    if any(run_time(r).date() == now.date() for r in runs):  # type: ignore[union-attr]
        return []  # the first run of the day judged yesterday already
    day = now.date() - timedelta(days=1)
    window = [day - timedelta(days=n) for n in range(config.window_days, 0, -1)]
    verdicts = []
    for group, days in _day_totals([*runs, current], pull, volume.metric).items():
        if max(days) < window[0]:
            continue  # nothing in this currency for the whole window
        metric = f"{volume.metric}_{group}"
        alerted = {d for r in runs for d in _alerted(r, pull, metric, acknowledged)}
        points = [(_midnight(d), days.get(d, 0.0)) for d in window
                  if d >= min(days) and d.isoformat() not in alerted]  # fmt: skip
        daily = replace(config, seasonal_min_points=len(points) + 1)  # no slot of day
        verdict = judge(pull.partition(".")[2], metric, days.get(day, 0.0), points, now, daily)
        verdicts.append(replace(verdict, day=day.isoformat()))
    return verdicts


def _counts_toward(record: Record, current: Record, now: datetime) -> bool:
    """A run whose new rows count in the daily sums of the current run's."""
    moment = run_time(record)
    if moment is None or moment >= now or record.get("run_id") == current.get("run_id"):
        return False
    if current.get("mode") == "offline":
        return record.get("mode") == "offline"
    return record.get("mode") not in SOLO_MODES


def _day_totals(runs: Iterable[Record], pull: str, metric: str) -> dict[str, dict[date, float]]:
    """``{group: {day: total}}`` of ``metric`` over ``runs``' ``volumes`` of ``pull``."""
    totals: dict[str, dict[date, float]] = defaultdict(lambda: defaultdict(float))
    for record in runs:
        entry = _pulls(record).get(pull) or {}
        groups = (entry.get("volumes") or {}).get(metric) or {}
        for group, days in groups.items() if isinstance(groups, Mapping) else ():
            for text, amount in (days or {}).items():
                try:
                    totals[str(group)][date.fromisoformat(text)] += float(amount)
                except (TypeError, ValueError):
                    continue  # a record edited by hand: that day is left out
    return totals


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
