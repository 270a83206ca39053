"""What an artifact must show before its files are used.

Anyone who can run a workflow in the repository can upload an artifact under any name, a
``pipeline-state`` included: a pull request may add a workflow of its own. So an artifact is
judged by the run that made it, as the REST API reports it (``GET /repos/{o}/{r}/actions/
runs/{id}``: ``path``, ``event``, ``head_branch``, ``head_repository``), never by its name;
and its files by a checksum manifest, never by where they say they belong:

- ``untrusted_reason``: the state is taken only from runs of the pipeline workflow
  (``.github/workflows/pipeline.yml``), started by ``schedule`` or ``workflow_dispatch``,
  on the default branch of this repository;
- ``safe_relative``: a path named inside an artifact is relative and stays below its
  folder (no ``..``, no absolute or drive paths); ``extract_zip`` already refuses zip
  members that escape and symbolic links;
- ``write_checksums``/``verify_checksums``: the staged state carries
  ``state-checksums.json`` (size and sha256 of every file); a restored state must match it
  exactly, with no file missing and none extra.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from pipelines.errors import PipelineError

PIPELINE_WORKFLOW = ".github/workflows/pipeline.yml"
TRUSTED_EVENTS = ("schedule", "workflow_dispatch")
STATE_CHECKSUMS = "state-checksums.json"


class ArtifactVerificationError(PipelineError):
    """An artifact's files do not match its manifest, or clash with local files."""


def untrusted_reason(
    run: Mapping[str, Any], repo: str, default_branch: str, workflow: str = PIPELINE_WORKFLOW
) -> str | None:
    """Why the run that made an artifact is not trusted with the state, or None when it is."""
    path = str(run.get("path") or "").split("@", 1)[0]  # a reusable workflow's path@ref
    if path != workflow:
        return f"made by workflow {path!r}, not {workflow}"
    event = run.get("event")
    if event not in TRUSTED_EVENTS:
        return f"made by a {event!r} run (only {' and '.join(TRUSTED_EVENTS)} runs are trusted)"
    wrong_branch = branch_reason(run.get("head_branch"), default_branch)
    if wrong_branch:
        return wrong_branch
    head_repo = str((run.get("head_repository") or {}).get("full_name") or "")
    if head_repo.lower() != repo.lower():
        return f"made from repository {head_repo!r}, not {repo}"
    return None


def branch_reason(branch: Any, default_branch: str) -> str | None:
    """Why a run on ``branch`` is not trusted with the state, or None on the default branch."""
    if branch == default_branch:
        return None
    return f"made on branch {branch!r}, not the default branch {default_branch}"


def safe_relative(path: Any, what: str) -> PurePosixPath:
    """``path`` as a relative path that cannot leave its folder, or an error naming it."""
    parts = PurePosixPath(path).parts if isinstance(path, str) and path else ()
    if (
        not parts
        or "\\" in path
        or "\0" in path
        or PurePosixPath(path).is_absolute()
        or ":" in parts[0]
        or ".." in parts
    ):
        raise ArtifactVerificationError(f"{what}: path {path!r} escapes its folder; refused")
    return PurePosixPath(*parts)


def write_checksums(folder: Path, files: Iterable[Path]) -> Path:
    """Write ``state-checksums.json`` into ``folder`` for ``files`` (all under it)."""
    from pipelines.lake.lake import _sha256  # the lake (pyarrow) only when checksums are made

    entries = {
        file.relative_to(folder).as_posix(): {"bytes": file.stat().st_size, "sha256": _sha256(file)}
        for file in sorted(files)
    }
    target = folder / STATE_CHECKSUMS
    target.write_text(json.dumps({"files": entries}, indent=1, sort_keys=True) + "\n")
    return target


def verify_checksums(folder: Path, what: str) -> int:
    """Check every file under ``folder`` against its ``state-checksums.json``; the file count."""
    from pipelines.lake.lake import _sha256

    manifest = folder / STATE_CHECKSUMS
    if not manifest.is_file():
        raise ArtifactVerificationError(f"{what}: no {STATE_CHECKSUMS} inside; refused")
    try:
        entries = json.loads(manifest.read_text())["files"]
        listed = {safe_relative(name, what): dict(entry) for name, entry in entries.items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ArtifactVerificationError(f"{what}: {STATE_CHECKSUMS} is malformed") from exc
    present = {
        PurePosixPath(p.relative_to(folder).as_posix())
        for p in folder.rglob("*")
        if p.is_file() and p != manifest
    }
    extra = sorted(present - listed.keys())
    if extra:
        raise ArtifactVerificationError(f"{what}: {extra[0]} is not in {STATE_CHECKSUMS}; refused")
    for name, entry in sorted(listed.items()):
        file = folder / name
        if not file.is_file():
            raise ArtifactVerificationError(f"{what}: {name} is missing; refused")
        if file.stat().st_size != entry.get("bytes") or _sha256(file) != entry.get("sha256"):
            raise ArtifactVerificationError(
                f"{what}: {name}: size or sha256 differs from {STATE_CHECKSUMS}; refused"
            )
    return len(listed)
