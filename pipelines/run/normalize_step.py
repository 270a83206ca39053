"""The ``normalize.<provider>`` step: the landed lines (or a replay's) through ``NormalizeStage``,
skipping unchanged raw when the committed state allows it (``skip.py``)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from pipelines.checks.quality_config import QualityConfig
from pipelines.config import PipelineConfig
from pipelines.lake.lake import Lake, StagedFile, read_lines
from pipelines.run.options import RunOptions
from pipelines.run.process import RunContext
from pipelines.run.replay import replay_records
from pipelines.run.skip import fingerprint
from pipelines.run.workers import NormalizeJob, run_normalize, workers_for
from providers.base import Provider

log = logging.getLogger("pipeline.runner")
ZONES = ("candidates", "quarantine", "unchanged")  # the stage's staged files


def normalize_step(provider: Provider, run: RunContext, quality: QualityConfig, lake: Lake,
                   where: tuple[Path, str], extract: dict[str, Any], options: RunOptions,
                   config: PipelineConfig) -> dict[str, Any]:  # fmt: skip
    """Normalize and check what ``extract`` landed (``where``: the work folder and ``dt``)."""
    name = provider.name
    work, dt = where
    files = [lake.part_file(work, zone, dt, name, run.run_id) for zone in ZONES]
    mark = fingerprint(quality)
    storage = None if options.full_refresh else lake.storage
    job = NormalizeJob(provider, run, quality, *files, storage, mark)
    workers = workers_for(options.workers, config, extract)
    counts, staged = run_normalize(job, lambda: _lines(provider, extract, options), workers)
    for drift in counts.drift():
        log.warning("schema drift in %s: %d records dropped: %s", name, drift["records"],
                    drift["cause"])  # fmt: skip
    return {"status": "ok", "counts": counts.to_dict(), "staged": [f.to_dict() for f in staged],
            "raw_skip": mark}  # fmt: skip


def _lines(provider: Provider, extract: dict[str, Any], options: RunOptions) -> Iterator[bytes]:
    """The landed lines of a provider's normalize step: those extract landed, or a replay's."""
    if "replay_files" in extract:
        files = [Path(f) for f in extract["replay_files"]]
        return islice(replay_records(provider, files, demo=options.offline), options.limit)
    if "raw" in extract:
        return read_lines(StagedFile.from_dict(extract["raw"]).staged)
    return iter(())
