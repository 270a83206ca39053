"""Synthetic run-log records, shared by test_anomaly and test_anomaly_history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pipelines.checks.anomaly import AnomalyConfig, AnomalyReport, Verdict, detect_anomalies

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
CONFIG = AnomalyConfig()


def make_run(
    at: datetime,
    fetched: int | None = 100,
    new: int | None = 10,
    *,
    mode: str = "live",
    status: str = "ok",
    providers: dict[str, dict[str, Any]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A run-log record with one `shopify` provider unless `providers` is given."""
    if providers is None:
        entry: dict[str, Any] = {"status": status}
        if fetched is not None:
            entry["fetched"] = fetched
        if new is not None:
            entry["new"] = new
        providers = {"shopify": entry}
    return {
        "run_id": at.strftime("%Y%m%dT%H%M%SZ") + "-abc123",
        "started_at": at.isoformat(),
        "mode": mode,
        "bootstrap": False,
        "backfill": False,
        "providers": providers,
        **extra,
    }


def daily(values: list[int], hour: int = 12, **kwargs: Any) -> list[dict[str, Any]]:
    """One run per day before NOW at `hour`, newest first, with `fetched` from `values`."""
    start = NOW.replace(hour=hour)
    return [make_run(start - timedelta(days=i + 1), v, **kwargs) for i, v in enumerate(values)]


def verdict_of(report: AnomalyReport, provider: str = "shopify", metric: str = "fetched"):
    [verdict] = [v for v in report.verdicts if v.provider == provider and v.metric == metric]
    return verdict


def judge(history: list[dict[str, Any]], fetched: int, at: datetime = NOW, **kw: Any) -> Verdict:
    return verdict_of(detect_anomalies(history, make_run(at, fetched), CONFIG, **kw))
