"""The lake checked against its manifests: ``check_manifests`` before a run, ``verify`` of
every committed byte, and ``repair`` of lost or corrupt manifests from the parts and the state.

The manifests are the truth. A run in the state's applied runs must have a manifest, and
every manifest must parse; otherwise nothing runs (``LakeDamagedError``, exit 2) until
``repair`` rebuilds it. A rebuilt manifest lists the run's files as they are now (rows, bytes,
sha256 read from the files, files found in ``_trash/`` put back first); what it cannot
bring back is the run's per-provider counts, and the files' original checksums.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from pipelines.errors import LakeDamagedError
from pipelines.lake.lake import _RUN_FILE, ZONES, Lake
from pipelines.lake.manifest import MANIFEST_DIR, REPAIR_HINT, manifest_path
from pipelines.lake.trash import move_to_trash, trashed_files

_PARTITION = re.compile(r"/dt=(?P<dt>[^/]+)/source=(?P<source>[^/]+)/")


def check_manifests(lake: Lake, applied_runs: Iterable[str]) -> None:
    """Raise ``LakeDamagedError`` (one line) for a corrupt manifest or an applied run without
    one; every manifest is parsed on the way."""
    present = set(lake.manifest_ids())
    for run_id in sorted(present):
        lake.read_manifest(run_id)
    missing = sorted(set(applied_runs) - present)
    if missing:
        where = f"{lake.uri}/{manifest_path(missing[0])}"
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise LakeDamagedError(
            f"{where}: manifest missing{more}, though state/state.json lists run {missing[0]} "
            f"as committed; {REPAIR_HINT}"
        )


def file_sha256(lake: Lake, rel: str) -> str:
    """The sha256 of a lake file, streamed (local or object storage)."""
    digest = hashlib.sha256()
    with lake.filesystem.open_input_stream(
        str(lake.storage.location(rel)), compression=None
    ) as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def file_problem(lake: Lake, entry: dict[str, Any]) -> str | None:
    """Why a committed file does not match its manifest entry, or None."""
    rel = entry["path"]
    if not lake.storage.exists(rel):
        return f"{rel}: missing"
    size = lake.storage.size(rel)
    if size != entry["bytes"]:
        return f"{rel}: {size} bytes, the manifest says {entry['bytes']}"
    digest = file_sha256(lake, rel)
    if digest != entry["sha256"]:
        return f"{rel}: sha256 {digest[:12]}…, the manifest says {entry['sha256'][:12]}…"
    return None


def verify_lake(lake: Lake, applied_runs: Iterable[str], where: str = "") -> list[str]:
    """One line per corrupt or missing manifest and per committed file that does not match
    its manifest (size, then sha256); empty when the lake is whole. ``where`` goes before
    each lake path (a table's folder, ``orders/``)."""
    problems = []
    present = lake.manifest_ids()
    for run_id in sorted(set(applied_runs) - set(present)):
        problems.append(f"{where}{manifest_path(run_id)}: missing (run {run_id} is in the state)")
    for run_id in present:
        try:
            manifest = lake.read_manifest(run_id)
        except LakeDamagedError as exc:
            problems.append(str(exc))
            continue
        files = (file_problem(lake, f) for f in manifest["files"])
        problems += [f"{where}{p}" for p in files if p]
    return problems


def verify_run(lake: Lake, run_id: str, zone: str) -> None:
    """Raise ``LakeDamagedError`` unless run ``run_id``'s files of ``zone`` match its manifest."""
    manifest = lake.read_manifest(run_id) or {"files": []}
    for entry in manifest["files"]:
        problem = entry["zone"] == zone and file_problem(lake, entry)
        if problem:
            raise LakeDamagedError(f"{lake.uri}/{problem} (run {run_id}); nothing was read")


def verify_local_files(lake: Lake, paths: Iterable[Path]) -> None:
    """Raise ``LakeDamagedError`` when one of ``paths`` is a committed file of this (local)
    lake that no longer matches its manifest; files from elsewhere are not checked."""
    if lake.storage.remote:
        return
    root = Path(lake.uri).resolve()
    wanted = {p.resolve() for p in paths}
    for manifest in lake.manifests():
        for entry in manifest["files"]:
            problem = root / entry["path"] in wanted and file_problem(lake, entry)
            if problem:
                raise LakeDamagedError(f"{root}/{problem} (run {manifest['run_id']})")


@dataclass
class RepairReport:
    """What ``repair`` rebuilt, and what it could not."""

    rebuilt: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)


def damaged_runs(lake: Lake, applied_runs: Iterable[str]) -> list[str]:
    """Run ids whose manifest is corrupt, or missing though the state lists the run."""
    present = lake.manifest_ids()
    damaged = set(applied_runs) - set(present)
    for run_id in present:
        try:
            lake.read_manifest(run_id)
        except LakeDamagedError:
            damaged.add(run_id)
    return sorted(damaged)


def repair(lake: Lake, applied_runs: Iterable[str]) -> RepairReport:
    """Rebuild every damaged manifest from the run's files (put back from ``_trash/`` first
    when they are there); a corrupt manifest goes to ``_trash/``, never deleted."""
    report = RepairReport()
    trash = trashed_files(lake.storage)
    for run_id in damaged_runs(lake, applied_runs):
        for rel, trashed in sorted(trash.items()):
            if _run_of(rel) == run_id and not lake.storage.exists(rel):
                lake.storage.move(trashed, rel)
                report.restored.append(rel)
        files = [rel for zone in ZONES for rel in lake.storage.list_files(zone)
                 if _run_of(rel) == run_id]  # fmt: skip
        if not files:
            report.lost.append(run_id)
            continue
        if lake.storage.exists(manifest_path(run_id)):
            move_to_trash(lake.storage, [manifest_path(run_id)])
        lake.storage.write_bytes(manifest_path(run_id), rebuilt_manifest(lake, run_id, files))
        report.rebuilt.append(run_id)
    return report


def rebuilt_manifest(lake: Lake, run_id: str, files: list[str]) -> bytes:
    """A manifest for ``files`` as they are now; counts cannot be rebuilt and stay empty."""
    entries = [_entry(lake, rel) for rel in files]
    manifest = {
        "run_id": run_id,
        "dt": _PARTITION.search(files[0])["dt"],
        "files": entries,
        "counts": {},
        "repaired_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    return json.dumps(manifest, indent=2, sort_keys=True).encode()


def _entry(lake: Lake, rel: str) -> dict[str, Any]:
    with lake.filesystem.open_input_stream(
        str(lake.storage.location(rel)), compression=None
    ) as stream:
        data = stream.read()
    zone = rel.split("/", 1)[0]
    if zone == "raw":
        text = zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()
        rows = sum(1 for line in text.splitlines() if line.strip())
    else:
        rows = pq.ParquetFile(pa.BufferReader(data)).metadata.num_rows
    return {
        "path": rel, "zone": zone, "source": _PARTITION.search(rel)["source"], "rows": rows,
        "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
    }  # fmt: skip


def _run_of(rel: str) -> str | None:
    if rel.startswith(MANIFEST_DIR) or "/source=" not in rel:
        return None
    match = _RUN_FILE.match(rel.rsplit("/", 1)[-1])
    return match["run_id"] if match else None
