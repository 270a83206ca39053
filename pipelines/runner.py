"""The runner: executes the step graph of ``pipelines/steps.py`` for one run.

A plain run executes every step in order in this process; a scheduler runs
them one at a time with ``run-step``; ``--resume`` continues a killed or failed
run. All three go through ``Runner.execute``, so the semantics are the same.
Each step reads its inputs from the run's work folder and the checkpoint and
records its outputs there; the runner wires the stages and does none of their
work.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from pipelines.anomaly import AnomalyConfig, AnomalyReport, detect_anomalies
from pipelines.cache import ResponseCache
from pipelines.checkpoint import DONE, FAILED, Checkpoint, unfinished_runs
from pipelines.config import PipelineConfig
from pipelines.dedup import DedupState, load_state, save_state
from pipelines.errors import ConfigError, DataQualityError, ProviderError
from pipelines.http import HttpClient, RetryBudget
from pipelines.lake import Lake, Manifest, RawWriter, StagedFile, read_raw
from pipelines.offline import Recording, offline_env, replay_server
from pipelines.process import (
    DedupStage,
    NormalizeStage,
    ProviderCounts,
    RunContext,
    deletion_stubs,
)
from pipelines.progress import Progress
from pipelines.quality import QualityConfig, gate_verdict
from pipelines.record import EXIT_ANOMALY, EXIT_OK, build_record
from pipelines.report import write_reports
from pipelines.runlog import append_run, read_runs
from pipelines.schema import PRODUCT_SCHEMA
from pipelines.secrets import mask
from pipelines.steps import Step, step_graph
from providers.base import FetchContext, Provider, ProviderStats

log = logging.getLogger("pipeline.runner")

ACKNOWLEDGED_FILE = "acknowledged_runs.txt"


@dataclass(frozen=True)
class RunOptions:
    """What the user asked for on the command line (kept in the run's checkpoint)."""

    providers: tuple[str, ...] | None = None
    limit: int | None = None
    dry_run: bool = False
    no_cache: bool = False
    offline: bool = False
    replay: Path | None = None
    full_refresh: bool = False
    fail_on_anomaly: bool = False

    @property
    def mode(self) -> str:
        if self.dry_run:
            return "dry_run"
        if self.replay is not None:
            return "replay"
        return "offline" if self.offline else "live"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["providers"] = list(self.providers) if self.providers else None
        data["replay"] = str(self.replay) if self.replay else None
        data["mode"] = self.mode
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunOptions:
        names = data.get("providers")
        return cls(
            providers=tuple(names) if names else None,
            limit=data.get("limit"),
            dry_run=data.get("dry_run", False),
            no_cache=data.get("no_cache", False),
            offline=data.get("offline", False),
            replay=Path(data["replay"]) if data.get("replay") else None,
            full_refresh=data.get("full_refresh", False),
            fail_on_anomaly=data.get("fail_on_anomaly", False),
        )


@dataclass
class RunResult:
    """A finished (or stopped) run: its record, exit code and a preview of written rows."""

    record: dict[str, Any]
    exit_code: int
    previews: dict[str, list[dict[str, Any]]]


def new_run_id(now: datetime | None = None) -> str:
    """Sortable, unique run id: UTC time plus a random suffix."""
    return f"{(now or datetime.now(UTC)):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def lake_root(config: PipelineConfig, options: RunOptions) -> Path:
    """Where this run's lake lives: offline demo rows never mix with real ones."""
    root = Path(config.data_dir)
    return root / "demo" if options.offline else root


def select_providers(
    providers: Mapping[str, Provider], wanted: tuple[str, ...] | None
) -> list[Provider]:
    if not wanted:
        return list(providers.values())
    unknown = [name for name in wanted if name not in providers]
    if unknown:
        raise ConfigError(
            f"--providers: unknown provider {', '.join(unknown)} (known: {', '.join(providers)})"
        )
    return [providers[name] for name in wanted]


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
        self.root = lake_root(config, options)
        self.lake = Lake(self.root)
        self.quality = QualityConfig.from_table(config.sections.get("quality", {}))
        self.anomaly = AnomalyConfig.from_table(config.sections.get("anomaly", {}))
        self.retry_budget = RetryBudget(config.http_retry_budget)  # shared by every provider
        self.log_dir = Path(config.log_dir)
        self.checkpoint: Checkpoint | None = None
        self.previews: dict[str, list[dict[str, Any]]] = {}

    # --- entry points -----------------------------------------------------------------------

    def run(self) -> RunResult:
        """A whole new run: every step in order, in this process."""
        self.open_checkpoint(create=True)
        return self.execute(force_from=None)

    def resume(self) -> RunResult:
        """Continue this run from its first unfinished step, without refetching what committed."""
        checkpoint = self.open_checkpoint(create=False)
        first = checkpoint.first_unfinished()
        if first is None:
            log.info("run %s already finished; nothing to resume", self.run_id)
        return self.execute(force_from=first)

    def run_step(self, name: str, *, force: bool = False) -> int:
        """One step (for schedulers): 0 done, 1 failed; a finished step is a no-op unless forced."""
        checkpoint = self.open_checkpoint(create=None)
        step = self._graph().get(name)
        if step is None:
            known = ", ".join(self._graph())
            raise ConfigError(f"run-step: unknown step {name!r} (steps of this run: {known})")
        waiting = [d for d in step.depends_on if checkpoint.status(d) not in (DONE, FAILED)]
        if waiting:
            raise ConfigError(f"run-step {name}: waits for {', '.join(waiting)} to run first")
        if checkpoint.status(name) == DONE and not force:
            log.info("step %s of run %s already done; nothing to do", name, self.run_id)
            return 0
        return 0 if self._run_one(step) == DONE else 1

    # --- checkpoint ---------------------------------------------------------------------------

    def open_checkpoint(self, create: bool | None) -> Checkpoint:
        """Load this run's checkpoint, or create it (``None``: whichever applies)."""
        path_exists = (self.root / "_runs" / self.run_id / "checkpoint.json").exists()
        if path_exists and create is not True:
            self.checkpoint = Checkpoint.load(self.root, self.run_id)
            return self.checkpoint
        if create is False:
            self.checkpoint = Checkpoint.load(self.root, self.run_id)  # raises: no such run
        names = [p.name for p in select_providers(self.providers, self.options.providers)]
        self._abandon_unfinished_runs()
        options = {**self.options.to_dict(), "bootstrap": _state_is_empty(self.root)}
        graph = [s.name for s in step_graph(names)]
        # Nothing of a dry run may land in the lake: its work folder is a temporary one.
        home = Path(tempfile.mkdtemp(prefix="dry-run-")) if self.options.dry_run else self.root
        self.checkpoint = Checkpoint.create(home, self.run_id, options, names, graph)
        return self.checkpoint

    def _abandon_unfinished_runs(self) -> None:
        """A new run supersedes killed ones: their staged files go, their checkpoints stay."""
        for old in unfinished_runs(self.root):
            if old.run_id == self.run_id:
                continue
            for child in old.work.iterdir():
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
            old.abandoned = True
            old.save()
            log.warning("run %s stopped unfinished and is superseded by this run", old.run_id)

    def _graph(self) -> dict[str, Step]:
        return {s.name: s for s in step_graph(self.checkpoint.providers)}

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
        except (ProviderError, DataQualityError, ConfigError) as exc:
            return self._fail(step, started, exc, mask(str(exc)))
        except Exception as exc:
            if step.provider is None:
                raise  # a bug in the pipeline itself: fail loudly
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
        record = report.get("record") or build_record(self.checkpoint, str(self.root))
        return RunResult(record, record["exit_code"], self.previews)

    # --- steps --------------------------------------------------------------------------------

    def _step_extract(self, step: Step) -> dict[str, Any]:
        provider = self.providers[step.provider]
        if self.options.replay is not None:
            files = find_replay_files(self.options.replay).get(provider.name)
            if not files:
                return {"status": "skipped", "reason": "no raw files to replay"}
            return {"status": "ok", "replay_files": [str(f) for f in files]}
        if self.options.offline:
            return self._extract_offline(provider)
        problems = provider.check_environment(self.env)
        if problems:
            return {"status": "failed", "error": "; ".join(problems)}
        missing = provider.missing_settings(self.env)
        if missing:
            log.info("%s: skipped, missing %s", provider.name, ", ".join(missing))
            return {"status": "skipped", "reason": f"missing {', '.join(missing)}"}
        return self._extract(provider, self.env, None)

    def _extract_offline(self, provider: Provider) -> dict[str, Any]:
        path = provider.recording_path()
        if not path.exists():
            return {"status": "skipped", "reason": "no offline recording"}
        recording = Recording(path)
        with replay_server(recording) as base_url:
            return self._extract(provider, offline_env(recording, base_url), recording.options)

    def _extract(
        self, provider: Provider, env: Mapping[str, str], options: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        """Fetch and land the raw records; a provider error fails the step (and is retriable)."""
        stats = ProviderStats()
        progress = Progress(provider.name)
        staged = self.lake.raw_file(self.checkpoint.work, self._dt(), provider.name, self.run_id)
        writer = RawWriter(staged)
        ctx = self._fetch_context(provider, env, options, stats, progress)
        try:
            for record in progress.count(islice(provider.fetch(ctx), self.options.limit)):
                writer.write(record)
        except Exception as exc:
            writer.close()
            Lake.discard([staged])
            exc.stats = asdict(stats)  # the run log counts a failed provider's retries too
            raise
        finally:
            progress.done()
        writer.close()
        return {
            "status": "ok",
            "raw": staged.to_dict(),
            "stats": asdict(stats),
            "next_state": ctx.next_state,
            "complete": ctx.complete and self.options.limit is None,
        }

    def _fetch_context(
        self,
        provider: Provider,
        env: Mapping[str, str],
        options: Mapping[str, Any] | None,
        stats: ProviderStats,
        progress: Progress,
    ) -> FetchContext:
        use_cache = not (self.options.no_cache or self.options.offline)
        cache = (
            ResponseCache(
                Path(self.config.cache_dir) / provider.name, self.config.cache_ttl_seconds
            )
            if use_cache
            else None
        )
        plog = logging.getLogger(f"pipeline.{provider.name}")
        http = HttpClient(
            provider.name,
            stats,
            timeout=(self.config.http_connect_timeout_seconds, self.config.http_timeout_seconds),
            max_retries=self.config.http_max_retries,
            backoff_factor=self.config.http_backoff_seconds,
            retry_budget=self.retry_budget,
            breaker_threshold=self.config.http_breaker_threshold,
            cache=cache,
            log=plog,
        )
        return FetchContext(
            settings=provider.resolve_settings(env),
            options={**self.config.providers.get(provider.name, {}), **(options or {})},
            http=http,
            stats=stats,
            log=plog,
            limit=self.options.limit,
            cache=cache,
            on_page=progress.page,
            full_refresh=self.options.full_refresh,
            state=_provider_state(self.root, provider.name),
        )

    def _step_normalize(self, step: Step) -> dict[str, Any]:
        name = step.provider
        extract = self.checkpoint.outputs(f"extract.{name}")
        if self.checkpoint.status(f"extract.{name}") != DONE or extract.get("status") != "ok":
            return {"status": "skipped" if extract.get("status") == "skipped" else "failed"}
        work = self.checkpoint.work
        stage = NormalizeStage(
            self.providers[name],
            self._run_context(),
            self.quality,
            self.lake.part_file(work, "candidates", self._dt(), name, self.run_id),
            self.lake.part_file(work, "quarantine", self._dt(), name, self.run_id),
        )
        files = [Path(f) for f in extract.get("replay_files", [])]
        if "raw" in extract:
            files = [StagedFile.from_dict(extract["raw"]).staged]
        records: Iterator[dict[str, Any]] = (r for f in files for r in read_raw(f))
        if "replay_files" in extract:
            records = islice(records, self.options.limit)
        stage.feed(records)
        staged = stage.close()
        for drift in stage.counts.drift():
            log.warning("schema drift in %s: %d records dropped: %s", name, drift["records"],
                        drift["cause"])  # fmt: skip
        counts = stage.counts.to_dict()
        return {"status": "ok", "counts": counts, "staged": [f.to_dict() for f in staged]}

    def _step_quality(self, step: Step) -> dict[str, Any]:
        verdicts: dict[str, Any] = {}
        for name in self.checkpoint.providers:
            normalized = self.checkpoint.outputs(f"normalize.{name}")
            if normalized.get("status") != "ok":
                continue
            counts = ProviderCounts.from_dict(normalized["counts"])
            verdict = gate_verdict(
                name, counts.fetched, counts.quarantined, counts.quality,
                counts.rejected_examples, self.quality,
            )  # fmt: skip
            verdicts[name] = {"status": "quality_failed", "error": verdict} if verdict else {}
            if verdict:
                log.error("%s", verdict)
        return verdicts

    def _step_write(self, step: Step) -> dict[str, Any]:
        """Dedup every passing provider, then commit: parts, manifest, state."""
        state = load_state(self.root)
        if not self.options.dry_run:
            self._recover(state)
        if self.run_id in state.applied_runs:
            return self._already_committed()
        outputs: dict[str, Any] = {}
        committed: list[StagedFile] = []
        for name in self.checkpoint.providers:
            if self._passing(name):
                outputs[name], staged = self._dedup_provider(name, state)
                committed += staged
        if not self.options.dry_run:
            self._commit(outputs, committed, state)
        return outputs

    def _passing(self, name: str) -> bool:
        normalized = self.checkpoint.outputs(f"normalize.{name}")
        quality = self.checkpoint.outputs("quality").get(name, {})
        return normalized.get("status") == "ok" and not quality.get("status")

    def _dedup_provider(self, name: str, state: DedupState) -> tuple[dict, list[StagedFile]]:
        work = self.checkpoint.work
        normalized = self.checkpoint.outputs(f"normalize.{name}")
        staged = [StagedFile.from_dict(f) for f in normalized["staged"]]
        candidates = next((f.staged for f in staged if f.zone == "candidates"), None)
        stage = DedupStage(
            self._run_context(),
            state,
            self.lake.part_file(work, "normalized", self._dt(), name, self.run_id),
        )
        stage.feed(candidates)
        extract = self.checkpoint.outputs(f"extract.{name}")
        if extract.get("complete"):
            self._write_deletions(name, stage, state)
        self.previews[name] = stage.preview
        result = {"status": "ok", **asdict(stage.counts), "deleted": stage.deleted}
        result["warnings"] = self._vanished_warning(name, normalized["counts"]["fetched"])
        counts = ProviderCounts.from_dict(normalized["counts"])
        counts.new, counts.changed, counts.unchanged = (
            stage.counts.new, stage.counts.changed, stage.counts.unchanged,
        )  # fmt: skip
        part = stage.close()
        files = [f for f in staged if f.zone == "quarantine"] + ([part] if part else [])
        if "raw" in extract:
            files.append(StagedFile.from_dict(extract["raw"]))
        if not counts.reconciles():
            state.rollback(self.root, name)
            Lake.discard(files)
            return {"status": "failed", "error": _reconcile_error(name, counts)}, []
        result["deleted_keys"] = sorted(stage.deleted_keys)
        return result, files

    def _write_deletions(self, name: str, stage: DedupStage, state: DedupState) -> None:
        """After a complete pull: a ``deleted`` row for each held product that did not come back."""
        vanished = state.keys_of(name) - stage.seen_keys
        stage.deleted_keys = vanished
        if vanished:
            ids = {state.source_id(key) for key in vanished}
            last_rows = self.lake.latest_rows(name, ids, PRODUCT_SCHEMA)
            stage.write_deleted(last_rows)
            stage.write_deleted(deletion_stubs(name, ids - set(last_rows["source_id"].to_pylist())))
            log.info("%s: %d product(s) disappeared since the last pull", name, len(vanished))

    def _vanished_warning(self, name: str, fetched: int) -> list[str]:
        """Zero rows from a provider that returned rows before is a warning by itself."""
        if fetched:
            return []
        earlier = [
            run["providers"][name].get("fetched", 0)
            for run in read_runs(self.log_dir)
            if run.get("mode") == self.options.mode and name in run.get("providers", {})
        ]
        if not any(earlier):
            return []
        message = f"{name}: fetched 0 rows, but earlier runs fetched up to {max(earlier)}"
        log.warning("%s", message)
        return [message]

    def _commit(self, outputs: dict[str, Any], staged: list[StagedFile], state: DedupState) -> None:
        """Manifest first, then the state (with the providers' next watermarks)."""
        deleted = {name: result.pop("deleted_keys", []) for name, result in outputs.items()}
        self.lake.commit(Manifest(self.run_id, self._dt(), counts=outputs), staged)
        for name, result in outputs.items():
            if result.get("status") != "ok":
                continue
            state.forget(deleted[name])
            next_state = self.checkpoint.outputs(f"extract.{name}").get("next_state")
            if next_state:
                state.extra.setdefault("providers", {})[name] = next_state
        state.applied_runs.add(self.run_id)
        save_state(self.root, state)
        shutil.rmtree(self.checkpoint.work / "candidates", ignore_errors=True)

    def _already_committed(self) -> dict[str, Any]:
        """The run's manifest exists (killed after committing): take its counts."""
        return json.loads(self.lake.manifest_path(self.run_id).read_text())["counts"]

    def _recover(self, state: DedupState) -> None:
        """Remove killed runs' files and fold in committed manifests the state lacks."""
        removed = self.lake.recover(keep_run=self.run_id)
        if removed:
            log.warning("removed %d uncommitted file(s) left by an interrupted run", len(removed))
        changed = bool(removed)
        for manifest in self.lake.manifests():
            if manifest["run_id"] in state.applied_runs:
                continue
            for entry in manifest["files"]:
                if entry["zone"] == "normalized":
                    columns = ["source", "source_id", "raw_hash", "content_hash"]
                    state.apply_table(pq.read_table(self.root / entry["path"], columns=columns))
            state.applied_runs.add(manifest["run_id"])
            log.warning("state caught up with committed run %s", manifest["run_id"])
            changed = True
        if changed:
            save_state(self.root, state)

    def _step_detect(self, step: Step) -> dict[str, Any]:
        record = build_record(self.checkpoint, str(self.root))
        history = [r for r in read_runs(self.log_dir) if r["run_id"] != self.run_id]
        anomaly = detect_anomalies(history, record, self.anomaly, acknowledged_runs(self.log_dir))
        if anomaly.worst == "alert":
            log.warning("volume anomaly: %s", "; ".join(describe_alerts(anomaly)))
        return {"anomaly": anomaly.to_dict()}

    def _step_report(self, step: Step) -> dict[str, Any]:
        record = build_record(self.checkpoint, str(self.root))
        anomaly = self.checkpoint.outputs("detect").get("anomaly")
        record["anomaly"] = anomaly
        worst = (anomaly or {}).get("worst")
        if worst == "alert" and self.options.fail_on_anomaly and record["exit_code"] == EXIT_OK:
            record["exit_code"] = EXIT_ANOMALY
        history = [r for r in read_runs(self.log_dir) if r["run_id"] != self.run_id]
        if not self.options.dry_run:
            if len(history) == len(read_runs(self.log_dir)):
                append_run(self.log_dir, record)
            write_reports(self.log_dir, record, history, anomaly)
        return {"record": record}

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


def _reconcile_error(name: str, counts: ProviderCounts) -> str:
    return (
        f"{name}: counts do not reconcile: fetched {counts.fetched} != new {counts.new} + "
        f"changed {counts.changed} + unchanged {counts.unchanged} + quarantined "
        f"{counts.quarantined} + dropped {counts.dropped}"
    )


def _state_is_empty(root: Path) -> bool:
    return not (root / "state" / "state.json").exists()


def _provider_state(root: Path, name: str) -> dict[str, Any]:
    """What ``name`` saved in its ``next_state`` during the last committed run."""
    path = root / "state" / "state.json"
    if not path.exists():
        return {}
    return json.loads(path.read_text()).get("extra", {}).get("providers", {}).get(name, {})


def acknowledged_runs(log_dir: Path) -> frozenset[str]:
    """Runs an operator acknowledged (one run id per line): their volumes train the detector."""
    path = log_dir / ACKNOWLEDGED_FILE
    if not path.exists():
        return frozenset()
    return frozenset(line.strip() for line in path.read_text().splitlines() if line.strip())


def describe_alerts(anomaly: AnomalyReport) -> list[str]:
    """One phrase per alert: provider, metric, value and the usual level."""
    return [
        f"{v.provider} {v.metric} {v.value:g} vs median {v.median:g} (z {v.z:+.1f})"
        for v in anomaly.alerts
    ]


def find_replay_files(path: Path) -> dict[str, list[Path]]:
    """Raw landing files under ``path``, grouped by the ``source=NAME`` folder they sit in."""
    if not path.exists():
        raise ConfigError(f"--replay: {path} does not exist")
    files = [path] if path.is_file() else sorted(path.rglob("*.jsonl*"))
    grouped: dict[str, list[Path]] = {}
    for file in files:
        sources = [p.removeprefix("source=") for p in file.parts if p.startswith("source=")]
        if not sources:
            raise ConfigError(
                f"--replay: cannot tell the provider of {file}: expected it under a "
                "source=NAME folder"
            )
        grouped.setdefault(sources[-1], []).append(file)
    if not grouped:
        raise ConfigError(f"--replay: no .jsonl or .jsonl.zst files under {path}")
    return grouped
