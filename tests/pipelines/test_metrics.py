"""Prometheus metrics of a run: textfile, Pushgateway, live endpoint, and the Grafana dashboard."""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from pipelines.ops.metrics import (
    export_run_metrics,
    live_registry,
    push,
    run_metrics_registry,
    serve,
    write_textfile,
)

REPO = Path(__file__).resolve().parents[2]
RUN_ID = "20261122T001500Z-a1b2c3"


def provider(status: str = "ok", **counts: Any) -> dict[str, Any]:
    entry = {"status": status, "fetched": 0, "new": 0, "changed": 0, "unchanged": 0,
             "quarantined": 0, "dropped": 0, "deleted": 0, "written": 0, "api_calls": 0,
             "retries": 0, "errors": []}  # fmt: skip
    entry.update(counts)
    return entry


RECORD = {
    "run_id": RUN_ID,
    "mode": "live",
    "started_at": "2026-11-22T00:15:00+00:00",
    "ended_at": "2026-11-22T00:16:40+00:00",
    "duration_seconds": 100.5,
    "exit_code": 1,
    "providers": {
        "shopify": provider(fetched=74, new=71, quarantined=3, written=71, api_calls=7, retries=2),
        "ebay": provider(
            "failed",
            api_calls=3,
            errors=["503 from eBay", "gave up"],
            budget={"day": "2026-11-22", "limit": 5000, "used": 3, "remaining": 4997},
        ),
        "amazon": provider("failed", api_calls=1),
    },
    "anomaly": {
        "worst": "alert",
        "verdicts": [
            {"provider": "shopify", "metric": "new", "verdict": "alert", "z": 6.25},
            {"provider": "shopify", "metric": "fetched", "verdict": "ok", "z": -0.5},
            {"provider": "ebay", "metric": "new", "verdict": "insufficient_history", "z": None},
        ],
    },
    "sinks": {"opensearch": {"delivered": 1, "refused": 0, "pending": 2}},
}
CHECKPOINT = {
    "run_id": RUN_ID,
    "steps": {
        "extract.shopify": {"status": "done", "attempts": 3, "duration_seconds": 12.5},
        "normalize.shopify": {"status": "done", "attempts": 1, "duration_seconds": 0.75},
        "quality": {"status": "running", "attempts": 1, "duration_seconds": None},
        "write": {"status": "pending", "attempts": 0},
    },
}


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of an exposition text, keyed by name and labels."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(text: str, name: str, **labels: str) -> float:
    return samples(text)[(name, frozenset(labels.items()))]


def test_registry_holds_run_provider_and_step_metrics() -> None:
    text = generate_latest(run_metrics_registry(RECORD, CHECKPOINT)).decode()
    assert value(text, "product_pipeline_run_info", run_id=RUN_ID, mode="live") == 1
    assert value(text, "product_pipeline_run_duration_seconds", mode="live") == 100.5
    assert value(text, "product_pipeline_run_exit_code", mode="live") == 1
    ended = datetime(2026, 11, 22, 0, 16, 40, tzinfo=UTC).timestamp()
    assert value(text, "product_pipeline_run_end_timestamp_seconds", mode="live") == ended
    assert (
        value(text, "product_pipeline_rows", mode="live", provider="shopify", kind="fetched") == 74
    )
    assert (
        value(text, "product_pipeline_rows", mode="live", provider="shopify", kind="quarantined")
        == 3
    )
    assert value(text, "product_pipeline_api_calls", mode="live", provider="ebay") == 3
    assert value(text, "product_pipeline_retries", mode="live", provider="shopify") == 2
    assert value(text, "product_pipeline_errors", mode="live", provider="ebay") == 2
    assert (
        value(text, "product_pipeline_errors", mode="live", provider="amazon") == 1
    )  # failed, no message
    assert value(text, "product_pipeline_errors", mode="live", provider="shopify") == 0
    assert (
        value(
            text, "product_pipeline_provider_status", mode="live", provider="ebay", status="failed"
        )
        == 1
    )
    assert (
        value(
            text,
            "product_pipeline_anomaly_z_score",
            mode="live",
            dataset="products",
            provider="shopify",
            metric="new",
        )
        == 6.25
    )
    assert (
        value(
            text,
            "product_pipeline_api_budget_remaining",
            mode="live",
            provider="ebay",
            unit="calls",
        )
        == 4997
    )
    assert value(text, "product_pipeline_runlog_sink_records", mode="live", sink="opensearch",
                 state="pending") == 2  # fmt: skip
    no_z = (
        "product_pipeline_anomaly_z_score",
        frozenset({("dataset", "products"), ("provider", "ebay"), ("metric", "new")}),
    )
    assert no_z not in samples(text)  # insufficient history has no z score
    assert value(text, "product_pipeline_anomaly_alerts", mode="live") == 1
    assert (
        value(text, "product_pipeline_step_duration_seconds", mode="live", step="extract.shopify")
        == 12.5
    )
    assert value(text, "product_pipeline_step_retries", mode="live", step="extract.shopify") == 2
    assert value(text, "product_pipeline_step_retries", mode="live", step="write") == 0
    assert (
        value(text, "product_pipeline_step_status", mode="live", step="quality", status="running")
        == 1
    )
    assert (
        value(text, "product_pipeline_step_status", mode="live", step="quality", status="done") == 0
    )


def test_textfile_is_in_the_collector_format(tmp_path: Path) -> None:
    path = tmp_path / "textfile" / "product_pipeline.prom"
    write_textfile(path, run_metrics_registry(RECORD, None))
    text = path.read_text()
    assert "# TYPE product_pipeline_rows gauge" in text
    assert (
        value(text, "product_pipeline_rows", mode="live", provider="shopify", kind="written") == 71
    )
    assert "product_pipeline_step_" not in text  # no checkpoint, no step metrics
    assert [p.name for p in path.parent.iterdir()] == ["product_pipeline.prom"]


class _Recorder(BaseHTTPRequestHandler):
    requests: list[tuple[str, str, str]]

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"])).decode()
        self.requests.append((self.command, self.path, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def gateway() -> Iterator[tuple[str, list[tuple[str, str, str]]]]:
    """A stand-in Pushgateway on 127.0.0.1 that records what is pushed to it."""
    requests: list[tuple[str, str, str]] = []
    handler = type("Recorder", (_Recorder,), {"requests": requests})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", requests
    server.shutdown()
    server.server_close()


def test_push_replaces_the_jobs_group_of_its_mode_on_the_gateway(gateway) -> None:
    url, requests = gateway
    push(url, run_metrics_registry(RECORD, CHECKPOINT))
    ((method, path, body),) = requests
    assert (method, path) == ("PUT", "/metrics/job/product_pipeline/mode/live")
    assert value(body, "product_pipeline_api_calls", mode="live", provider="shopify") == 7


def test_shards_push_to_groups_of_their_own_with_a_shard_label(gateway) -> None:
    url, requests = gateway
    for shard in ("1/3", "2/3"):
        export_run_metrics({**RECORD, "shard": shard}, CHECKPOINT, {"PROMETHEUS_PUSHGATEWAY": url})
    # the Pushgateway's base64 form of a value with a slash: one group per shard, none replaced
    paths = [path for _, path, _ in requests]
    assert paths == [
        f"/metrics/job/product_pipeline/mode/live/shard@base64/{b}" for b in ("MS8z", "Mi8z")
    ]
    body = requests[1][2]
    assert (
        value(body, "product_pipeline_api_calls", mode="live", provider="shopify", shard="2/3") == 7
    )
    assert (
        value(
            body, "product_pipeline_step_retries", mode="live", step="extract.shopify", shard="2/3"
        )
        == 2
    )


def test_export_writes_the_file_and_pushes_when_the_gateway_is_set(tmp_path: Path, gateway) -> None:
    url, requests = gateway
    export_run_metrics(RECORD, CHECKPOINT, {"PROMETHEUS_PUSHGATEWAY": url}, tmp_path / "m.prom")
    assert len(requests) == 1
    assert "product_pipeline_run_info" in (tmp_path / "m.prom").read_text()
    export_run_metrics(RECORD, CHECKPOINT, {})
    assert len(requests) == 1  # no gateway set: nothing pushed
    export_run_metrics({**RECORD, "mode": "offline"}, CHECKPOINT, {"PROMETHEUS_PUSHGATEWAY": url})
    assert [path for _, path, _ in requests] == [
        "/metrics/job/product_pipeline/mode/live", "/metrics/job/product_pipeline/mode/offline",
    ]  # fmt: skip


def test_an_unreachable_gateway_is_a_warning_not_a_failure(
    gateway, caplog: pytest.LogCaptureFixture
) -> None:
    url, _ = gateway
    closed = url.rsplit(":", 1)[0] + ":1"
    with caplog.at_level(logging.WARNING, logger="pipeline.metrics"):
        export_run_metrics(RECORD, CHECKPOINT, {"PROMETHEUS_PUSHGATEWAY": closed})
    assert "could not push metrics to PROMETHEUS_PUSHGATEWAY" in caplog.text


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        return response.read().decode()


def test_serve_shows_the_checkpoint_as_it_changes_and_stops(tmp_path: Path) -> None:
    checkpoint = tmp_path / "checkpoint.json"
    stop = serve(0, live_registry(checkpoint))
    try:
        assert "product_pipeline_step_status{" not in scrape(stop.port)  # not written yet
        checkpoint.write_text(json.dumps(CHECKPOINT))
        assert value(scrape(stop.port), "product_pipeline_step_status", step="quality",
                     status="running") == 1  # fmt: skip
        done = json.loads(json.dumps(CHECKPOINT))
        done["steps"]["quality"].update(status="done", duration_seconds=0.5)
        checkpoint.write_text(json.dumps(done))
        assert value(scrape(stop.port), "product_pipeline_step_status", step="quality",
                     status="done") == 1  # fmt: skip
    finally:
        stop()
    with pytest.raises(urllib.error.URLError):
        scrape(stop.port)


def test_every_metric_in_the_dashboard_exists() -> None:
    dashboard = json.loads((REPO / "grafana/dashboard.json").read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {name for expr in exprs for name in re.findall(r"product_pipeline_\w+", expr)}
    succeeded = [{**RECORD, "exit_code": 0}]  # so that the last success is exported too
    text = generate_latest(run_metrics_registry(RECORD, CHECKPOINT, succeeded)).decode()
    exported = {name for name, _ in samples(text)}
    assert used, "the dashboard charts no metric"
    assert used <= exported, f"not exported: {sorted(used - exported)}"
    assert exported <= used, f"not charted: {sorted(exported - used)}"


def test_offline_run_writes_its_metrics_file_and_serves_then_frees_the_port(
    tmp_path: Path,
) -> None:
    from tests.pipelines.test_cli import cli

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = cli(
        "--offline", "--metrics-file", "m.prom", "--prometheus-port", str(port), cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "m.prom").read_text()
    assert 'product_pipeline_rows{kind="written",mode="offline",provider="shopify"}' in text
    assert 'product_pipeline_step_status{mode="offline",status="done",step="write"} 1.0' in text
    with socket.socket() as again:
        again.bind(("127.0.0.1", port))  # the endpoint stopped with the run


def test_last_success_comes_from_the_history_of_the_same_mode() -> None:
    def run(ended: str, code: int, mode: str = "live", dry: bool = False) -> dict[str, Any]:
        return {"mode": mode, "exit_code": code, "ended_at": f"2026-11-2{ended}T00:00:00+00:00",
                "args": {"dry_run": dry}}  # fmt: skip

    history = [run("0", 0), run("1", 0, mode="offline"), run("1", 0, dry=True), run("1", 3)]
    text = generate_latest(run_metrics_registry(RECORD, None, history)).decode()
    good = datetime(2026, 11, 20, tzinfo=UTC).timestamp()
    assert value(text, "product_pipeline_last_success_timestamp_seconds", mode="live") == good
    now = generate_latest(run_metrics_registry({**RECORD, "exit_code": 0}, None, history))
    ended = datetime(2026, 11, 22, 0, 16, 40, tzinfo=UTC).timestamp()
    assert (
        value(now.decode(), "product_pipeline_last_success_timestamp_seconds", mode="live") == ended
    )
    never = generate_latest(run_metrics_registry(RECORD, None)).decode()
    assert "product_pipeline_last_success_timestamp_seconds{" not in never


def test_every_series_carries_the_mode_so_demo_and_live_never_mix() -> None:
    for mode in ("live", "offline"):
        text = generate_latest(run_metrics_registry({**RECORD, "mode": mode}, CHECKPOINT)).decode()
        assert {dict(labels).get("mode") for _, labels in samples(text)} == {mode}


def test_the_live_endpoint_labels_steps_with_the_checkpoints_mode(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint.json"
    path.write_text(json.dumps(CHECKPOINT | {"options": {"mode": "offline"}}))
    text = generate_latest(live_registry(path)).decode()
    assert value(text, "product_pipeline_step_retries", mode="offline", step="write") == 0


def test_datasets_beyond_products_have_their_rows_and_z_scores_labelled() -> None:
    orders = {
        "status": "ok", "records": 6, "quarantined": 1, "dropped": 0,
        "tables": {"orders": {"new": 5, "changed": 1, "unchanged": 0},
                   "order_lines": {"new": 9, "changed": 0, "unchanged": 2}},
    }  # fmt: skip
    verdict = {"dataset": "orders", "provider": "shopify", "metric": "revenue_CAD",
               "day": "2026-11-21", "verdict": "alert", "z": -7.5}  # fmt: skip
    record = {**RECORD, "datasets": {"orders.shopify": orders},
              "anomaly": {"verdicts": [*RECORD["anomaly"]["verdicts"], verdict]}}  # fmt: skip
    text = generate_latest(run_metrics_registry(record, CHECKPOINT)).decode()
    rows = "product_pipeline_dataset_rows"
    common = {"mode": "live", "dataset": "orders", "provider": "shopify"}
    assert value(text, rows, **common, table="order_lines", kind="unchanged") == 2
    assert value(text, rows, **common, table="orders", kind="changed") == 1
    assert value(text, rows, **common, table="*", kind="quarantined") == 1
    z = "product_pipeline_anomaly_z_score"
    assert value(text, z, **common, metric="revenue_CAD") == -7.5
    assert value(text, "product_pipeline_anomaly_alerts", mode="live") == 2
