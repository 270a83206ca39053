"""Manifests: what one run committed, the lake's source of truth, and reading them strictly.

``_manifests/<run_id>.json`` lists every file a run committed (lake-relative path, zone,
source, rows, bytes, sha256) and its counts; it is written last, in one atomic write, so
it is the commit point. A manifest that does not parse, or lacks what every reader needs,
is a ``LakeDamagedError`` naming the file and the command that rebuilds it, never a
``JSONDecodeError`` deep inside a run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pipelines.errors import LakeDamagedError

MANIFEST_DIR = "_manifests"
FILE_KEYS = ("path", "zone", "source", "rows", "bytes", "sha256")
REPAIR_HINT = "run `run_pipeline.py repair` to rebuild it from the parts and the state"


@dataclass
class Manifest:
    """What one run committed: its files (with rows and checksums) and its counts."""

    run_id: str
    dt: str
    files: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, indent=2, sort_keys=True).encode()


def manifest_path(run_id: str) -> str:
    return f"{MANIFEST_DIR}/{run_id}.json"


def parse_manifest(where: str, data: bytes) -> dict[str, Any]:
    """The manifest stored at ``where`` (for messages), or a one-line ``LakeDamagedError``."""
    try:
        manifest = json.loads(data)
    except ValueError as exc:
        message = f"{where}: manifest is not valid JSON ({exc}); {REPAIR_HINT}"
        raise LakeDamagedError(message) from None
    problem = _shape_problem(manifest)
    if problem:
        raise LakeDamagedError(f"{where}: manifest {problem}; {REPAIR_HINT}")
    return manifest


def _shape_problem(manifest: Any) -> str | None:
    if not isinstance(manifest, dict):
        return f"is a JSON {type(manifest).__name__}, not an object"
    if not isinstance(manifest.get("files"), list) or not isinstance(manifest.get("run_id"), str):
        return "lacks its run_id or its list of files"
    for number, entry in enumerate(manifest["files"], 1):
        if not isinstance(entry, dict) or any(key not in entry for key in FILE_KEYS):
            return f"file entry {number} lacks one of {', '.join(FILE_KEYS)}"
    return None
