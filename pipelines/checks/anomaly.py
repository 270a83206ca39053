"""Volume anomaly detection over the run log (never the data).

Each run is compared with recent comparable runs, per provider and for the
total, on the counters named in ``[anomaly] metrics`` (``new`` and ``fetched``
by default: a drop in ``fetched`` is how a broken source shows itself).

Training set (picked by pipelines.checks.history), for one provider and
metric: runs of the last ``window_days`` before the current run where that
provider's status was ``ok``, leaving out bootstrap and backfill runs, runs
whose earlier verdict for the same provider/metric was ``alert`` (unless their
run id is in ``acknowledged_runs``), and ``dry_run``/``offline`` runs unless
the current run has that mode. An offline run trains on offline runs only.
``min_history`` counts the points of the whole window; when the current run's
UTC slot of day (``hour // slot_hours``) holds at least ``seasonal_min_points``
of them, only those are used (``seasonal: true``).

``total`` sums the providers the current run attempted (any status but
``skipped``); a history run counts for it only if all of those were ``ok``.
Per-provider verdicts are given for providers whose status is ``ok`` or
``quality_failed``; a ``failed`` one shows up in the total.

Statistics: ``scale = max(1.4826·MAD, 0.10·median, √median, 1)``,
``z = (value − median) / scale``; ``|z| ≥ warn_z`` warns, ``|z| ≥ alert_z``
alerts, but a change smaller than ``max(min_abs_change, min_rel_change·median)``
is ``ok`` whatever z says, and zero when the median is at least
``zero_alert_median`` always alerts.

``AnomalyReport.to_dict()``, stored under the run log's ``"anomaly"`` key::

    {
      "version": 1,
      "worst": "ok" | "warn" | "alert" | "insufficient_history",
      "verdicts": [
        {"provider": "shopify" | ... | "total", "metric": "fetched", "value": 120,
         "verdict": "ok" | "warn" | "alert" | "insufficient_history",
         "z": 0.42, "median": 118.0, "scale": 11.8,
         "warn_lower": 82.6, "warn_upper": 153.4, "alert_lower": 59.0, "alert_upper": 177.0,
         "training_points": 12, "seasonal": true},
        ...
      ],
      "config": {"window_days": 14, ..., "metrics": ["new", "fetched"]}
    }

With ``insufficient_history``, ``z``, ``median``, ``scale`` and the bounds are
null and ``training_points`` is the window's count. The volumes of the datasets beyond
products (pipelines/checks/dataset_anomaly.py) give verdicts of the same shape plus
``"dataset"`` (and ``"day"`` for a daily volume). ``worst`` ranks
alert > warn > insufficient_history > ok, and is ``ok`` when nothing was checked.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationInfo, field_validator

from pipelines.checks.history import (
    TOTAL,
    attempted_providers,
    current_value,
    eligible_runs,
    provider_status,
    run_time,
    training_points,
)
from pipelines.validation import Section, checked, setting

SEVERITY = ("ok", "insufficient_history", "warn", "alert")  # rising
COUNTERS = frozenset(
    {"fetched", "new", "changed", "unchanged", "quarantined", "dropped", "written", "api_calls"}
)
EVALUATED_STATUSES = frozenset({"ok", "quality_failed"})
MAD_TO_SIGMA = 1.4826  # makes the MAD estimate a standard deviation for normal data
REL_SCALE_FLOOR = 0.10


@dataclass(frozen=True)
class AnomalyConfig:
    """Thresholds of the detector, from the ``[anomaly]`` table of pipeline.toml."""

    window_days: int = 14
    min_history: int = 8
    seasonal_min_points: int = 5
    slot_hours: int = 6
    warn_z: float = 3.0
    alert_z: float = 5.0
    min_abs_change: float = 10.0
    min_rel_change: float = 0.30
    zero_alert_median: float = 10.0
    metrics: tuple[str, ...] = ("new", "fetched")

    @classmethod
    def from_table(cls, table: Mapping[str, Any] | None) -> AnomalyConfig:
        """Validate the ``[anomaly]`` table; every problem is reported in one ConfigError."""
        model = checked("anomaly", AnomalyModel, table)
        return cls(**{**model.model_dump(), "metrics": tuple(model.metrics)})


_DEFAULT = AnomalyConfig()
_AT_LEAST_1, _NOT_NEGATIVE = "an integer of at least 1", "a number of at least 0"


class AnomalyModel(Section):
    """The ``[anomaly]`` table as pipeline.toml holds it (defaults: ``AnomalyConfig``)."""

    window_days: int = setting(_DEFAULT.window_days, _AT_LEAST_1, ge=1)
    min_history: int = setting(_DEFAULT.min_history, _AT_LEAST_1, ge=1)
    seasonal_min_points: int = setting(_DEFAULT.seasonal_min_points, _AT_LEAST_1, ge=1)
    slot_hours: Literal[1, 2, 3, 4, 6, 8, 12, 24] = setting(
        _DEFAULT.slot_hours, "a divisor of 24: one of 1, 2, 3, 4, 6, 8, 12, 24"
    )
    warn_z: float = setting(_DEFAULT.warn_z, "a number above 0", gt=0)
    alert_z: float = setting(_DEFAULT.alert_z, "a number of at least warn_z", gt=0,
                             validate_default=True)  # fmt: skip
    min_abs_change: float = setting(_DEFAULT.min_abs_change, _NOT_NEGATIVE, ge=0)
    min_rel_change: float = setting(_DEFAULT.min_rel_change, _NOT_NEGATIVE, ge=0)
    zero_alert_median: float = setting(_DEFAULT.zero_alert_median, _NOT_NEGATIVE, ge=0)
    metrics: list[Literal[tuple(sorted(COUNTERS))]] = setting(  # type: ignore[valid-type]
        list(_DEFAULT.metrics),
        f"a non-empty list of counter names ({', '.join(sorted(COUNTERS))})",
        min_length=1,
    )

    @field_validator("alert_z")
    @classmethod
    def _at_least_warn_z(cls, value: float, info: ValidationInfo) -> float:
        warn_z = info.data.get("warn_z")
        if warn_z is not None and value < warn_z:
            raise ValueError(f"expected a number of at least warn_z ({warn_z:g}), got {value!r}")
        return value

    @field_validator("metrics")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"expected distinct counter names, got {value!r}")
        return value


@dataclass(frozen=True)
class Verdict:
    """The judgement on one metric of one provider (or ``total``) for the current run."""

    provider: str
    metric: str
    value: float
    verdict: str
    z: float | None = None
    median: float | None = None
    scale: float | None = None
    warn_lower: float | None = None
    warn_upper: float | None = None
    alert_lower: float | None = None
    alert_upper: float | None = None
    training_points: int = 0
    seasonal: bool = False
    dataset: str | None = None  # a dataset beyond products (pipelines/checks/dataset_anomaly.py)
    day: str | None = None  # the UTC day a daily volume judges

    def to_dict(self) -> dict[str, Any]:
        """The verdict as the run log keeps it; ``dataset`` and ``day`` only when set."""
        return {
            k: round(v, 4) if isinstance(v, float) else v
            for k, v in asdict(self).items()
            if v is not None or k not in ("dataset", "day")
        }


@dataclass
class AnomalyReport:
    """All verdicts of one run."""

    verdicts: list[Verdict] = field(default_factory=list)
    config: AnomalyConfig = field(default_factory=AnomalyConfig)

    @property
    def worst(self) -> str:
        return max((v.verdict for v in self.verdicts), key=SEVERITY.index, default="ok")

    @property
    def alerts(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.verdict == "alert"]

    def to_dict(self) -> dict[str, Any]:
        """The run log's ``"anomaly"`` value (shape in the module docstring)."""
        config = asdict(self.config)
        config["metrics"] = list(self.config.metrics)
        return {
            "version": 1,
            "worst": self.worst,
            "verdicts": [v.to_dict() for v in self.verdicts],
            "config": config,
        }


def detect_anomalies(
    history: list[dict[str, Any]],
    current: dict[str, Any],
    config: AnomalyConfig,
    acknowledged_runs: AbstractSet[str] = frozenset(),
) -> AnomalyReport:
    """Judge the current run's volumes against comparable earlier runs of the run log."""
    now = run_time(current)
    if now is None:
        raise ValueError(f"run {current.get('run_id')!r} has no usable started_at")
    runs = eligible_runs(history, current, config.window_days, now)
    attempted = attempted_providers(current)
    subjects = [p for p in attempted if provider_status(current, p) in EVALUATED_STATUSES]
    if attempted:
        subjects.append(TOTAL)
    verdicts = []
    for provider in subjects:
        for metric in config.metrics:
            value = current_value(current, provider, metric, attempted)
            if value is None:
                continue
            points = training_points(runs, provider, metric, attempted, acknowledged_runs)
            verdicts.append(judge(provider, metric, value, points, now, config))
    return AnomalyReport(verdicts=verdicts, config=config)


def _seasonal_values(
    points: list[tuple[datetime, float]], now: datetime, config: AnomalyConfig
) -> tuple[list[float], bool]:
    """The points of the current slot of day when there are enough of them, else all."""
    slot = now.hour // config.slot_hours
    same = [value for moment, value in points if moment.hour // config.slot_hours == slot]
    if len(same) >= config.seasonal_min_points:
        return same, True
    return [value for _, value in points], False


def judge(
    provider: str,
    metric: str,
    value: float,
    points: list[tuple[datetime, float]],
    now: datetime,
    config: AnomalyConfig,
) -> Verdict:
    if len(points) < config.min_history:
        return Verdict(provider, metric, value, "insufficient_history", training_points=len(points))
    values, seasonal = _seasonal_values(points, now, config)
    median = float(statistics.median(values))
    mad = statistics.median(abs(v - median) for v in values)
    scale = max(MAD_TO_SIGMA * mad, REL_SCALE_FLOOR * median, math.sqrt(max(median, 0.0)), 1.0)
    z = (value - median) / scale
    return Verdict(
        provider=provider,
        metric=metric,
        value=value,
        verdict=_classify(value, median, z, config),
        z=z,
        median=median,
        scale=scale,
        warn_lower=max(0.0, median - config.warn_z * scale),
        warn_upper=median + config.warn_z * scale,
        alert_lower=max(0.0, median - config.alert_z * scale),
        alert_upper=median + config.alert_z * scale,
        training_points=len(values),
        seasonal=seasonal,
    )


def _classify(value: float, median: float, z: float, config: AnomalyConfig) -> str:
    if value == 0 and median >= config.zero_alert_median:
        return "alert"
    if abs(value - median) < max(config.min_abs_change, config.min_rel_change * median):
        return "ok"
    if abs(z) >= config.alert_z:
        return "alert"
    if abs(z) >= config.warn_z:
        return "warn"
    return "ok"
