"""The products artifact of a run whose lake is an object store: what a person needs to read.

The data stays in the lake (a bucket is where readers look for it, and a run's files can be
far larger than an artifact should be). The artifact carries the run's reports, its run
record, the local run logs (for ``file-issues``), a copy of its manifest and a small sample of
the rows it wrote, so that a person can see what a run did without credentials for the lake:

    logs/report-<run_id>.md|html, logs/github_runs.jsonl
    logs/runs.jsonl               the lake's run log up to this run (its last ``LOG_RUNS``),
                                  so that file-issues sees every machine's runs
    logs/run-<run_id>.json        the run-log record
    lake/_manifests/<run_id>.json the manifest, as committed (it names each file in the lake)
    lake/sample-<run_id>.jsonl    up to ``SAMPLE_ROWS`` rows of each normalized file
    lake/orders/_manifests/<run_id>.json, lake/order_lines/_manifests/<run_id>.json
                                  the manifests of the datasets beyond products it pulled
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from pipelines.lake.lake import MANIFEST_DIR, Lake
from pipelines.lake.runlog import read_lake_runs
from pipelines.ops.state_sync import (
    GITHUB_RUNS_FILE,
    copy_tree,
    relative_to_workdir,
    table_folders,
)

SAMPLE_ROWS = 20  # per normalized file
LOG_RUNS = 500  # runs of the lake's run log carried (issue histories show the last 12)


def stage_lake_products(
    record: Mapping[str, Any], manifest: Mapping[str, Any], lake: Lake, log_dir: Path, dest: Path
) -> list[Path]:
    """Stage the reports, run record, manifest and a sample of ``record``'s run into ``dest``."""
    run_id, workdir = record["run_id"], Path.cwd()
    logs = relative_to_workdir(log_dir, workdir)
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    paths = [logs / f"report-{run_id}.{ext}" for ext in ("md", "html")]
    staged = copy_tree([*paths, logs / GITHUB_RUNS_FILE], workdir, dest)
    texts = {
        dest / logs / "runs.jsonl": _jsonl(lake_log(lake, record)),
        dest / logs / f"run-{run_id}.json": json.dumps(record, indent=2, default=str) + "\n",
        dest / "lake" / MANIFEST_DIR / f"{run_id}.json": json.dumps(manifest, indent=2) + "\n",
        dest / "lake" / f"sample-{run_id}.jsonl": _jsonl(sample_rows(manifest, lake)),
    }
    texts.update(dataset_manifests(lake, run_id, dest / "lake"))
    for path, text in texts.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return [*staged, *texts]


def dataset_manifests(lake: Lake, run_id: str, dest: Path) -> dict[Path, str]:
    """The run's manifest in each table lake beyond products' (``orders/``, …) that has one."""
    texts = {}
    for folder in filter(None, table_folders()):
        manifest = Lake(lake.storage.child(folder)).read_manifest(run_id)
        if manifest is not None:
            path = dest / folder / MANIFEST_DIR / f"{run_id}.json"
            texts[path] = json.dumps(manifest, indent=2) + "\n"
    return texts


def _jsonl(rows: Iterable[Mapping[str, Any]]) -> str:
    return "".join(json.dumps(row, sort_keys=True, default=str) + "\n" for row in rows)


def lake_log(lake: Lake, record: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The lake's run log up to and including ``record`` (added if the log lacks it); runs
    another machine recorded after it are left for their own artifacts."""
    runs = read_lake_runs(lake.storage)
    ids = [r["run_id"] for r in runs]
    upto = ids.index(record["run_id"]) if record["run_id"] in ids else len(runs)
    return [*runs[:upto], dict(record)][-LOG_RUNS:]


def sample_rows(manifest: Mapping[str, Any], lake: Lake) -> Iterator[dict[str, Any]]:
    """The first ``SAMPLE_ROWS`` rows of each normalized file the manifest names (one row
    group is read, not the whole file), each with the file it came from in ``_file``."""
    for entry in manifest["files"]:
        if entry["zone"] != "normalized":
            continue
        location = str(lake.storage.location(entry["path"]))
        with lake.filesystem.open_input_file(location) as handle:
            batches = pq.ParquetFile(handle).iter_batches(batch_size=SAMPLE_ROWS)
            batch = next(batches, None)
            rows = batch.to_pylist() if batch is not None else []
        for row in rows:
            yield {"_file": entry["path"], **row}
