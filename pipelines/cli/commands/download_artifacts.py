"""``run_pipeline.py download-artifacts``: bring the lake of GitHub runs to this machine.

Each pipeline run in Actions uploads ``products-<run_id>-<attempt>``: its new
Parquet parts, quarantine, raw landing files, manifest, report and run log,
laid out as in the runner's working directory. This command fetches those
artifacts through the REST API (only runs of ``--workflow``, pipeline.yml by
default, unless ``--any-workflow``), checks every file against its manifest
(size and sha256; a file the manifest does not name is an error, and so is a
path that would leave the lake folder, such as ``../../pipelines/x.py``: see
``pipelines/ops/artifact_trust.py``), and merges them
into the local ``data/``: files already present with the same checksum are
left alone, a different file at the same path is a conflict that stops that
artifact, and the manifest is written last, as in a run's own commit. Running
it twice changes nothing.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.errors import ConfigError, PipelineError
from pipelines.lake.manifest import MANIFEST_DIR
from pipelines.ops.artifact_trust import ArtifactVerificationError, safe_relative

if TYPE_CHECKING:
    from pipelines.cli.main import CommandContext
    from pipelines.ops.github import Artifact, GitHubClient

HELP = (
    "Download the products artifacts of the last N runs (or one run) and merge them into "
    "the local data/ after checking them against their manifests (GITHUB_TOKEN or gh auth)."
)
PRODUCTS_PREFIX = "products-"
REQUIRED_ZONES = ("normalized", "quarantine")  # raw landing files are optional in an artifact
log = logging.getLogger("pipeline.download")


@dataclass
class Merged:
    copied: int = 0
    present: int = 0


def configure(parser: argparse.ArgumentParser) -> None:
    from pipelines.cli.parser import _positive_int  # the parser imports this module

    which = parser.add_mutually_exclusive_group()
    which.add_argument(
        "--runs", type=_positive_int, default=5, metavar="N",
        help="the last N runs that uploaded a products artifact (default 5)",
    )  # fmt: skip
    which.add_argument("--run-id", type=int, metavar="ID", help="one workflow run, by its id")
    parser.add_argument("--repo", metavar="OWNER/NAME",
                        help="default: GITHUB_REPOSITORY, else the origin remote")  # fmt: skip
    parser.add_argument("--workflow", default="pipeline.yml", metavar="FILE",
                        help="the workflow whose runs to read (default pipeline.yml)")  # fmt: skip
    parser.add_argument(
        "--any-workflow", action="store_true",
        help="with --run-id, accept a run of any workflow, not only of --workflow "
        "(its files are still checked against their manifests)",
    )  # fmt: skip
    parser.add_argument(
        "--branch", metavar="NAME",
        help="only runs on this branch (default: the repository's default branch)",
    )  # fmt: skip


def products_artifact(artifacts: list[Artifact]) -> Artifact | None:
    """The products artifact of a run's latest attempt (``products-<run>-<attempt>``)."""
    found = [a for a in artifacts if a.name.startswith(PRODUCTS_PREFIX)]
    return max(found, key=_attempt, default=None)


def _attempt(artifact: Artifact) -> int:
    suffix = artifact.name.rsplit("-", 1)[-1]
    return int(suffix) if suffix.isdigit() else 0


def select_artifacts(client: GitHubClient, args: argparse.Namespace) -> list[Artifact]:
    """The artifacts to merge, oldest run first."""
    if args.run_id is not None:
        run = client.workflow_run(args.run_id)  # a clear 404 for a wrong id
        wanted = f".github/workflows/{args.workflow}"
        path = str(run.get("path") or "").split("@", 1)[0]
        if path != wanted and not args.any_workflow:
            raise ConfigError(f"--run-id: run {args.run_id} is a run of {path!r}, not of "
                              f"{wanted}; pass --any-workflow to take it anyway")  # fmt: skip
        artifact = products_artifact(client.run_artifacts(args.run_id))
        if artifact is None:
            raise ConfigError(f"--run-id: run {args.run_id} has no products artifact "
                              "(a dry run, or a run that committed nothing)")  # fmt: skip
        return [artifact]
    branch = args.branch or client.default_branch()
    chosen: list[Artifact] = []
    for run in client.workflow_runs(args.workflow, branch=branch):
        artifact = products_artifact(client.run_artifacts(run["id"]))
        if artifact is not None:
            chosen.append(artifact)
        if len(chosen) == args.runs:
            break
    return chosen[::-1]


def verify(unpacked: Path) -> list[tuple[Path, dict[str, Any], Path]]:
    """Check an unpacked artifact against its manifests.

    Returns ``(lake root inside the artifact, manifest, manifest path)`` for each
    manifest; raises ``ArtifactVerificationError`` naming the first bad file.
    """
    manifests = sorted(unpacked.rglob(f"{MANIFEST_DIR}/*.json"))
    if not manifests:
        raise ArtifactVerificationError("no manifest (data/_manifests/<run_id>.json) inside")
    lakes, named = [], set()
    for path in manifests:
        try:
            lakes.append(_verify_manifest(path, named))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ArtifactVerificationError(f"{path.name}: malformed manifest") from exc
    for root in {lake for lake, _, _ in lakes}:
        for file in root.rglob("*"):
            if file.is_file() and file not in named:
                raise ArtifactVerificationError(
                    f"{file.relative_to(unpacked)}: not in any manifest"
                )
    return lakes


def _verify_manifest(path: Path, named: set[Path]) -> tuple[Path, dict[str, Any], Path]:
    """Check the files one manifest names (adding them to ``named``)."""
    root, manifest = path.parent.parent, json.loads(path.read_text())
    if manifest.get("run_id") != path.stem:
        raise ArtifactVerificationError(f"{path.name}: manifest of run {manifest.get('run_id')!r}")
    for entry in manifest["files"]:
        file = root / safe_relative(entry.get("path"), path.name)
        named.add(file)
        check_file(file, entry)
    named.add(path)
    return root, manifest, path


def check_file(file: Path, entry: dict[str, Any]) -> None:
    from pipelines.lake.lake import _sha256  # pyarrow: not for --help

    if not file.exists():
        if entry["zone"] in REQUIRED_ZONES:
            raise ArtifactVerificationError(f"{entry['path']}: missing from the artifact")
        return
    if file.stat().st_size != entry["bytes"] or _sha256(file) != entry["sha256"]:
        raise ArtifactVerificationError(
            f"{entry['path']}: size or sha256 differs from the manifest"
        )


def merge(unpacked: Path, data_dir: Path) -> Merged:
    """Verify, then copy what is missing locally; the manifest goes last. Idempotent."""
    from pipelines.lake.lake import TMP_SUFFIX

    merged = Merged()
    for root, manifest, manifest_path in verify(unpacked):
        local = data_dir.joinpath(*root.relative_to(unpacked).parts[1:])  # data/demo -> <data>/demo
        moves = [(root / e["path"], local / e["path"]) for e in manifest["files"]]
        moves = [(src, dst) for src, dst in moves if src.exists()]
        moves.append((manifest_path, local / MANIFEST_DIR / manifest_path.name))
        pending = [(src, dst) for src, dst in moves if not _same(src, dst)]
        merged.present += len(moves) - len(pending)
        for src, dst in pending:
            tmp = dst.with_name(dst.name + TMP_SUFFIX)
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, tmp)
            os.replace(tmp, dst)
        merged.copied += len(pending)
    return merged


def _same(src: Path, dst: Path) -> bool:
    """True when ``dst`` already holds ``src``; a different file there is a conflict."""
    from pipelines.lake.lake import _sha256

    if not dst.exists():
        return False
    if dst.stat().st_size == src.stat().st_size and _sha256(dst) == _sha256(src):
        return True
    raise ArtifactVerificationError(f"{dst}: a different file is already there; not overwritten")


def download_and_merge(
    client: GitHubClient, artifacts: list[Artifact], data_dir: Path
) -> Iterator[tuple[Artifact, str]]:
    """Merge each artifact; yield it with a one-line outcome (``merged``, ``expired``, error)."""
    from pipelines.ops.github import ArtifactExpiredError, extract_zip

    for artifact in artifacts:
        with tempfile.TemporaryDirectory() as temp:
            try:
                archive = client.download_artifact(artifact, Path(temp) / "artifact.zip")
                extract_zip(archive, Path(temp) / "unpacked")
                merged = merge(Path(temp) / "unpacked", data_dir)
            except ArtifactExpiredError as exc:
                yield artifact, f"skipped: {exc}"
                continue
            except PipelineError as exc:  # a bad download or archive, or a verification error
                yield artifact, f"error: {exc}"
                continue
        yield artifact, f"merged: {merged.copied} file(s) copied, {merged.present} already present"


def execute(args: argparse.Namespace, context: CommandContext) -> int:
    from pipelines.ops.github import GitHubClient  # requests: not for --help

    client = GitHubClient.from_env(context.env, args.repo)
    artifacts = select_artifacts(client, args)
    if not artifacts:
        print("no run with a products artifact found")
        return 0
    failed = 0
    for artifact, outcome in download_and_merge(client, artifacts, Path(context.config.data_dir)):
        print(f"{artifact.name} (run {artifact.run_id}): {outcome}")
        failed += outcome.startswith("error")
    return 1 if failed else 0
