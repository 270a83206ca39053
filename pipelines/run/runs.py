"""Finding runs again: ``--status``, ``--resume`` and ``run-step`` pick up a run by its id."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.config import PipelineConfig
from pipelines.errors import ConfigError
from pipelines.run.checkpoint import Checkpoint, latest_run_id, unfinished_runs
from pipelines.run.options import RunOptions, work_roots
from providers.base import Provider

if TYPE_CHECKING:
    from pipelines.run.runner import Runner


def _roots(config: PipelineConfig) -> list[Path]:
    """The work folders of the lake and of the offline demo lake: a run id is looked up in both."""
    return work_roots(config)


def find_checkpoint(config: PipelineConfig, run_id: str | None) -> Checkpoint | None:
    """The checkpoint of ``run_id`` (or the newest run's), from either lake."""
    for root in _roots(config):
        wanted = run_id or latest_run_id(root)
        if wanted and (root / "_runs" / wanted / "checkpoint.json").exists():
            return Checkpoint.load(root, wanted)
    return None


def runner_for_run(
    config: PipelineConfig,
    providers: Mapping[str, Provider],
    env: Mapping[str, str],
    run_id: str | None,
    *,
    offline: bool = False,
) -> Runner:
    """A runner bound to an existing run (the last unfinished one when no id is given).

    The runner (the whole pipeline) is imported here: ``status`` finds checkpoints cheaply."""
    from pipelines.run.runner import Runner

    if run_id is None:
        roots = _roots(config)[1:] if offline else _roots(config)
        pending = [c for root in roots for c in unfinished_runs(root)]
        if not pending:
            raise ConfigError("--resume: no unfinished run to resume")
        run_id = max(pending, key=lambda c: c.run_id).run_id
    checkpoint = find_checkpoint(config, run_id)
    if checkpoint is None:
        raise ConfigError(f"--resume: no run {run_id!r} under {_roots(config)[0]}/_runs")
    if checkpoint.abandoned:
        raise ConfigError(f"--resume: run {run_id} was abandoned (superseded or unreadable)")
    options = RunOptions.from_dict(checkpoint.options)
    return Runner(config, providers, env, options, run_id=checkpoint.run_id)
