"""Run-log sinks: CloudWatch Logs (moto's server), an OpenSearch ``_bulk`` endpoint and a JSON
webhook (fakes on 127.0.0.1); the on-disk queue, retries of failed items only, idempotency."""

from __future__ import annotations

import json
import logging
import re
import socket
from pathlib import Path
from typing import Any

import boto3
import pytest

from pipelines.errors import ConfigError
from pipelines.ops.sink_config import parse_sinks
from pipelines.ops.sinks import SinkQueue, deliver_run
from tests.fakes import runlog_sinks
from tests.fakes import s3 as fake_s3
from tests.fakes.runlog_sinks import PASSWORD, USER, FakeOpenSearch
from tests.fakes.s3 import FakeS3

opensearch, webhook = runlog_sinks.opensearch, runlog_sinks.webhook  # the fakes' fixtures
s3_server = fake_s3.s3_server

TOKEN = "hook-token-8d1f22c9a7"  # pragma: allowlist secret
ENV = {"OPENSEARCH_USERNAME": USER, "OPENSEARCH_PASSWORD": PASSWORD,
       "PIPELINE_SINK_HTTP_TOKEN": TOKEN}  # fmt: skip


def record(run_id: str, written: int = 5) -> dict[str, Any]:
    return {"run_id": run_id, "mode": "live", "exit_code": 0,
            "started_at": "2026-12-05T10:00:00+00:00", "ended_at": "2026-12-05T10:01:00+00:00",
            "providers": {"shopify": {"status": "ok", "written": written}}}  # fmt: skip


def settings(*targets: dict[str, Any], **delivery: Any):
    return parse_sinks({"runlog": {"backoff_seconds": 0, "deadline_seconds": 10, **delivery,
                                   "targets": list(targets)}})  # fmt: skip


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_sink_down_for_one_run_gets_the_record_with_the_next(tmp_path: Path, webhook) -> None:
    config = settings({"kind": "http", "url": webhook.url + "/runs"})
    webhook.down = True
    first = deliver_run(record("run-1"), config, ENV, tmp_path)
    assert first == {"http": {"delivered": 0, "refused": 0, "pending": 1}}
    assert len(webhook.requests) == 3  # three attempts, all answered 503
    assert (tmp_path / "sinks/http/pending/run-1.json").exists()
    webhook.down = False
    second = deliver_run(record("run-2"), config, ENV, tmp_path)
    assert second == {"http": {"delivered": 2, "refused": 0, "pending": 0}}
    assert [doc["run_id"] for _, doc in webhook.received] == ["run-1", "run-2"]
    headers = webhook.received[0][0]
    assert headers["Idempotency-Key"] == "run-1"
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert not list((tmp_path / "sinks/http/pending").iterdir())


def test_an_unreachable_sink_never_fails_the_run_and_is_bounded(tmp_path: Path, caplog) -> None:
    config = settings({"kind": "http", "url": f"http://127.0.0.1:{closed_port()}/runs"},
                      attempts=2)  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="pipeline.sinks"):
        outcome = deliver_run(record("run-1"), config, ENV, tmp_path)
    assert outcome["http"]["pending"] == 1
    assert "1 record(s) queued for the next run" in caplog.text


def test_resending_the_same_run_does_not_duplicate_it(tmp_path: Path, webhook, opensearch) -> None:
    config = settings({"kind": "http", "url": webhook.url},
                      {"kind": "opensearch", "url": opensearch.url, "index": "runs"})  # fmt: skip
    for _ in range(3):
        deliver_run(record("run-1"), config, ENV, tmp_path)
    assert len(webhook.received) == 1
    assert opensearch.bulk_requests() == [["run-1"]]
    assert list(opensearch.docs) == [("runs", "run-1")]
    changed = deliver_run(record("run-1", written=9), config, ENV, tmp_path)  # a resumed run
    assert changed["opensearch"]["delivered"] == 1
    assert opensearch.docs[("runs", "run-1")]["providers"]["shopify"]["written"] == 9
    assert len(opensearch.docs) == 1  # the same document, replaced


def test_opensearch_partial_errors_retry_only_the_failed_items(tmp_path: Path, opensearch) -> None:
    config = settings({"kind": "opensearch", "url": opensearch.url})
    for run_id in ("run-1", "run-2"):  # left queued by earlier runs
        SinkQueue(tmp_path, "opensearch", 1000).put(record(run_id))
    opensearch.item_failures = {"run-2": 429, "run-3": 400}
    outcome = deliver_run(record("run-3"), config, ENV, tmp_path)
    assert opensearch.bulk_requests() == [["run-1", "run-2", "run-3"], ["run-2"]]
    assert outcome == {"opensearch": {"delivered": 2, "refused": 1, "pending": 0}}
    assert sorted(i for _, i in opensearch.docs) == ["run-1", "run-2"]


def test_opensearch_rejecting_the_credentials_keeps_the_record_queued(
    tmp_path: Path, opensearch, caplog
) -> None:
    config = settings({"kind": "opensearch", "url": opensearch.url})
    wrong = {**ENV, "OPENSEARCH_PASSWORD": "not-the-password-31"}  # pragma: allowlist secret
    with caplog.at_level(logging.INFO, logger="pipeline.sinks"):
        outcome = deliver_run(record("run-1"), config, wrong, tmp_path)
    assert outcome["opensearch"]["pending"] == 1
    assert "security_exception" in caplog.text
    assert "not-the-password-31" not in caplog.text
    assert deliver_run(None, config, ENV, tmp_path)["opensearch"]["delivered"] == 1


def test_cloudwatch_creates_the_group_and_stream_and_does_not_duplicate(
    tmp_path: Path, s3_server: FakeS3, monkeypatch
) -> None:
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    config = settings({"kind": "cloudwatch", "group": "/pipeline/runs", "stream": "runs",
                       "region": "us-east-1"})  # fmt: skip
    assert deliver_run(record("run-1"), config, {}, tmp_path)["cloudwatch"]["delivered"] == 1
    deliver_run(record("run-1"), config, {}, tmp_path)
    assert deliver_run(record("run-2"), config, {}, tmp_path)["cloudwatch"]["delivered"] == 1
    logs = boto3.client("logs", endpoint_url=s3_server.url, region_name="us-east-1")
    events = logs.get_log_events(logGroupName="/pipeline/runs", logStreamName="runs")["events"]
    assert [json.loads(e["message"])["run_id"] for e in events] == ["run-1", "run-2"]


def test_cloudwatch_unreachable_queues_the_record(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-access-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret-key")  # pragma: allowlist secret
    endpoint = f"http://127.0.0.1:{closed_port()}"
    config = settings({"kind": "cloudwatch", "group": "g", "region": "us-east-1",
                       "endpoint_url": endpoint}, attempts=1)  # fmt: skip
    assert deliver_run(record("run-1"), config, {}, tmp_path)["cloudwatch"]["pending"] == 1


def test_records_are_masked_before_they_leave(tmp_path: Path, webhook) -> None:
    config = settings({"kind": "http", "url": webhook.url})
    leaky = record("run-1")
    leaky["providers"]["shopify"]["error"] = f"401 with token {TOKEN}"
    deliver_run(leaky, config, ENV, tmp_path)
    assert TOKEN not in json.dumps(webhook.received[0][1])
    assert TOKEN not in (tmp_path / "sinks/http/sent.json").read_text()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"runlog": {"targets": [{"kind": "kafka"}]}}, "targets[0].kind: expected one of"),
        ({"runlog": {"targets": [{"kind": "http"}]}}, "targets[0].url: expected a non-empty"),
        ({"runlog": {"targets": [{"kind": "http", "url": "u", "token": "x"}]}},
         "targets[0].token: unknown key"),
        ({"runlog": {"attempts": -1, "targets": []}},
         "sinks.runlog.attempts: expected a whole number of at least 0, got -1"),
        ({"runlog": {"targets": [{"kind": "http", "url": "a"}, {"kind": "http", "url": "b"}]}},
         "name 'http' is used twice"),
    ],
)  # fmt: skip
def test_bad_sink_settings_name_their_key(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_sinks(table)


def test_a_run_sends_its_record_and_exports_the_sink_counts(tmp_path: Path, webhook) -> None:
    from tests.pipelines.test_cli import clean_env, cli

    (tmp_path / "pipeline.toml").write_text(
        f'[[sinks.runlog.targets]]\nkind = "http"\nurl = "{webhook.url}/runs"\n'
    )
    result = cli("--offline", "--metrics-file", "m.prom", cwd=tmp_path, env=clean_env())
    assert result.returncode == 0, result.stderr
    run_ids = [json.loads(line)["run_id"] for line in (tmp_path / "logs/demo/runs.jsonl").open()]
    assert [doc["run_id"] for _, doc in webhook.received] == run_ids
    text = (tmp_path / "m.prom").read_text()
    delivered = (
        r'product_pipeline_runlog_sink_records\{(?=[^}]*sink="http")(?=[^}]*state="delivered")'
    )
    assert re.search(delivered + r"[^}]*\} 1\.0", text)  # every series also carries its mode


def test_no_sinks_configured_sends_nothing(tmp_path: Path, opensearch: FakeOpenSearch) -> None:
    assert deliver_run(record("run-1"), parse_sinks({}), ENV, tmp_path) == {}
    assert not (tmp_path / "sinks").exists()


def test_run_step_report_sends_the_record(tmp_path: Path, webhook, monkeypatch) -> None:
    from pipelines.cli.main import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "pipeline.toml").write_text(
        f'[[sinks.runlog.targets]]\nkind = "http"\nurl = "{webhook.url}/runs"\n'
    )
    run_id = "20261122T010000Z-abcdef"
    steps = ["extract.shopify", "normalize.shopify", "quality", "write", "detect", "report"]
    assert (
        main(["run-step", steps[0], "--run-id", run_id, "--offline", "--providers", "shopify"]) == 0
    )
    for step in steps[1:]:
        assert main(["run-step", step, "--run-id", run_id]) == 0, step
        assert bool(webhook.received) == (step == "report")  # only once the record exists
    assert [doc["run_id"] for _, doc in webhook.received] == [run_id]
