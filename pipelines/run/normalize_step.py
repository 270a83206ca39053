"""The ``normalize.<provider>`` step: the landed lines (or a replay's) through ``NormalizeStage``,
skipping unchanged raw when the committed state allows it (``skip.py``)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import Any

from pipelines.checks.quality_config import QualityConfig
from pipelines.lake.lake import Lake, StagedFile, read_lines
from pipelines.run.options import RunOptions
from pipelines.run.process import NormalizeStage, RunContext
from pipelines.run.replay import replay_records
from pipelines.run.skip import fingerprint, skip_state
from providers.base import Provider

log = logging.getLogger("pipeline.runner")
ZONES = ("candidates", "quarantine", "unchanged")  # the stage's staged files


def normalize_step(provider: Provider, run: RunContext, quality: QualityConfig, lake: Lake,
                   where: tuple[Path, str], extract: dict[str, Any], options: RunOptions
                   ) -> dict[str, Any]:  # fmt: skip
    """Normalize and check what ``extract`` landed (``where``: the work folder and ``dt``)."""
    name = provider.name
    work, dt = where
    files = [lake.part_file(work, zone, dt, name, run.run_id) for zone in ZONES]
    mark = fingerprint(quality)
    state = None if options.full_refresh else skip_state(lake.storage, name, mark)
    stage = NormalizeStage(provider, run, quality, *files, state)
    records: Iterator[bytes] = iter(())
    if "raw" in extract:
        records = read_lines(StagedFile.from_dict(extract["raw"]).staged)
    if "replay_files" in extract:
        files_in = [Path(f) for f in extract["replay_files"]]
        records = islice(replay_records(provider, files_in, demo=options.offline), options.limit)
    stage.feed(records)
    staged = stage.close()
    for drift in stage.counts.drift():
        log.warning("schema drift in %s: %d records dropped: %s", name, drift["records"],
                    drift["cause"])  # fmt: skip
    counts = stage.counts.to_dict()
    return {"status": "ok", "counts": counts, "staged": [f.to_dict() for f in staged],
            "raw_skip": mark}  # fmt: skip
