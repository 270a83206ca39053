"""Prometheus metrics of a run: per run, provider and step.

Three ways out, one set of metric families (``grafana/dashboard.json`` charts them):

* ``write_textfile``: the node exporter's textfile-collector format (``--metrics-file``),
* ``push``: to a Pushgateway (``PROMETHEUS_PUSHGATEWAY``), one group per job and mode (and
  per shard, ``--shard K/N``), replaced per push,
* ``serve``: an HTTP endpoint on 127.0.0.1 while a run is going (``--prometheus-port``),
  scraping ``live_registry``, which reads the run's checkpoint at every scrape.

Every value describes one run, so the families are gauges; the run id is only a label of
``product_pipeline_run_info``, which keeps the number of series fixed. Every series carries
the run's ``mode`` (``live``, ``demo``, ...), so that demo runs never mix with live ones on a
dashboard or in an alert. ``product_pipeline_last_success_timestamp_seconds`` comes from the
run history, so that a failed run does not hide when the last good one ended. A sharded run's
record names its shard: every sample then carries a ``shard`` label, and its Pushgateway group
adds it, so that the legs of one run do not replace each other's metrics.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from threading import Thread
from typing import Any
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    push_to_gateway,
    start_http_server,
    write_to_textfile,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from pipelines.net.secrets import mask

log = logging.getLogger("pipeline.metrics")

PREFIX = "product_pipeline"
PUSHGATEWAY_ENV = "PROMETHEUS_PUSHGATEWAY"
ROW_KINDS = (
    "fetched",
    "new",
    "changed",
    "unchanged",
    "quarantined",
    "dropped",
    "deleted",
    "written",
)
STEP_STATUSES = ("pending", "running", "done", "failed")
PUSH_TIMEOUT_SECONDS = 10

Source = Callable[[], tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]]


def _gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}_{name}", doc, labels=labels)


def _timestamp(text: str | None) -> float | None:
    return datetime.fromisoformat(text).timestamp() if text else None


def last_success(record: Mapping[str, Any], history: Iterable[Mapping[str, Any]]) -> float | None:
    """When the latest successful run (exit code 0, not a dry run) of ``record``'s mode ended."""
    ends = [
        _timestamp(run.get("ended_at"))
        for run in (*history, record)
        if run.get("mode") == record.get("mode")
        and run.get("exit_code") == 0
        and not (run.get("args") or {}).get("dry_run")
        and run.get("ended_at")
    ]
    return max(ends, default=None)


def run_families(record: Mapping[str, Any], success: float | None = None) -> list[Metric]:
    """Run-level gauges: identity, duration, exit code, end time, last success, anomaly alerts."""
    mode = [str(record.get("mode", "unknown"))]
    info = _gauge("run_info", "The run these metrics describe (always 1).", ["run_id", "mode"])
    info.add_metric([str(record.get("run_id")), mode[0]], 1)
    duration = _gauge("run_duration_seconds", "Wall time of the run.", ["mode"])
    duration.add_metric(mode, float(record.get("duration_seconds") or 0))
    exit_code = _gauge(
        "run_exit_code", "Exit code of the run (0 ok, see docs/reference.md).", ["mode"]
    )
    exit_code.add_metric(mode, float(record.get("exit_code") or 0))
    ended = _gauge("run_end_timestamp_seconds", "When the run ended (Unix time).", ["mode"])
    end = _timestamp(record.get("ended_at"))
    if end is not None:
        ended.add_metric(mode, end)
    succeeded = _gauge("last_success_timestamp_seconds",
                       "When the latest run with exit code 0 of this mode ended (Unix time).",
                       ["mode"])  # fmt: skip
    if success is not None:
        succeeded.add_metric(mode, success)
    verdicts = (record.get("anomaly") or {}).get("verdicts", [])
    alerts = _gauge("anomaly_alerts", "Volume anomaly alerts raised by the run.", ["mode"])
    alerts.add_metric(mode, sum(v.get("verdict") == "alert" for v in verdicts))
    return [info, duration, exit_code, ended, succeeded, alerts]


def provider_families(record: Mapping[str, Any]) -> list[Metric]:
    """Per-provider gauges: rows by kind, API calls, retries, errors, status, anomaly z."""
    rows = _gauge("rows", "Rows of the run by provider and kind (fetched, new, ...).",
                  ["provider", "kind"])  # fmt: skip
    calls = _gauge("api_calls", "API calls made (cache hits excluded).", ["provider"])
    retries = _gauge("retries", "HTTP retries (429, 5xx, connection errors).", ["provider"])
    errors = _gauge("errors", "Errors recorded for the provider.", ["provider"])
    status = _gauge("provider_status", "The provider's outcome (1 for its status).",
                    ["provider", "status"])  # fmt: skip
    for name, entry in record.get("providers", {}).items():
        for kind in ROW_KINDS:
            rows.add_metric([name, kind], float(entry.get(kind, 0)))
        calls.add_metric([name], float(entry.get("api_calls", 0)))
        retries.add_metric([name], float(entry.get("retries", 0)))
        failed = entry.get("status") not in ("ok", "skipped")
        errors.add_metric([name], float(max(len(entry.get("errors", [])), int(failed))))
        status.add_metric([name, str(entry.get("status"))], 1)
    z_score = _gauge("anomaly_z_score", "Robust z score of a volume metric against its history.",
                     ["dataset", "provider", "metric"])  # fmt: skip
    for verdict in (record.get("anomaly") or {}).get("verdicts", []):
        if verdict.get("z") is not None:
            labels = [verdict.get("dataset") or "products", verdict["provider"], verdict["metric"]]
            z_score.add_metric(labels, float(verdict["z"]))
    return [rows, calls, retries, errors, status, z_score, completeness_family(record),
            dataset_family(record)]  # fmt: skip


def dataset_family(record: Mapping[str, Any]) -> Metric:
    """Rows of the datasets beyond products, per pull and table: ``new``, ``changed`` and
    ``unchanged`` of each table, and the pull's ``records``, ``quarantined`` and ``dropped``
    (counted per raw record) under the table ``*``."""
    rows = _gauge("dataset_rows", "Rows of a dataset beyond products by table and kind.",
                  ["dataset", "provider", "table", "kind"])  # fmt: skip
    for pull, entry in (record.get("datasets") or {}).items():
        dataset, _, provider = pull.partition(".")
        for kind in ("records", "quarantined", "dropped"):
            if isinstance(entry.get(kind), int):
                rows.add_metric([dataset, provider, "*", kind], float(entry[kind]))
        for table, counts in (entry.get("tables") or {}).items():
            for kind in ("new", "changed", "unchanged"):
                if isinstance(counts.get(kind), int):
                    rows.add_metric([dataset, provider, table, kind], float(counts[kind]))
    return rows


def completeness_family(record: Mapping[str, Any]) -> Metric:
    """What each source said it held, what could be read and what was read, per object kind."""
    counts = _gauge("source_objects", "Completeness counts of a pull (source, expected, read).",
                    ["provider", "what", "count"])  # fmt: skip
    for name, entry in record.get("providers", {}).items():
        for count in entry.get("completeness") or ():
            for kind in ("source", "expected", "read"):
                counts.add_metric([name, str(count.get("what")), kind], float(count.get(kind, 0)))
    return counts


def budget_family(record: Mapping[str, Any]) -> Metric:
    """API calls (or Shopify cost points) each provider may still spend today (providers with
    a daily budget only); the ``unit`` label says which."""
    left = _gauge("api_budget_remaining", "API calls (unit=calls) or query cost points "
                  "(unit=points) left in the provider's daily budget (UTC day) after the run.",
                  ["provider", "unit"])  # fmt: skip
    for name, entry in record.get("providers", {}).items():
        budget = entry.get("budget") or {}
        if budget.get("limit"):
            unit = str(budget.get("unit") or "calls")
            left.add_metric([name, unit], float(budget.get("remaining", 0)))
    return left


def sink_family(record: Mapping[str, Any]) -> Metric:
    """Run-log sinks after the run: records delivered, refused, and queued for the next run."""
    sinks = _gauge("runlog_sink_records", "Run records per run-log sink and state "
                   "(delivered, refused, pending).", ["sink", "state"])  # fmt: skip
    for name, counts in (record.get("sinks") or {}).items():
        for state in ("delivered", "refused", "pending"):
            sinks.add_metric([name, state], float(counts.get(state, 0)))
    return sinks


def step_families(checkpoint: Mapping[str, Any]) -> list[Metric]:
    """Per-step gauges from the run's checkpoint: status, duration, retries."""
    status = _gauge("step_status", "The step's status (1 for the current one).", ["step", "status"])
    duration = _gauge("step_duration_seconds", "Wall time of the step's last attempt.", ["step"])
    retries = _gauge("step_retries", "Attempts of the step beyond the first.", ["step"])
    for name, step in checkpoint.get("steps", {}).items():
        for value in STEP_STATUSES:
            status.add_metric([name, value], float(step.get("status") == value))
        if step.get("duration_seconds") is not None:
            duration.add_metric([name], float(step["duration_seconds"]))
        retries.add_metric([name], float(max(int(step.get("attempts") or 0) - 1, 0)))
    return [status, duration, retries]


def with_mode(family: Metric, mode: str | None) -> Metric:
    """``family`` with a ``mode`` label on every sample that lacks one."""
    if mode is not None:
        family.samples = [
            s if "mode" in s.labels else s._replace(labels={**s.labels, "mode": mode})
            for s in family.samples
        ]
    return family


def shard_of(record: Mapping[str, Any] | None) -> str | None:
    """The shard (``K/N``) a run-log record names, if the run was sharded."""
    return str(record["shard"]) if record and record.get("shard") else None


class RunCollector(Collector):
    """Yields the families of whatever ``source`` returns at collection time; a sharded
    record's samples carry its ``shard`` label."""

    def __init__(self, source: Source, success: float | None = None) -> None:
        self.source, self.success = source, success

    def collect(self) -> Iterator[Metric]:
        record, checkpoint = self.source()
        families: list[Metric] = []
        if record is not None:
            families += run_families(record, self.success) + provider_families(record)
            families += [budget_family(record), sink_family(record)]
        if checkpoint is not None:
            families += step_families(checkpoint)
        mode = (record or {}).get("mode") or ((checkpoint or {}).get("options") or {}).get("mode")
        shard = shard_of(record)
        for family in families:
            family = with_mode(family, mode)
            if shard:
                family.samples = [sample._replace(labels={**sample.labels, "shard": shard})
                                  for sample in family.samples]  # fmt: skip
            yield family


def run_metrics_registry(
    record: Mapping[str, Any],
    checkpoint: Mapping[str, Any] | None,
    history: Iterable[Mapping[str, Any]] = (),
) -> CollectorRegistry:
    """A registry holding the metrics of one finished run (``record``: its run-log record;
    ``history``: the runs before it, for the last successful one)."""
    registry = CollectorRegistry()
    registry.register(RunCollector(lambda: (record, checkpoint), last_success(record, history)))
    return registry


def live_registry(checkpoint_path: Path) -> CollectorRegistry:
    """A registry whose step metrics are read from ``checkpoint_path`` at every scrape."""

    def read() -> tuple[None, dict[str, Any] | None]:
        try:
            return None, json.loads(checkpoint_path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):  # not yet written, or mid-replace
            return None, None

    registry = CollectorRegistry()
    registry.register(RunCollector(read))
    return registry


def write_textfile(path: Path | str, registry: CollectorRegistry) -> None:
    """Write ``registry`` for the node exporter's textfile collector (atomically: temp + rename)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_to_textfile(str(path), registry)


def push(
    url: str,
    registry: CollectorRegistry,
    job: str = "product_pipeline",
    mode: str = "live",
    shard: str | None = None,
) -> None:
    """Replace the ``job``/``mode`` group (plus ``shard`` for a sharded run) on the Pushgateway
    at ``url`` with ``registry``: a demo run never replaces the live run's metrics, nor one
    shard another's."""
    grouping = {"mode": mode, **({"shard": shard} if shard else {})}
    push_to_gateway(url, job=job, registry=registry, grouping_key=grouping,
                    timeout=PUSH_TIMEOUT_SECONDS)  # fmt: skip


@dataclass
class MetricsServer:
    """A running ``/metrics`` endpoint; call it to stop it."""

    server: WSGIServer
    thread: Thread

    @property
    def port(self) -> int:
        return self.server.server_port

    def __call__(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def serve(port: int, registry: CollectorRegistry | None = None) -> MetricsServer:
    """Serve ``registry`` (default: the process's) on 127.0.0.1:``port``; returns the stopper."""
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry or REGISTRY)
    return MetricsServer(server, thread)


def export_run_metrics(
    record: Mapping[str, Any],
    checkpoint: Mapping[str, Any] | None,
    env: Mapping[str, str],
    metrics_file: Path | None = None,
    history: Iterable[Mapping[str, Any]] = (),
) -> None:
    """After a run: write ``metrics_file`` if given, push if ``PROMETHEUS_PUSHGATEWAY`` is set.

    Neither a file that cannot be written nor a Pushgateway that cannot be reached fails
    the run (its data is committed by now): each is a warning naming it.
    """
    registry = run_metrics_registry(record, checkpoint, history)
    if metrics_file is not None:
        try:
            write_textfile(metrics_file, registry)
        except OSError as exc:
            log.warning("could not write --metrics-file %s: %s", metrics_file, exc)
    url = env.get(PUSHGATEWAY_ENV)
    if url:
        try:
            push(url, registry, mode=str(record.get("mode", "live")), shard=shard_of(record))
        except OSError as exc:
            log.warning("could not push metrics to %s: %s", PUSHGATEWAY_ENV, mask(str(exc)))
