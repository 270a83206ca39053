"""The run history the detector trains on: which runs count, the total, the run log file."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest

from pipelines.checks.anomaly import detect_anomalies
from pipelines.checks.history import read_run_log, run_time
from tests.pipelines.anomaly_helpers import CONFIG, NOW, daily, judge, make_run, verdict_of


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


def test_a_stored_verdict_flags_the_run_for_the_next_one() -> None:
    spike = make_run(earlier(1), 900)
    before = [make_run(earlier(1) - timedelta(days=d), 100) for d in range(1, 9)]
    spike["anomaly"] = detect_anomalies(before, spike, CONFIG).to_dict()
    assert spike["anomaly"]["worst"] == "alert"
    result = judge([*daily([100] * 8), spike], 100)
    assert (result.training_points, result.median) == (8, 100.0)


def test_run_time_falls_back_to_the_run_id() -> None:
    assert run_time({"run_id": "20261121T234500Z-1a2b3c"}) == datetime(
        2026, 11, 21, 23, 45, tzinfo=UTC
    )
    assert run_time({"started_at": "2026-11-21T23:45:00Z"}) == datetime(
        2026, 11, 21, 23, 45, tzinfo=UTC
    )
    assert run_time({"started_at": "garbage"}) is None


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
