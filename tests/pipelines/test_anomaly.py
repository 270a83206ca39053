"""Volume anomaly detection on synthetic run-log histories."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.checks.anomaly import (
    SEVERITY,
    AnomalyConfig,
    AnomalyReport,
    Verdict,
    detect_anomalies,
    read_run_log,
    run_time,
)
from pipelines.errors import ConfigError

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


VARIED = [96, 98, 100, 100, 102, 104, 99, 101, 100, 97]  # median 100, MAD 1.5 → scale 10


@pytest.mark.parametrize(
    ("value", "verdict", "z"),
    [
        (200, "alert", 10.0),  # spike
        (135, "warn", 3.5),
        (125, "ok", 2.5),
        (40, "alert", -6.0),  # drop: a source broke
        (65, "warn", -3.5),
        (0, "alert", -10.0),  # zero
    ],
)
def test_spike_and_drop(value: int, verdict: str, z: float) -> None:
    result = judge(daily(VARIED), value)
    assert result.verdict == verdict
    assert result.z == pytest.approx(z)
    assert result.median == 100
    assert result.scale == pytest.approx(10.0)
    assert (result.warn_lower, result.warn_upper) == pytest.approx((70.0, 130.0))
    assert (result.alert_lower, result.alert_upper) == pytest.approx((50.0, 150.0))
    assert result.training_points == 10
    assert result.seasonal is True


def test_zero_alerts_when_median_at_least_ten() -> None:
    # median 10: scale = √10, z = -3.16 would only warn; zero always alerts.
    result = judge(daily([10] * 10), 0)
    assert result.verdict == "alert"
    assert result.z == pytest.approx(-10 / 10**0.5)


def test_zero_is_a_small_change_below_ten() -> None:
    result = judge(daily([9] * 10), 0)
    assert result.verdict == "ok"
    assert result.z == pytest.approx(-3.0)


def test_flat_history_uses_the_floors() -> None:
    result = judge(daily([50] * 10), 80)  # MAD 0 → scale √50
    assert result.scale == pytest.approx(50**0.5)
    assert result.z == pytest.approx(30 / 50**0.5)
    assert result.verdict == "warn"
    assert result.alert_lower == pytest.approx(50 - 5 * 50**0.5)
    big = judge(daily([1000] * 10), 1200)  # 10 % of the median beats √median
    assert big.scale == pytest.approx(100.0)
    assert (big.verdict, big.z) == ("ok", pytest.approx(2.0))


def test_small_median_floor_and_lower_bound_at_zero() -> None:
    result = judge(daily([1] * 10), 3)
    assert result.scale == 1.0
    assert result.warn_lower == 0.0
    assert result.alert_lower == 0.0


def test_small_change_is_ok_whatever_z_says() -> None:
    history = daily([4] * 10)  # scale 2
    small = judge(history, 13)
    assert (small.verdict, small.z) == ("ok", pytest.approx(4.5))
    large = judge(history, 15)
    assert (large.verdict, large.z) == ("alert", pytest.approx(5.5))


def test_relative_change_floor() -> None:
    # median 1000, scale 100: a change of 290 is z 2.9 anyway; 300 reaches 30 %.
    history = daily([1000] * 10)
    assert judge(history, 1290).verdict == "ok"
    assert judge(history, 1300).verdict == "warn"


def test_single_outlier_in_training_does_not_move_the_band() -> None:
    history = daily([100] * 9 + [10_000])
    normal = judge(history, 100)
    assert (normal.verdict, normal.z, normal.median) == ("ok", 0.0, 100.0)
    spike = judge(history, 200)
    assert (spike.verdict, spike.z) == ("alert", pytest.approx(10.0))


def seasonal_history() -> list[dict[str, Any]]:
    night = daily([990, 1000, 1010, 995, 1005, 1000], hour=2)  # slot 0
    afternoon = daily([95, 100, 105, 98, 102, 100], hour=14)  # slot 2
    return night + afternoon


@pytest.mark.parametrize(
    ("hour", "value", "verdict", "median"),
    [
        (2, 1000, "ok", 1000.0),  # normal for its slot
        (14, 1000, "alert", 100.0),  # normal at night, not in the afternoon
        (2, 100, "alert", 1000.0),  # normal in the afternoon, not at night
        (15, 100, "ok", 100.0),
    ],
)
def test_seasonal_slot(hour: int, value: int, verdict: str, median: float) -> None:
    result = judge(seasonal_history(), value, at=NOW.replace(hour=hour))
    assert (result.verdict, result.median, result.seasonal) == (verdict, median, True)
    assert result.training_points == 6


def test_seasonal_falls_back_to_the_window_when_the_slot_is_thin() -> None:
    result = judge(seasonal_history(), 550, at=NOW.replace(hour=8))  # slot 1: no runs
    assert result.seasonal is False
    assert result.training_points == 12
    assert result.median == pytest.approx((105 + 990) / 2)


def test_seasonal_needs_enough_points_in_the_slot() -> None:
    history = daily([1000] * 4, hour=2) + daily([100] * 8, hour=14)
    result = judge(history, 1000, at=NOW.replace(hour=3))
    assert (result.seasonal, result.training_points, result.median) == (False, 12, 100.0)


def test_too_little_history() -> None:
    report = detect_anomalies(daily([100] * 7), make_run(NOW, 0), CONFIG)
    result = verdict_of(report)
    assert result.verdict == "insufficient_history"
    assert (result.z, result.median, result.alert_upper) == (None, None, None)
    assert result.training_points == 7
    assert report.worst == "insufficient_history"
    assert judge(daily([100] * 8), 0).verdict == "alert"


def test_min_history_counts_the_whole_window() -> None:
    history = daily([100] * 5, hour=12) + daily([100] * 3, hour=2)
    result = judge(history, 100)
    assert (result.verdict, result.training_points, result.seasonal) == ("ok", 5, True)


def flagged(at: datetime, fetched: int, provider: str = "shopify", metric: str = "fetched"):
    anomaly = {"verdicts": [{"provider": provider, "metric": metric, "verdict": "alert"}]}
    return make_run(at, fetched, anomaly=anomaly)


def earlier(k: int) -> datetime:
    """A time in the current slot of day, older than the runs `daily` makes for 8 days."""
    return NOW - timedelta(days=8 + k)


def test_bootstrap_backfill_flagged_failed_and_old_runs_are_excluded() -> None:
    history = [
        *daily([100] * 8),
        make_run(earlier(1), 5000, bootstrap=True),
        make_run(earlier(2), 5000, backfill=True),
        flagged(earlier(3), 5000),
        make_run(earlier(4), 5000, status="failed"),
        make_run(NOW - timedelta(days=14, minutes=1), 5000),
        make_run(NOW + timedelta(hours=1), 5000),
        make_run(NOW, 5000),  # the current run itself, already in the log
    ]
    result = judge(history, 100)
    assert (result.training_points, result.median, result.verdict) == (8, 100.0, "ok")


def test_a_flag_on_another_metric_or_provider_does_not_exclude() -> None:
    history = [
        *daily([100] * 7),
        flagged(earlier(1), 100, metric="new"),
        flagged(earlier(2), 100, provider="ebay"),
    ]
    assert judge(history, 100).training_points == 9


def test_acknowledged_run_returns_to_training() -> None:
    suspect = flagged(earlier(1), 100)
    history = [*daily([100] * 7), suspect]
    assert judge(history, 100).verdict == "insufficient_history"
    back = judge(history, 100, acknowledged_runs={suspect["run_id"]})
    assert (back.verdict, back.training_points) == ("ok", 8)


def test_dry_run_and_offline_runs_train_only_their_own_mode() -> None:
    live = daily([100] * 8)
    dry = daily([500] * 8, hour=13, mode="dry_run")
    offline = daily([7] * 8, hour=14, mode="offline")
    history = live + dry + offline
    assert judge(history, 100).training_points == 8
    dry_result = verdict_of(detect_anomalies(history, make_run(NOW, 100, mode="dry_run"), CONFIG))
    assert dry_result.training_points == 16
    report = detect_anomalies(history, make_run(NOW, 7, mode="offline"), CONFIG)
    assert (verdict_of(report).training_points, verdict_of(report).median) == (8, 7.0)


def two_providers(at: datetime, shopify: int, ebay: int, ebay_status: str = "ok") -> dict:
    providers = {
        "shopify": {"status": "ok", "fetched": shopify, "new": 1},
        "ebay": {"status": ebay_status, "fetched": ebay, "new": 1},
        "amazon": {"status": "skipped", "reason": "missing AMAZON_CREATORS_CREDENTIAL_ID"},
    }
    return make_run(at, providers=providers)


def test_total_sums_attempted_providers_of_comparable_runs() -> None:
    history = [two_providers(NOW - timedelta(days=d), 100, 200) for d in range(1, 10)]
    history.append(two_providers(earlier(2), 100, 0, ebay_status="failed"))
    current = two_providers(NOW, 100, 0, ebay_status="failed")
    report = detect_anomalies(history, current, CONFIG)
    assert {(v.provider, v.metric) for v in report.verdicts} == {
        ("shopify", "new"),
        ("shopify", "fetched"),
        ("total", "new"),
        ("total", "fetched"),
    }
    total = verdict_of(report, "total")
    assert (total.value, total.median, total.training_points) == (100, 300.0, 9)
    assert (total.verdict, total.z) == ("alert", pytest.approx(-200 / 30))
    assert verdict_of(report).training_points == 10
    assert report.worst == "alert"
    assert report.alerts == [total]


def test_missing_counter_gives_no_verdict_for_that_metric() -> None:
    report = detect_anomalies(daily([100] * 8), make_run(NOW, 100, new=None), CONFIG)
    assert [(v.provider, v.metric) for v in report.verdicts] == [
        ("shopify", "fetched"),
        ("total", "new"),
        ("total", "fetched"),
    ]


def test_current_run_needs_a_start_time() -> None:
    with pytest.raises(ValueError, match="no usable started_at"):
        detect_anomalies([], {"run_id": "nope", "providers": {}}, CONFIG)


def test_run_time_falls_back_to_the_run_id() -> None:
    assert run_time({"run_id": "20261121T234500Z-1a2b3c"}) == datetime(
        2026, 11, 21, 23, 45, tzinfo=UTC
    )
    assert run_time({"started_at": "2026-11-21T23:45:00Z"}) == datetime(
        2026, 11, 21, 23, 45, tzinfo=UTC
    )
    assert run_time({"started_at": "garbage"}) is None


def test_to_dict_shape_round_trips_through_json() -> None:
    report = detect_anomalies(daily(VARIED), make_run(NOW, 135), CONFIG)
    data = json.loads(json.dumps(report.to_dict()))
    assert data["version"] == 1
    assert data["worst"] == "warn"
    assert data["config"]["metrics"] == ["new", "fetched"]
    fetched = next(v for v in data["verdicts"] if v["metric"] == "fetched")
    assert fetched == {
        "provider": "shopify",
        "metric": "fetched",
        "value": 135,
        "verdict": "warn",
        "z": 3.5,
        "median": 100.0,
        "scale": 10.0,
        "warn_lower": 70.0,
        "warn_upper": 130.0,
        "alert_lower": 50.0,
        "alert_upper": 150.0,
        "training_points": 10,
        "seasonal": True,
    }


def test_a_stored_verdict_flags_the_run_for_the_next_one() -> None:
    spike = make_run(earlier(1), 900)
    before = [make_run(earlier(1) - timedelta(days=d), 100) for d in range(1, 9)]
    spike["anomaly"] = detect_anomalies(before, spike, CONFIG).to_dict()
    assert spike["anomaly"]["worst"] == "alert"
    result = judge([*daily([100] * 8), spike], 100)
    assert (result.training_points, result.median) == (8, 100.0)


def test_worst_ranks_verdicts() -> None:
    def report(*verdicts: str) -> AnomalyReport:
        return AnomalyReport([Verdict("p", "new", 1, v) for v in verdicts])

    assert report().worst == "ok"
    assert report("ok", "insufficient_history").worst == "insufficient_history"
    assert report("insufficient_history", "warn", "ok").worst == "warn"
    assert report("warn", "alert").worst == "alert"


def test_config_from_table() -> None:
    assert AnomalyConfig.from_table({}) == AnomalyConfig()
    assert AnomalyConfig.from_table(None) == AnomalyConfig()
    config = AnomalyConfig.from_table(
        {"window_days": 28, "warn_z": 2.5, "alert_z": 4, "metrics": ["fetched", "written"]}
    )
    assert (config.window_days, config.warn_z, config.alert_z) == (28, 2.5, 4)
    assert config.metrics == ("fetched", "written")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"warn_zz": 3}, "anomaly.warn_zz: unknown key"),
        ({"warn_z": "3"}, "anomaly.warn_z: expected a number, got '3'"),
        ({"warn_z": float("nan")}, "anomaly.warn_z: expected a number"),
        ({"window_days": 1.5}, "anomaly.window_days: expected an integer, got 1.5"),
        ({"min_history": True}, "anomaly.min_history: expected an integer, got True"),
        ({"metrics": "new"}, "anomaly.metrics: expected a non-empty list"),
        ({"metrics": []}, "anomaly.metrics: expected a non-empty list"),
        ({"metrics": ["new", "bogus"]}, "anomaly.metrics: unknown counter(s) ['bogus']"),
        ({"metrics": ["new", "new"]}, "anomaly.metrics: duplicate names"),
        ({"slot_hours": 5}, "anomaly.slot_hours: must divide 24"),
        ({"window_days": 0}, "anomaly.window_days: must be at least 1"),
        ({"warn_z": 6}, "anomaly.alert_z: must be at least warn_z"),
        ({"min_rel_change": -0.1}, "anomaly.min_rel_change: must not be negative"),
    ],
)
def test_config_errors_name_the_key(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        AnomalyConfig.from_table(table)
    assert message in str(error.value)


def test_config_errors_are_reported_together() -> None:
    with pytest.raises(ConfigError) as error:
        AnomalyConfig.from_table({"nope": 1, "warn_z": "x", "slot_hours": "6"})
    text = str(error.value)
    assert "anomaly.nope" in text
    assert "anomaly.warn_z" in text
    assert "anomaly.slot_hours" in text


def test_read_run_log_skips_a_truncated_last_line(tmp_path, caplog) -> None:
    path = tmp_path / "runs.jsonl"
    runs = daily([100, 101])
    text = "".join(json.dumps(r) + "\n" for r in runs) + "\n" + json.dumps(runs[0])[:40]
    path.write_text(text, encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="pipeline.anomaly"):
        assert read_run_log(path) == runs
    assert "line 4 skipped" in caplog.text


def test_read_run_log_survives_a_cut_multibyte_character(tmp_path) -> None:
    path = tmp_path / "runs.jsonl"
    good = json.dumps({"run_id": "a", "note": "é"}, ensure_ascii=False).encode()
    path.write_bytes(good + b"\n" + good[:-4])
    assert read_run_log(path) == [{"run_id": "a", "note": "é"}]


def test_read_run_log_missing_file_and_non_objects(tmp_path) -> None:
    assert read_run_log(tmp_path / "absent.jsonl") == []
    path = tmp_path / "runs.jsonl"
    path.write_text('[1, 2]\n{"run_id": "x"}\n')
    assert read_run_log(path) == [{"run_id": "x"}]


@given(
    history=st.lists(st.integers(0, 5000), min_size=8, max_size=30),
    a=st.integers(0, 10_000),
    b=st.integers(0, 10_000),
)
@settings(max_examples=200, deadline=None)
def test_severity_grows_with_distance_from_the_median(history: list[int], a: int, b: int) -> None:
    runs = daily(history[:13]) + daily(history[13:], hour=3)
    near, far = sorted((judge(runs, a), judge(runs, b)), key=lambda v: abs(v.value - v.median))
    if (near.value - near.median) * (far.value - far.median) >= 0:  # same side of the median
        assert SEVERITY.index(near.verdict) <= SEVERITY.index(far.verdict)
    assert near.alert_lower <= near.warn_lower <= near.median <= near.warn_upper
    assert near.warn_upper < near.alert_upper
