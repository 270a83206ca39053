"""Carry the pipeline's state from one GitHub Actions run to the next.

Every runner starts with an empty checkout, but a run needs what the last one
left: the dedup state and provider watermarks (``<data>/state/``), the
manifests (``<data>/_manifests/``), the run history the anomaly detector
trains on (``logs/runs.jsonl``), the acknowledged runs and the map from
pipeline runs to workflow runs (``logs/github_runs.jsonl``). Those paths,
for the real lake and the offline demo lake (``<data>/demo``, ``logs/demo``)
alike, are ``state_paths``.

The workflow stages them into one folder after a committed run, saves that
folder to ``actions/cache`` (a fresh key per run) and uploads it as the
``pipeline-state`` artifact. The next run restores the newest cache entry by
key prefix; on a miss (caches are evicted after 7 days unused) it takes the
newest ``pipeline-state`` artifact made by a trusted run (the pipeline workflow,
``schedule`` or ``workflow_dispatch``, on the default branch: see
``pipelines/ops/artifact_trust.py``) through the REST API, and uses it only when
its ``state-checksums.json`` verifies. With neither, the runner finds no state
and marks the run ``bootstrap``.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.config import PipelineConfig
from pipelines.lake.datasets import DATASETS
from pipelines.lake.dedup import STATE_DIR
from pipelines.lake.lake import MANIFEST_DIR
from pipelines.ops.artifact_trust import (
    branch_reason,
    untrusted_reason,
    verify_checksums,
    write_checksums,
)
from pipelines.ops.github import Artifact, GitHubClient, extract_zip
from pipelines.run.detect import ACKNOWLEDGED_FILE

STATE_ARTIFACT = "pipeline-state"
GITHUB_RUNS_FILE = "github_runs.jsonl"
DEMO_DIR = "demo"

log = logging.getLogger("pipeline.state_sync")


def state_paths(config: PipelineConfig) -> list[Path]:
    """Files and folders (relative to the working directory) that make up the state: each
    table lake's (products at the root, ``orders/``, ``order_lines/``) state and manifests."""
    data = Path(config.data_dir)
    roots = [data, data / DEMO_DIR]
    lakes = [root / folder for root in roots for folder in table_folders()]
    logs = [config.run_log_dir(offline) for offline in (False, True)]
    return [
        *(lake / name for lake in lakes for name in (STATE_DIR, MANIFEST_DIR)),
        *(log / name for log in logs for name in ("runs.jsonl", GITHUB_RUNS_FILE)),
        config.run_log_dir() / ACKNOWLEDGED_FILE,  # one for both modes (acknowledge)
    ]


def _check_relative(path: Path) -> None:
    if path.is_absolute() or ".." in path.parts:
        raise ValueError(f"{path}: state paths must be relative to the working directory")


def copy_tree(paths: list[Path], source: Path, dest: Path) -> list[Path]:
    """Copy each of ``paths`` (relative) that exists under ``source`` to the same place under
    ``dest``; hard links where possible, since the files are never modified in place."""
    copied = []
    for rel in paths:
        _check_relative(rel)
        origin = source / rel
        files = sorted(p for p in origin.rglob("*") if p.is_file()) if origin.is_dir() else []
        if origin.is_file():
            files = [origin]
        for file in files:
            target = dest / file.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.unlink(missing_ok=True)
            try:
                os.link(file, target)
            except OSError:
                shutil.copy2(file, target)
            copied.append(target)
    return copied


def stage_state(config: PipelineConfig, workdir: Path, dest: Path) -> list[Path]:
    """Put a fresh copy of the state into ``dest`` (emptied first), ready to cache or upload,
    with its checksums (``state-checksums.json``)."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    files = copy_tree(state_paths(config), workdir, dest)
    return [*files, write_checksums(dest, files)]


@dataclass(frozen=True)
class Restored:
    """Where the state of this run came from: ``cache``, ``artifact`` or ``none``.

    ``skipped`` says, one line each, which newer state artifacts were not trusted and why.
    """

    source: str
    detail: str
    files: int
    skipped: tuple[str, ...] = ()


def restore_state(
    config: PipelineConfig,
    env: Mapping[str, str],
    workdir: Path,
    cache_dir: Path | None,
    cache_key: str,
    client: GitHubClient | None = None,
) -> Restored:
    """Bring the last saved state into ``workdir``: from the cache, else the newest artifact.

    An API error while looking for the artifact is raised, not taken for "no
    state": starting from empty state would re-write every product as new.
    """
    paths = state_paths(config)
    if cache_key and cache_dir is not None and cache_dir.is_dir():
        files = copy_tree(paths, cache_dir, workdir)
        if files:
            return Restored("cache", f"cache entry {cache_key}", len(files))
    client = client or GitHubClient.from_env(env)
    artifact, skipped = trusted_state_artifact(client)
    if artifact is None:
        return Restored("none", "no cache entry and no trusted pipeline-state artifact", 0, skipped)
    what = f"artifact {artifact.name} of run {artifact.run_id}"
    with tempfile.TemporaryDirectory() as temp:
        archive = client.download_artifact(artifact, Path(temp) / "state.zip")
        unpacked = Path(temp) / "state"
        extract_zip(archive, unpacked)
        verify_checksums(unpacked, what)
        files = copy_tree(paths, unpacked, workdir)
    return Restored("artifact", what, len(files), skipped)


def trusted_state_artifact(client: GitHubClient) -> tuple[Artifact | None, tuple[str, ...]]:
    """The newest unexpired ``pipeline-state`` artifact made by a trusted run, and a line for
    each newer one passed over because its run is not trusted.

    A state artifact is uploaded only after its run committed, so the newest one
    belongs to the newest run that completed its commit.
    """
    default_branch, skipped = client.default_branch(), []
    for artifact in client.artifacts(STATE_ARTIFACT):
        if artifact.expired:
            log.info("skipping expired %s of run %s", artifact.name, artifact.run_id)
            continue
        reason = _untrusted(client, artifact, default_branch)
        if reason is None:
            return artifact, tuple(skipped)
        skipped.append(f"skipped {artifact.name} artifact {artifact.id} of run "
                       f"{artifact.run_id}: {reason}")  # fmt: skip
        log.warning("%s", skipped[-1])
    return None, tuple(skipped)


def _untrusted(client: GitHubClient, artifact: Artifact, default_branch: str) -> str | None:
    """Why ``artifact`` is not trusted; the listing's branch spares a run lookup when it can."""
    if artifact.run_id is None:
        return "made by no workflow run"
    if artifact.head_branch is not None and branch_reason(artifact.head_branch, default_branch):
        return branch_reason(artifact.head_branch, default_branch)
    run = client.workflow_run(int(artifact.run_id))
    return untrusted_reason(run, client.repo, default_branch)


def stage_products(
    record: Mapping[str, Any], workdir: Path, log_dir: Path, dest: Path, *, include_raw: bool
) -> list[Path]:
    """Stage the run's committed files, manifests, report and run log into ``dest``.

    Paths inside keep their place relative to the working directory
    (``data/normalized/…``, ``data/_manifests/<run_id>.json``, ``data/orders/…``,
    ``logs/…``), so ``download-artifacts`` can put them back where they belong. Each table
    lake the run committed to (products, and the datasets it pulled) gives its files.
    """
    run_id, root = record["run_id"], relative_to_workdir(Path(record["data_dir"]), workdir)
    log_dir = relative_to_workdir(log_dir, workdir)
    files: list[Path] = []
    for lake in (root / folder for folder in table_folders()):
        manifest_path = lake / MANIFEST_DIR / f"{run_id}.json"
        if not (workdir / manifest_path).is_file():
            continue  # a table this run did not commit to
        manifest = json.loads((workdir / manifest_path).read_text())
        files += [lake / entry["path"] for entry in manifest["files"]
                  if include_raw or entry["zone"] != "raw"]  # fmt: skip
        files.append(manifest_path)
    reports = [log_dir / f"report-{run_id}.{ext}" for ext in ("md", "html")]
    logs = [log_dir / "runs.jsonl", log_dir / GITHUB_RUNS_FILE]
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    return copy_tree([*files, *reports, *logs], workdir, dest)


def table_folders() -> list[str]:
    """Each table lake's folder under a lake's root, in the datasets' order ("": products)."""
    return [table.folder for dataset in DATASETS.values() for table in dataset.tables]


def products_log_dir(config: PipelineConfig, offline: bool) -> Path:
    """Where a products artifact holds a run's log folder: the run log folder of its mode
    (``config.run_log_dir``) relative to the working directory, as ``stage_products`` puts it
    (``logs``, or ``logs/demo`` for an offline demo run)."""
    return relative_to_workdir(config.run_log_dir(offline), Path.cwd())


def relative_to_workdir(path: Path, workdir: Path) -> Path:
    """``path`` relative to the working directory (a relative ``path`` already is)."""
    return path.resolve().relative_to(workdir.resolve()) if path.is_absolute() else path
