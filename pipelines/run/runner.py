"""The runner: executes the step graph of ``pipelines/run/steps.py`` for one run.

A plain run executes every step in order in this process; a scheduler runs
them one at a time with ``run-step``; ``--resume`` continues a killed or failed
run. All three go through ``Runner.execute``, so the semantics are the same.
Each step reads its inputs from the run's work folder and the checkpoint and
records its outputs there; the runner wires the stages and does none of their
work.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from pipelines.checks.anomaly import AnomalyConfig
from pipelines.checks.quality_config import QualityConfig
from pipelines.checks.report import write_reports
from pipelines.checks.report_retention import prune_reports
from pipelines.config import PipelineConfig
from pipelines.errors import (
    ConfigError,
    DataQualityError,
    ProviderError,
    SinkError,
    WorkerError,
)
from pipelines.lake.datasets import DATASETS, PRODUCTS
from pipelines.lake.lake import Lake
from pipelines.lake.lock import LakeLock, default_holder
from pipelines.lake.runlease import RunLease, live_runs
from pipelines.lake.runlog import append_lake_run, append_run, read_lake_runs, read_runs
from pipelines.lake.state_repair import readable_state_meta
from pipelines.lake.table_integrity import check_table_manifests, check_table_states
from pipelines.net.retry import RetryBudget
from pipelines.net.secrets import mask
from pipelines.run.checkpoint import DONE, FAILED, Checkpoint, abandon_unfinished_runs
from pipelines.run.dataset_step import DatasetStep, planned_pulls
from pipelines.run.detect import (
    acknowledged_runs,
    describe_alerts,
    judge_volumes,
    mass_delete_alerts,
    shard_anomaly,
)
from pipelines.run.extract import Extractor
from pipelines.run.gate import gate_verdicts
from pipelines.run.normalize_step import normalize_step
from pipelines.run.notify import Notifier
from pipelines.run.options import (
    RunOptions,
    RunResult,
    check_run_options,
    lake_storage,
    new_run_id,
    select_providers,
    work_roots,
)
from pipelines.run.postgres import PostgresStep, postgres_settings
from pipelines.run.process import RunContext
from pipelines.run.record import EXIT_ANOMALY, EXIT_OK, build_record
from pipelines.run.shard import Shard
from pipelines.run.steps import Step, step_graph
from pipelines.run.write import WriteStep
from providers.base import Provider

log = logging.getLogger("pipeline.runner")


class Runner:
    """Runs the steps of one run, creating its checkpoint or picking an existing one up."""

    def __init__(
        self,
        config: PipelineConfig,
        providers: Mapping[str, Provider],
        env: Mapping[str, str],
        options: RunOptions,
        run_id: str | None = None,
    ) -> None:
        self.config, self.providers, self.env, self.options = config, providers, env, options
        self.run_id = run_id or new_run_id()
        self.shard = Shard.parse(options.shard) if options.shard else None
        check_run_options(config, providers, env, options, sharded=self.shard is not None)
        self.storage = lake_storage(config, options)
        self.lake = Lake(self.storage)
        self.root = work_roots(config)[1 if options.offline else 0]  # checkpoints, staged files
        self.postgres = postgres_settings(config.sections.get("sinks"))  # bad: stop before
        self.sinks = ("postgres",) if self.postgres else ()
        self.quality = QualityConfig.from_table(config.sections.get("quality", {}))
        self.anomaly = AnomalyConfig.from_table(config.sections.get("anomaly", {}))
        self.retry_budget = RetryBudget(config.http_retry_budget)  # shared by every provider
        self.stop_at = (  # no call of this process outlives --max-duration
            time.monotonic() + options.max_duration if options.max_duration else None
        )
        self.log_dir = config.run_log_dir(options.offline)  # the demo keeps its own log
        self.notifier = Notifier(config.notify, env, self.log_dir)
        self.checkpoint: Checkpoint | None = None
        self.previews: dict[str, list[dict[str, Any]]] = {}
        self.lease_wait = 0.0  # --wait: how long to wait for a live run of this slot

    # --- entry points -----------------------------------------------------------------------

    def run(self) -> RunResult:
        """A whole new run: every step in order, in this process."""
        with self._lease():
            self.open_checkpoint(create=True)
            return self.execute(force_from=None)

    def resume(self) -> RunResult:
        """Continue this run from its first unfinished step, without refetching what committed."""
        with self._lease():
            checkpoint = self.open_checkpoint(create=False)
            first = checkpoint.first_unfinished()
            if first is None:
                log.info("run %s already finished; nothing to resume", self.run_id)
            return self.execute(force_from=first)

    def run_step(self, name: str, *, force: bool = False) -> int:
        """One step (for schedulers): 0 done, 1 failed; a finished step is a no-op unless forced.

        The run's lease is parked, not given back, while later steps remain. An unknown step
        is refused before any lease, checkpoint or superseding of other runs."""
        path = self.root / "_runs" / self.run_id / "checkpoint.json"
        if path.exists():
            checkpoint = Checkpoint.load(self.root, self.run_id)
            names, sinks = checkpoint.providers, checkpoint.sinks
            pulls = checkpoint.options.get("dataset_pulls", [])
        else:
            names, sinks, pulls = self.planned_providers(), self.sinks, self.planned_pulls()
        known = [s.name for s in step_graph(names, sinks=sinks, datasets=pulls)]
        if name not in known:
            raise ConfigError(f"run-step: unknown step {name!r} (steps of this run: "
                              f"{', '.join(known)})")  # fmt: skip
        with self._lease() as lease:
            code = self._run_step(name, force)
            if lease is not None and not self.checkpoint.finished:
                lease.park()
            return code

    @contextmanager
    def _lease(self) -> Iterator[RunLease | None]:
        """Hold this run's lease (``pipelines/lake/runlease.py``); a dry run takes none."""
        if self.options.dry_run:
            yield None
            return
        config = self.config
        lease = RunLease(self.storage, self.run_id, self.options.shard,
                         config.run_lease_ttl_seconds, self.lease_wait)  # fmt: skip
        with lease:
            yield lease

    def _run_step(self, name: str, force: bool) -> int:
        checkpoint = self.open_checkpoint(create=None)
        step = self._graph()[name]  # known: run_step checked it
        waiting = [d for d in step.depends_on if checkpoint.status(d) not in (DONE, FAILED)]
        if waiting:
            raise ConfigError(f"run-step {name}: waits for {', '.join(waiting)} to run first")
        if checkpoint.status(name) == DONE and not force:
            log.info("step %s of run %s already done; nothing to do", name, self.run_id)
            return 0
        return 0 if self._run_one(step) == DONE else 1

    # --- checkpoint ---------------------------------------------------------------------------

    def open_checkpoint(self, create: bool | None) -> Checkpoint:
        """Load this run's checkpoint, or create it (``None``: whichever applies).

        The lake is checked first: a corrupt or missing manifest stops everything here."""
        check_table_manifests(self.storage, self.options.datasets)
        path_exists = (self.root / "_runs" / self.run_id / "checkpoint.json").exists()
        if path_exists and create is not True:
            self.checkpoint = Checkpoint.load(self.root, self.run_id)
            return self.checkpoint
        if create is False:
            self.checkpoint = Checkpoint.load(self.root, self.run_id)  # raises: no such run
        # a corrupt state stops the run here, or is rebuilt at the table's commit
        check_table_states(self.storage, self.options.datasets)
        names = self.planned_providers()
        if not self.options.dry_run:
            live = {lease.run_id for lease in live_runs(self.storage)}
            abandon_unfinished_runs(self.root, self.run_id, self.options.shard, live)
        bootstrap = readable_state_meta(self.storage) is None
        pulls = self.planned_pulls()
        options = {**self.options.to_dict(), "bootstrap": bootstrap, "dataset_pulls": pulls}
        graph = [s.name for s in step_graph(names, sinks=self.sinks, datasets=pulls)]
        # Nothing of a dry run may land in the lake: its work folder is a temporary one.
        home = Path(tempfile.mkdtemp(prefix="dry-run-")) if self.options.dry_run else self.root
        self.checkpoint = Checkpoint.create(
            home, self.run_id, options, names, graph, keep_existing=create is None
        )
        return self.checkpoint

    def planned_providers(self) -> list[str]:
        """Selected providers offering products with work in this shard, if products are pulled."""
        asked = select_providers(self.providers, self.options.providers)
        products = [p for p in asked if PRODUCTS in p.datasets if PRODUCTS in self.options.datasets]
        return [p.name for p in products if self._extractor().options_of(p) is not None]

    def planned_pulls(self) -> list[str]:
        """``<d>.<p>`` of the ``dataset.<d>.<p>`` steps: the datasets beyond products."""
        selected = select_providers(self.providers, self.options.providers)
        return planned_pulls(selected, self.options, self.shard)

    def _graph(self) -> dict[str, Step]:
        checkpoint = self.checkpoint
        pulls = checkpoint.options.get("dataset_pulls", [])
        graph = step_graph(checkpoint.providers, sinks=checkpoint.sinks, datasets=pulls)
        return {s.name: s for s in graph}

    # --- execution ----------------------------------------------------------------------------

    def execute(self, force_from: str | None) -> RunResult:
        """Run the steps not done yet (and, from ``force_from`` on, every later one)."""
        forcing = False
        for name, step in self._graph().items():
            forcing = forcing or name == force_from
            if self.checkpoint.status(name) == DONE and not forcing:
                continue
            if self._write_done() and step.provider is not None:
                continue  # the run committed without this provider: never refetch
            self._run_one(step)
        return self._result()

    def _write_done(self) -> bool:
        return self.checkpoint.status("write") == DONE

    def _run_one(self, step: Step) -> str:
        started = self.checkpoint.start(step.name)
        kind = step.name.split(".")[0]
        try:
            outputs = getattr(self, f"_step_{kind}")(step)
        except (ProviderError, DataQualityError, ConfigError, SinkError) as exc:
            return self._fail(step, started, exc, mask(str(exc)))
        except Exception as exc:
            if step.provider is None or isinstance(exc, WorkerError):
                # A lock held by another run, or a bug in the pipeline itself: fail loudly, and
                # record the step as failed, so --status never shows it running.
                error = mask(f"{type(exc).__name__}: {exc}")
                self.checkpoint.finish(step.name, started, {"status": "failed"}, error)
                raise
            # A bug in one provider (a plug-in, say) must not take the other providers down.
            log.exception("%s failed", step.name)
            error = mask(f"{step.provider}: unexpected {type(exc).__name__}: {exc}")
            return self._fail(step, started, exc, error)
        self.checkpoint.finish(step.name, started, outputs)
        return DONE

    def _fail(self, step: Step, started: float, exc: Exception, error: str) -> str:
        """Record a failed step, with the provider's call counters when it has them."""
        log.error("%s failed: %s", step.name, error)
        outputs = {"status": "failed", "error": error, "stats": getattr(exc, "stats", None) or {}}
        self.checkpoint.finish(step.name, started, outputs, error)
        return FAILED

    def _result(self) -> RunResult:
        report = self.checkpoint.outputs("report")
        record = report.get("record") or build_record(self.checkpoint, self.lake.uri)
        return RunResult(record, record["exit_code"], self.previews)

    # --- steps --------------------------------------------------------------------------------

    def _step_extract(self, step: Step) -> dict[str, Any]:
        provider = self.providers[step.provider]
        return self._extractor().extract(provider, self.checkpoint.work, self._dt())

    def _extractor(self) -> Extractor:
        return Extractor(
            self.config, self.env, self.options, self.shard, self.lake, self.retry_budget,
            self.run_id, self.stop_at,
        )  # fmt: skip

    def _step_normalize(self, step: Step) -> dict[str, Any]:
        name = step.provider
        extract = self.checkpoint.outputs(f"extract.{name}")
        if self.checkpoint.status(f"extract.{name}") != DONE or extract.get("status") != "ok":
            return {"status": "skipped" if extract.get("status") == "skipped" else "failed"}
        where = (self.checkpoint.work, self._dt())
        return normalize_step(self.providers[name], self._run_context(), self.quality, self.lake,
                              where, extract, self.options, self.config)  # fmt: skip

    def _step_quality(self, step: Step) -> dict[str, Any]:
        names = self.checkpoint.providers
        normalized = {name: self.checkpoint.outputs(f"normalize.{name}") for name in names}
        return gate_verdicts(normalized, self.quality, defer=self.options.defer_gate)

    def _step_write(self, step: Step) -> dict[str, Any]:
        """Dedup and commit (``pipelines/run/write.py``), holding the lake's commit lock."""
        write = WriteStep(
            self.checkpoint, self.lake, self._run_context(), self.options.dry_run, self._history,
            self.options.mode, self.config.table_format, previews=self.previews,
            max_delete_share=self.config.max_delete_share,
            allow_mass_delete=self.options.allow_mass_delete,
            trash_retention_days=self.config.trash_retention_days,
            live_runs=self._live_runs,
        )  # fmt: skip
        if self.options.dry_run:
            return write.execute()
        with self._lock() as lock:
            write.guard = lock.check
            return write.execute()

    def _step_dataset(self, step: Step) -> dict[str, Any]:
        """One dataset beyond products from one provider (``pipelines/run/dataset_step.py``)."""
        _, dataset, name = step.name.split(".")
        extractor = replace(self._extractor(), dataset=DATASETS[dataset])
        pull = DatasetStep(extractor, self._run_context(), self.options.dry_run, self._lock,
                           self._live_runs, self.config.trash_retention_days,
                           self.quality.reject_threshold)  # fmt: skip
        return pull.execute(self.providers[name], self.checkpoint.work, self._dt())

    def _live_runs(self) -> set[str]:
        return {lease.run_id for lease in live_runs(self.storage)}

    def _lock(self) -> LakeLock:
        holder = default_holder(self.run_id) + (f" (shard {self.shard})" if self.shard else "")
        config = self.config
        return LakeLock(self.storage, holder, config.lock_ttl_seconds, config.lock_wait_seconds)

    def _history(self) -> list[dict[str, Any]]:
        """Every recorded run: the lake's run log for an object store, else ``logs/``."""
        return read_lake_runs(self.storage) if self.storage.remote else read_runs(self.log_dir)

    def _step_sink(self, step: Step) -> dict[str, Any]:
        """Load the committed runs into the sink's database (``pipelines/run/postgres.py``)."""
        return PostgresStep(self.postgres, self.env, self.lake).execute(self.options.mode)

    def _step_detect(self, step: Step) -> dict[str, Any]:
        """The volume verdict against the run log (a shard's volumes are a share: none)."""
        mass_deletes = mass_delete_alerts(self.checkpoint.outputs("write"))
        if self.shard:
            return {"anomaly": shard_anomaly(str(self.shard), mass_deletes)}
        record = build_record(self.checkpoint, self.lake.uri)
        history = [r for r in self._history() if r["run_id"] != self.run_id]
        acknowledged = acknowledged_runs(self.config.run_log_dir())  # one file for both modes
        anomaly = judge_volumes(history, record, self.anomaly, acknowledged, mass_deletes)
        if anomaly.worst == "alert":
            log.warning("volume anomaly: %s", "; ".join(describe_alerts(anomaly)))
        return {"anomaly": anomaly.to_dict()}

    def _step_report(self, step: Step) -> dict[str, Any]:
        record = build_record(self.checkpoint, self.lake.uri)
        if self.shard:
            record["shard"] = str(self.shard)
        anomaly = self.checkpoint.outputs("detect").get("anomaly")
        record["anomaly"] = anomaly
        worst = (anomaly or {}).get("worst")
        if worst == "alert" and self.options.fail_on_anomaly and record["exit_code"] == EXIT_OK:
            record["exit_code"] = EXIT_ANOMALY
        history = [r for r in self._history() if r["run_id"] != self.run_id]
        if not self.options.dry_run:
            if self.notifier:  # before the record is kept: it counts what was sent
                record["notifications"] = self.notifier.notify_run(record).to_dict()
            self._append_run(record)
            write_reports(self.log_dir, record, history, anomaly)
            prune_reports(self.log_dir, self.config.keep_reports)
        return {"record": record}

    def _append_run(self, record: dict[str, Any]) -> None:
        """Record the run once: in the lake's run log (object stores), and in ``logs/``."""
        if self.storage.remote:
            with self._lock():
                append_lake_run(self.storage, record)
        if all(r["run_id"] != record["run_id"] for r in read_runs(self.log_dir)):
            append_run(self.log_dir, record)

    # --- helpers ------------------------------------------------------------------------------

    def _dt(self) -> str:
        return self.checkpoint.created_at[:10]

    def _run_context(self) -> RunContext:
        return RunContext(
            run_id=self.run_id,
            started_at=datetime.fromisoformat(self.checkpoint.created_at),
            batch_size=self.config.batch_size,
            row_group_size=self.config.row_group_size,
        )
