"""The extract step of one provider: fetch (live, offline or from raw files) and land raw records.

Live, the provider's API is called with this run's options; offline, the provider's recorded
exchanges are replayed from a loopback server through the same client code; a ``--replay``
run only names the raw files to re-normalize. With ``--shard``, the options are cut to this
shard's share first (``pipelines/run/shard.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from itertools import islice
from pathlib import Path
from typing import Any

from pipelines.config import PipelineConfig
from pipelines.errors import BudgetExhaustedError, FatalProviderError, IncompleteFetchError
from pipelines.lake.budget_usage import add_usage, read_usage, utc_day
from pipelines.lake.datasets import DATASETS, PRODUCTS, Dataset
from pipelines.lake.lake import Lake, RawWriter
from pipelines.lake.state_repair import readable_state_meta
from pipelines.net.budget import CallBudget
from pipelines.net.cache import ResponseCache
from pipelines.net.deadline import HttpLimits
from pipelines.net.http import HttpClient
from pipelines.net.offline import Recording, offline_env, replay_server
from pipelines.net.pii import Scrubber
from pipelines.net.retry import RetryBudget
from pipelines.run.options import RunOptions, find_replay_files
from pipelines.run.progress import Progress
from pipelines.run.replay_world import mark_demo
from pipelines.run.shard import Shard, shard_options
from providers.base import FetchContext, PagingLimits, Provider, ProviderStats

log = logging.getLogger("pipeline.runner")


@dataclass
class Extractor:
    """What extracting needs from the run: its settings, flags, shard and lake."""

    config: PipelineConfig
    env: Mapping[str, str]
    options: RunOptions
    shard: Shard | None
    lake: Lake
    retry_budget: RetryBudget
    run_id: str
    stop_at: float | None = None  # the run's end (time.monotonic()), from --max-duration
    dataset: Dataset = DATASETS[PRODUCTS]  # what is pulled; it lands in its home table's lake

    @property
    def home(self) -> Lake:
        """The lake of the dataset's first table: its raw records and watermarks live there."""
        return Lake(self.dataset.home.storage(self.lake.storage))

    def extract(self, provider: Provider, work: Path, dt: str) -> dict[str, Any]:
        """The extract step's outputs for ``provider``."""
        if self.options.replay is not None:
            files = find_replay_files(self.options.replay, self.dataset.name).get(provider.name)
            if not files:
                return {"status": "skipped", "reason": "no raw files to replay"}
            return {"status": "ok", "replay_files": [str(f) for f in files]}
        if self.options.offline:
            return self._extract_offline(provider, work, dt)
        problems = provider.check_environment(self.env)
        if problems:
            return {"status": "failed", "error": "; ".join(problems)}
        missing = provider.missing_settings(self.env)
        if missing:
            log.info("%s: skipped, missing %s", provider.name, ", ".join(missing))
            return {"status": "skipped", "reason": f"missing {', '.join(missing)}"}
        return self._fetch(provider, self.env, work, dt)

    def _extract_offline(self, provider: Provider, work: Path, dt: str) -> dict[str, Any]:
        path = provider.recording_path()
        if not path.exists():
            return {"status": "skipped", "reason": "no offline recording"}
        recording = Recording(path)
        with replay_server(recording) as base_url:
            try:
                return self._fetch(provider, offline_env(recording, base_url), work, dt)
            except Exception as exc:
                miss = recording.miss_message()
                if miss is None:
                    raise
                error = FatalProviderError(f"{provider.name}: {miss}")
                error.stats = getattr(exc, "stats", None)
                raise error from exc

    def options_of(self, provider: Provider, *, sharded: bool = True) -> dict[str, Any] | None:
        """The provider's options for this run: ``pipeline.toml``'s (a recording's, offline),
        cut to this shard's share; None when the provider has no work in this shard."""
        options = dict(self.config.providers.get(provider.name, {}))
        path = provider.recording_path()
        if self.options.offline and path.exists():
            options.update(Recording(path).options)
        if self.shard and sharded:
            return shard_options(provider, options, self.shard)
        return options

    def _fetch(
        self, provider: Provider, env: Mapping[str, str], work: Path, dt: str
    ) -> dict[str, Any]:
        """Fetch and land the raw records; a provider error fails the step (and is retriable).

        A spent daily budget is no failure: what was fetched is landed as a partial pull
        (never complete, so no deletions), marked ``budget_exhausted``.
        """
        options = self.options_of(provider) or {}
        split = options != self.options_of(provider, sharded=False)
        stats = ProviderStats()
        noun = provider.record_noun if self.dataset.name == PRODUCTS else self.dataset.name
        progress = Progress(provider.name, noun=noun)
        staged = self.home.raw_file(work, dt, provider.name, self.run_id)
        writer = RawWriter(staged)
        budget = self._budget(provider)
        ctx = self._fetch_context(provider, env, options, stats, progress, budget)
        try:
            exhausted = self._pull(provider, ctx, writer, progress)
        except Exception as exc:
            writer.close()
            Lake.discard([staged])
            exc.stats = run_stats(stats, ctx)  # the run log counts a failed provider's too
            raise
        finally:
            progress.done()
            self._spend(budget)
        writer.close()
        whole_share = ctx.complete and self.options.limit is None and not exhausted
        outputs = {
            "status": "ok",
            "raw": staged.to_dict(),
            "stats": run_stats(stats, ctx),
            "next_state": ctx.next_state,
            # A shard's share of a split provider is never its whole catalog: the run's final
            # step decides its deletions from every shard's keys (pipelines/run/shard_deletions.py).
            "complete": whole_share and not split,
        }
        if split:
            outputs["split"], outputs["share_complete"] = True, whole_share
        if budget is not None:
            outputs["budget"] = budget.to_dict()
        if exhausted:
            outputs["budget_exhausted"] = exhausted
        return outputs

    def _pull(
        self, provider: Provider, ctx: FetchContext, writer: RawWriter, progress: Progress
    ) -> str | None:
        """Land what the provider yields (without buyer data when the dataset holds some);
        when the budget runs out, the reason (the pull is then partial and its completeness
        counts are not compared)."""
        if self.dataset.personal_data:  # the provider scrubs what it spools to disk with it too
            ctx.scrub = Scrubber(provider.name, self.env).scrub
        scrub = ctx.scrub
        records = provider.fetch_dataset(self.dataset.name, ctx)
        try:
            for record in progress.count(islice(records, self.options.limit)):
                record = scrub(record) if scrub else record
                writer.write(mark_demo(record) if self.options.offline else record)
        except BudgetExhaustedError as exc:
            log.warning("%s; what was fetched is committed, the next run goes on from there", exc)
            return str(exc)
        check_counts(provider.name, ctx)
        return None

    def _budget(self, provider: Provider) -> CallBudget | None:
        """Today's budget of ``provider`` (spent by every run and shard of this lake), or None
        without a limit; offline runs and replays call no API and have none."""
        limit = self.config.budgets.get(provider.name, provider.daily_budget)
        if not limit or self.options.offline or self.options.replay is not None:
            return None
        day = utc_day()
        used = read_usage(self.lake.storage, day).get(provider.name, 0)
        return CallBudget(provider.name, limit, used, day=day, unit=provider.budget_unit)

    def _spend(self, budget: CallBudget | None) -> None:
        """Add this run's calls (or points) to the day's usage in the lake (not for a dry run)."""
        if budget is not None and not self.options.dry_run:
            add_usage(self.lake.storage, budget.day, self.run_id, budget.provider, budget.spent)

    def _fetch_context(
        self,
        provider: Provider,
        env: Mapping[str, str],
        options: Mapping[str, Any],
        stats: ProviderStats,
        progress: Progress,
        budget: CallBudget | None = None,
    ) -> FetchContext:
        config = self.config
        personal = self.dataset.personal_data  # answers holding buyer data are never cached
        use_cache = not (self.options.no_cache or self.options.offline or personal)
        cache = (
            ResponseCache(
                Path(config.cache_dir) / provider.name,
                config.cache_ttl_seconds,
                refresh=self.options.full_refresh,  # fresh answers only, and they are kept
            )
            if use_cache
            else None
        )
        plog = logging.getLogger(f"pipeline.{provider.name}")
        http = HttpClient(
            provider.name,
            stats,
            timeout=(config.http_connect_timeout_seconds, config.http_timeout_seconds),
            max_retries=config.http_max_retries,
            backoff_factor=config.http_backoff_seconds,
            retry_budget=self.retry_budget,
            breaker_threshold=config.http_breaker_threshold,
            cache=cache,
            log=plog,
            limits=self.http_limits(),
            budget=budget,
        )
        return FetchContext(
            settings=provider.resolve_settings(env),
            options=options,
            http=http,
            stats=stats,
            log=plog,
            limit=self.options.limit,
            cache=cache,
            on_page=progress.page,
            full_refresh=self.options.full_refresh,
            offline=self.options.offline,
            state=provider_state(self.home, provider.name),
            paging=PagingLimits(config.max_pages, config.max_empty_pages),
            datasets=(self.dataset.name,),
        )

    def http_limits(self) -> HttpLimits:
        """The ``[pipeline]`` deadlines and size cap of every call, and the run's end."""
        config = self.config
        cap = config.http_max_body_mb
        return HttpLimits(
            deadline=config.http_deadline_seconds,
            max_body_bytes=int(cap * 1_000_000) if cap > 0 else None,
            call_budget=config.http_call_budget_seconds,
            download_deadline=config.http_download_deadline_seconds,
            stop_at=self.stop_at,
        )


def check_counts(name: str, ctx: FetchContext) -> None:
    """Fail the provider when a count it recorded disagrees (see ``FetchContext.expect``).

    The extract step fails, so nothing of this provider is committed: no watermark moves and
    no deletion row is written.
    """
    for count in ctx.counts:
        log.info(
            "%s: %s: source %d, expected %d, read %d",
            name, count.what, count.source, count.expected, count.read,
        )  # fmt: skip
    problems = ctx.count_problems()
    if problems:
        raise IncompleteFetchError(
            f"{name}: incomplete pull, nothing committed: {'; '.join(problems)}"
        )


def run_stats(stats: ProviderStats, ctx: FetchContext) -> dict[str, Any]:
    """The call counters and the completeness counts, as the run log keeps them."""
    return {**asdict(stats), "completeness": [count.as_dict() for count in ctx.counts]}


def provider_state(lake: Lake, name: str) -> dict[str, Any]:
    """What ``name`` saved in its ``next_state`` during the last committed run."""
    meta = readable_state_meta(lake.storage) or {}
    return meta.get("extra", {}).get("providers", {}).get(name, {})
