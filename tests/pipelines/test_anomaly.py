"""Volume anomaly detection on synthetic run-log histories."""

from __future__ import annotations

import json
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
)
from pipelines.errors import ConfigError
from tests.pipelines.anomaly_helpers import CONFIG, NOW, daily, judge, make_run, verdict_of

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
        ({"warn_zz": 3}, "anomaly.warn_zz: unknown key (known: window_days, "),
        ({"warn_z": "3"}, "anomaly.warn_z: expected a number above 0, got '3'"),
        ({"warn_z": float("nan")}, "anomaly.warn_z: expected a number"),
        ({"window_days": 1.5}, "anomaly.window_days: expected an integer of at least 1, got 1.5"),
        ({"min_history": True}, "anomaly.min_history: expected an integer of at least 1, got True"),
        ({"metrics": "new"}, "anomaly.metrics: expected a non-empty list"),
        ({"metrics": []}, "anomaly.metrics: expected a non-empty list"),
        (
            {"metrics": ["new", "bogus"]},
            "anomaly.metrics[1]: expected one of 'api_calls', 'changed'",
        ),
        ({"metrics": ["new", "new"]}, "anomaly.metrics: expected distinct counter names"),
        (
            {"slot_hours": 5},
            "anomaly.slot_hours: expected a divisor of 24: one of 1, 2, 3, 4, 6, 8, 12, 24, got 5",
        ),
        ({"window_days": 0}, "anomaly.window_days: expected an integer of at least 1, got 0"),
        ({"warn_z": 6}, "anomaly.alert_z: expected a number of at least warn_z (6), got 5.0"),
        (
            {"min_rel_change": -0.1},
            "anomaly.min_rel_change: expected a number of at least 0, got -0.1",
        ),
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
