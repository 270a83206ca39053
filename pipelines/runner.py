"""The runner: wires the stages for one run and decides what gets committed.

extract (per provider) → normalize → quality → dedup → staged parts, then
commit (manifest, then state) and the run log. The runner does no stage's
work itself; each stage lives in its own module.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from pipelines.anomaly import AnomalyConfig, AnomalyReport, detect_anomalies
from pipelines.cache import ResponseCache
from pipelines.config import PipelineConfig
from pipelines.dedup import DedupState, load_state, save_state
from pipelines.errors import ConfigError, DataQualityError, ProviderError
from pipelines.http import HttpClient
from pipelines.lake import Lake, Manifest, StagedFile, read_raw
from pipelines.offline import Recording, offline_env, replay_server
from pipelines.process import ProviderCounts, ProviderProcessor, RunContext
from pipelines.progress import Progress
from pipelines.quality import QualityConfig, gate_verdict
from pipelines.report import write_reports
from pipelines.runlog import COUNTERS, append_run, read_runs
from pipelines.schema import PRODUCT_SCHEMA
from pipelines.secrets import mask
from providers.base import FetchContext, Provider, ProviderStats

log = logging.getLogger("pipeline.runner")

EXIT_OK, EXIT_PROVIDER_FAILED, EXIT_USAGE, EXIT_QUALITY, EXIT_ALL_FAILED, EXIT_ANOMALY = range(6)
ACKNOWLEDGED_FILE = "acknowledged_runs.txt"


@dataclass(frozen=True)
class RunOptions:
    """What the user asked for on the command line."""

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


@dataclass
class ProviderResult:
    """One provider's outcome in this run."""

    name: str
    status: str
    reason: str | None = None
    error: str | None = None
    counts: ProviderCounts = field(default_factory=ProviderCounts)
    stats: ProviderStats = field(default_factory=ProviderStats)
    staged: list[StagedFile] = field(default_factory=list)
    preview: list[dict[str, Any]] = field(default_factory=list)
    deleted: set[str] = field(default_factory=set)
    next_state: dict[str, Any] = field(default_factory=dict)

    def to_log(self) -> dict[str, Any]:
        """The run-log entry for this provider."""
        c, s = self.counts, self.stats
        entry: dict[str, Any] = {
            "status": self.status,
            "records": c.records,
            "fetched": c.fetched,
            "new": c.new,
            "changed": c.changed,
            "unchanged": c.unchanged,
            "quarantined": c.quarantined,
            "dropped": c.dropped,
            "dropped_reasons": c.dropped_reasons,
            "deleted": c.deleted,
            "written": c.written if self.status == "ok" else 0,
            "api_calls": s.api_calls,
            "cache_hits": s.cache_hits,
            "retries": s.retries,
            "pages": s.pages,
            "throttle_waits": s.throttle_waits,
            "throttle_wait_seconds": round(s.throttle_wait_seconds, 3),
            "breaker_trips": s.breaker_trips,
            "errors": (s.errors + c.errors)[:20],
            "quality": c.quality,
            "drift": c.drift(),
        }
        if self.reason:
            entry["reason"] = self.reason
        if self.error:
            entry["error"] = self.error
        return entry


@dataclass
class RunResult:
    record: dict[str, Any]
    exit_code: int
    results: list[ProviderResult]


def new_run_id(now: datetime) -> str:
    """Sortable, unique run id: UTC time plus a random suffix."""
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


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


def recover_lake(lake: Lake, state: DedupState) -> bool:
    """Remove a killed run's files and fold in manifests the state lacks; True if changed."""
    removed = lake.recover()
    if removed:
        log.warning("removed %d uncommitted file(s) left by an interrupted run", len(removed))
    changed = bool(removed)
    for manifest in lake.manifests():
        if manifest["run_id"] in state.applied_runs:
            continue
        for entry in manifest["files"]:
            if entry["zone"] == "normalized":
                columns = ["source", "source_id", "raw_hash", "content_hash"]
                state.apply_table(pq.read_table(lake.root / entry["path"], columns=columns))
        state.applied_runs.add(manifest["run_id"])
        log.warning("state caught up with committed run %s", manifest["run_id"])
        changed = True
    return changed


class Runner:
    """Runs the pipeline once."""

    def __init__(
        self,
        config: PipelineConfig,
        providers: Mapping[str, Provider],
        env: Mapping[str, str],
        options: RunOptions,
    ) -> None:
        self.config, self.providers, self.env, self.options = config, providers, env, options
        self.started_at = datetime.now(UTC)
        self.run_id = new_run_id(self.started_at)
        self.root = lake_root(config, options)
        self.lake = Lake(self.root)
        self.quality = QualityConfig.from_table(config.sections.get("quality", {}))
        self.anomaly = AnomalyConfig.from_table(config.sections.get("anomaly", {}))

    def run(self) -> RunResult:
        selected = select_providers(self.providers, self.options.providers)
        state = load_state(self.root)
        bootstrap = not state.applied_runs
        if not self.options.dry_run and recover_lake(self.lake, state):
            save_state(self.root, state)
        context = RunContext(
            run_id=self.run_id,
            dt=self.started_at.strftime("%Y-%m-%d"),
            started_at=self.started_at,
            root=self.root,
            batch_size=self.config.batch_size,
            row_group_size=self.config.row_group_size,
            quality=self.quality,
            write=not self.options.dry_run,
        )
        replay_files = find_replay_files(self.options.replay) if self.options.replay else None
        results = [self._run_provider(p, context, state, replay_files) for p in selected]
        if not self.options.dry_run:
            self._commit(results, state)
        return self._finish(results, bootstrap)

    def _run_provider(
        self,
        provider: Provider,
        context: RunContext,
        state: DedupState,
        replay_files: dict[str, list[Path]] | None,
    ) -> ProviderResult:
        name = provider.name
        if replay_files is not None:
            if name not in replay_files:
                return ProviderResult(name, "skipped", reason="no raw files to replay")
            return self._process(provider, context, state, None, replay_files[name])
        if self.options.offline:
            return self._run_offline(provider, context, state)
        problems = provider.check_environment(self.env)
        if problems:
            return ProviderResult(name, "failed", error="; ".join(problems))
        missing = provider.missing_settings(self.env)
        if missing:
            log.info("%s: skipped, missing %s", name, ", ".join(missing))
            return ProviderResult(name, "skipped", reason=f"missing {', '.join(missing)}")
        return self._process(provider, context, state, self.env, None)

    def _run_offline(
        self, provider: Provider, context: RunContext, state: DedupState
    ) -> ProviderResult:
        path = provider.recording_path()
        if not path.exists():
            return ProviderResult(provider.name, "skipped", reason="no offline recording")
        recording = Recording(path)
        with replay_server(recording) as base_url:
            env = offline_env(recording, base_url)
            return self._process(provider, context, state, env, None, recording.options)

    def _process(
        self,
        provider: Provider,
        context: RunContext,
        state: DedupState,
        env: Mapping[str, str] | None,
        replay: list[Path] | None,
        options: Mapping[str, Any] | None = None,
    ) -> ProviderResult:
        result = ProviderResult(provider.name, "ok")
        processor = ProviderProcessor(provider, context, state)
        progress = Progress(provider.name)
        try:
            if replay is not None:
                records: Iterator[dict[str, Any]] = (r for p in replay for r in read_raw(p))
                processor.feed(progress.count(islice(records, self.options.limit)), land=False)
            else:
                ctx = self._fetch_context(
                    provider, env or {}, options, result.stats, progress, state
                )
                records = islice(provider.fetch(ctx), self.options.limit)
                processor.feed(progress.count(records), land=context.write)
                if ctx.complete and self.options.limit is None:
                    result.deleted = self._write_deletions(provider.name, processor, state)
                result.next_state = ctx.next_state
            result.staged = processor.finish()
        except (ProviderError, DataQualityError, ConfigError) as exc:
            result.status, result.error = "failed", mask(str(exc))
            result.staged = processor.abort()
            log.error("%s failed: %s", provider.name, result.error)
        finally:
            progress.done()
        result.counts, result.preview = processor.counts, processor.preview
        for drift in result.counts.drift():
            log.warning(
                "schema drift in %s: %d records dropped: %s", provider.name, drift["records"],
                drift["cause"],
            )  # fmt: skip
        if result.status == "ok":
            self._check_gate(result)
        return result

    def _write_deletions(
        self, name: str, processor: ProviderProcessor, state: DedupState
    ) -> set[str]:
        """After a complete pull: a ``deleted`` row for each held product that did not come back."""
        processor.flush()  # every row of the pull counted in seen_keys
        vanished = state.keys_of(name) - processor.seen_keys
        if vanished:
            ids = {state.source_id(key) for key in vanished}
            processor.write_deleted(self.lake.latest_rows(name, ids, PRODUCT_SCHEMA))
            log.info("%s: %d product(s) disappeared since the last pull", name, len(vanished))
        return vanished

    def _check_gate(self, result: ProviderResult) -> None:
        counts = result.counts
        verdict = gate_verdict(
            result.name,
            counts.fetched,
            counts.quarantined,
            counts.quality,
            counts.rejected_examples,
            self.quality,
        )
        if verdict:
            result.status, result.error = "quality_failed", verdict
            log.error("%s", verdict)
        elif not counts.reconciles():
            result.status = "failed"
            result.error = (
                f"{result.name}: counts do not reconcile: fetched {counts.fetched} != new "
                f"{counts.new} + changed {counts.changed} + unchanged {counts.unchanged} + "
                f"quarantined {counts.quarantined} + dropped {counts.dropped}"
            )
            log.error("%s", result.error)

    def _fetch_context(
        self,
        provider: Provider,
        env: Mapping[str, str],
        options: Mapping[str, Any] | None,
        stats: ProviderStats,
        progress: Progress,
        state: DedupState,
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
            state=state.extra.get("providers", {}).get(provider.name, {}),
        )

    def _commit(self, results: list[ProviderResult], state: DedupState) -> None:
        """Commit the providers that succeeded; discard the rest. Manifest first, state last."""
        committed: list[StagedFile] = []
        for result in results:
            if result.status == "ok":
                committed += result.staged
            elif result.status != "skipped":
                Lake.discard(result.staged)
                state.rollback(self.root, result.name)
        manifest = Manifest(
            run_id=self.run_id,
            dt=self.started_at.strftime("%Y-%m-%d"),
            counts={r.name: r.to_log() for r in results},
        )
        self.lake.commit(manifest, committed)
        for result in results:
            if result.status == "ok":
                state.forget(result.deleted)
                if result.next_state:
                    state.extra.setdefault("providers", {})[result.name] = result.next_state
        state.applied_runs.add(self.run_id)
        save_state(self.root, state)

    def _finish(self, results: list[ProviderResult], bootstrap: bool) -> RunResult:
        ended = datetime.now(UTC)
        exit_code = run_exit_code(results)
        record = {
            "run_id": self.run_id,
            "started_at": self.started_at.isoformat(),
            "ended_at": ended.isoformat(),
            "duration_seconds": round((ended - self.started_at).total_seconds(), 3),
            "mode": self.options.mode,
            "bootstrap": bootstrap,
            "backfill": self.options.replay is not None,
            "data_dir": str(self.root),
            "exit_code": exit_code,
            "args": {
                "providers": list(self.options.providers or []),
                "limit": self.options.limit,
                "dry_run": self.options.dry_run,
                "no_cache": self.options.no_cache,
                "offline": self.options.offline,
                "replay": str(self.options.replay) if self.options.replay else None,
            },
            "providers": {r.name: r.to_log() for r in results},
            "totals": totals(results),
        }
        log_dir = Path(self.config.log_dir)
        history = read_runs(log_dir)
        anomaly = detect_anomalies(history, record, self.anomaly, acknowledged_runs(log_dir))
        record["anomaly"] = anomaly.to_dict()
        warn_about_vanished_providers(record, history)
        if anomaly.worst == "alert":
            log.warning("volume anomaly: %s", "; ".join(describe_alerts(anomaly)))
            if self.options.fail_on_anomaly and exit_code == EXIT_OK:
                record["exit_code"] = exit_code = EXIT_ANOMALY
        if not self.options.dry_run:
            append_run(log_dir, record)
            write_reports(log_dir, record, history, anomaly)
        return RunResult(record, exit_code, results)


def totals(results: list[ProviderResult]) -> dict[str, int]:
    """Counters summed over the providers that ran."""
    entries = [r.to_log() for r in results]
    return {c: sum(e.get(c, 0) for e in entries) for c in COUNTERS}


def run_exit_code(results: list[ProviderResult]) -> int:
    """DESIGN.md's exit codes: 0 ok, 1 some failed, 3 quality gate, 4 all failed."""
    attempted = [r for r in results if r.status != "skipped"]
    failed = [r for r in attempted if r.status == "failed"]
    if attempted and len(failed) == len(attempted):
        return EXIT_ALL_FAILED
    if any(r.status == "quality_failed" for r in attempted):
        return EXIT_QUALITY
    return EXIT_PROVIDER_FAILED if failed else EXIT_OK


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


def warn_about_vanished_providers(record: dict[str, Any], history: list[dict[str, Any]]) -> None:
    """Zero rows from a provider that returned rows before is a warning by itself."""
    for name, entry in record["providers"].items():
        if entry["status"] != "ok" or entry["fetched"]:
            continue
        earlier = [
            run["providers"][name]["fetched"]
            for run in history
            if run.get("mode") == record["mode"] and name in run.get("providers", {})
        ]
        if any(earlier):
            message = f"{name}: fetched 0 rows, but earlier runs fetched up to {max(earlier)}"
            entry.setdefault("warnings", []).append(message)
            log.warning("%s", message)
