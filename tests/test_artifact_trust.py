"""Artifacts are checked before they are trusted, against the fake GitHub on 127.0.0.1.

``restore-state`` takes a ``pipeline-state`` artifact only from a scheduled or dispatched run
of the pipeline workflow on the default branch of this repository, and only when its
``state-checksums.json`` verifies; ``download-artifacts`` refuses paths that leave the lake
and runs of other workflows. Planted artifacts are newer than the good one, as an attacker's
would be, and carry a state whose watermark is in 2099.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import stat
import zipfile
from pathlib import Path

import pytest

from pipelines.config import load_config
from pipelines.ops.artifact_trust import STATE_CHECKSUMS, write_checksums
from pipelines.ops.state_sync import STATE_ARTIFACT, stage_products, stage_state
from pipelines.run_pipeline import main
from tests.catalog_provider import CatalogProvider
from tests.fakes.github import FakeGitHub, zip_folder
from tests.test_github_artifacts import make_runs

PLANTED = {"watermark": "2099-01-01T00:00:00Z"}


@pytest.fixture
def staged(
    remote: Path,
    github_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Path:
    """The state of two real runs, staged as gha-publish stages it; the test runs in
    ``github_env``."""
    make_runs(remote, monkeypatch, [2, 3])
    folder = tmp_path / "staged"
    stage_state(load_config(None, {"catalog": CatalogProvider()}), remote, folder)
    monkeypatch.chdir(github_env)
    return folder


def planted_from(staged: Path, tmp_path: Path) -> Path:
    """A copy of ``staged`` with a hostile state file and checksums that match it."""
    folder = tmp_path / "planted"
    shutil.copytree(staged, folder)
    (folder / "data/state/state.json").write_text(json.dumps(PLANTED))
    (folder / STATE_CHECKSUMS).unlink()
    write_checksums(folder, [p for p in folder.rglob("*") if p.is_file()])
    return folder


def test_restore_state_passes_over_planted_state_with_one_line_each(
    gh: FakeGitHub, github_env: Path, staged: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    gh.add_run(40)
    gh.add_artifact(STATE_ARTIFACT, 40, staged)
    planted = planted_from(staged, tmp_path)
    gh.add_run(41, workflow="plant.yml")
    gh.add_run(42, event="pull_request")
    gh.add_run(43, event="workflow_dispatch", branch="feature")
    gh.add_run(44, head_repo="mallory/products")
    for run_id in (41, 42, 43, 44):
        gh.add_artifact(STATE_ARTIFACT, run_id, planted)

    assert main(["restore-state"]) == 0

    lines = capsys.readouterr().out.splitlines()
    prefix = "State: skipped pipeline-state artifact"
    assert [line.split(": ", 2)[2] for line in lines if line.startswith(prefix)] == [
        "made from repository 'mallory/products', not octo/products.",
        "made on branch 'feature', not the default branch main.",
        "made by a 'pull_request' run (only schedule and workflow_dispatch runs are trusted).",
        "made by workflow '.github/workflows/plant.yml', not .github/workflows/pipeline.yml.",
    ]
    assert lines[-1].startswith("State: restored ")
    assert lines[-1].endswith("from artifact pipeline-state of run 40.")
    restored = github_env / "data/state/state.json"
    assert restored.read_bytes() == (staged / "data/state/state.json").read_bytes()


def test_only_untrusted_state_means_a_bootstrap_run(
    gh: FakeGitHub, github_env: Path, staged: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    gh.add_run(45, event="pull_request", branch="feature")
    gh.add_artifact(STATE_ARTIFACT, 45, planted_from(staged, tmp_path))
    assert main(["restore-state"]) == 0
    out = capsys.readouterr().out
    assert "no cache entry and no trusted pipeline-state artifact" in out
    assert "Bootstrap run" in out
    assert not (github_env / "data").exists()


def tamper(folder: Path) -> str:
    (folder / "data/state/state.json").write_text(json.dumps(PLANTED))
    return "data/state/state.json: size or sha256 differs from state-checksums.json; refused"


def add_extra(folder: Path) -> str:
    (folder / "data/state/extra.json").write_text("{}")
    return "data/state/extra.json is not in state-checksums.json; refused"


def drop_checksums(folder: Path) -> str:
    (folder / STATE_CHECKSUMS).unlink()
    return "no state-checksums.json inside; refused"


def escaping_entry(folder: Path) -> str:
    manifest = json.loads((folder / STATE_CHECKSUMS).read_text())
    manifest["files"]["../../pipelines/planted.py"] = {"bytes": 1, "sha256": "0" * 64}
    (folder / STATE_CHECKSUMS).write_text(json.dumps(manifest))
    return "path '../../pipelines/planted.py' escapes its folder; refused"


@pytest.mark.parametrize("spoil", [tamper, add_extra, drop_checksums, escaping_entry])
def test_a_trusted_state_whose_checksums_do_not_verify_is_refused(
    gh: FakeGitHub, github_env: Path, staged: Path, capsys: pytest.CaptureFixture[str], spoil
) -> None:  # fmt: skip
    message = spoil(staged)
    gh.add_run(46)
    gh.add_artifact(STATE_ARTIFACT, 46, staged)
    assert main(["restore-state"]) == 1
    [line] = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("run_pipeline")]
    assert line == (
        "run_pipeline.py: ArtifactVerificationError: artifact pipeline-state of run 46: " + message
    )
    assert not (github_env / "data").exists()


# ---------------------------------------------------------------- download-artifacts


def with_member(folder: Path, name: str, data: bytes, *, symlink: bool = False) -> bytes:
    """``folder`` zipped, plus one member written as is (a path or a symbolic link)."""
    buffer = io.BytesIO(zip_folder(folder))
    with zipfile.ZipFile(buffer, "a") as zf:
        info = zipfile.ZipInfo(name)
        if symlink:
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, data)
    return buffer.getvalue()


def planted_manifest_entry(folder: Path, path: str) -> None:
    """Name ``path`` in the products manifest, with the right checksum for its content."""
    [manifest_path] = folder.rglob("_manifests/*.json")
    manifest = json.loads(manifest_path.read_text())
    payload = b"print('planted')\n"
    entry = {"path": path, "zone": "normalized", "bytes": len(payload),
             "sha256": hashlib.sha256(payload).hexdigest()}  # fmt: skip
    manifest["files"].append(entry)
    manifest_path.write_text(json.dumps(manifest))
    target = manifest_path.parent.parent / path
    if not Path(path).is_absolute():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(payload)


@pytest.fixture
def products(
    remote: Path,
    github_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> Path:
    """A real run's products folder, staged as gha-publish stages it; the test runs in
    ``github_env``."""
    [record] = make_runs(remote, monkeypatch, [3])
    folder = tmp_path / "products"
    stage_products(record, remote, Path("logs"), folder, include_raw=True)
    monkeypatch.chdir(github_env)
    return folder


@pytest.mark.parametrize("path", ["../pipelines/planted.py", "/tmp/planted.py", "a/../../b.py"])
def test_download_refuses_a_manifest_path_that_leaves_the_lake(
    gh: FakeGitHub, github_env: Path, products: Path, capsys: pytest.CaptureFixture[str],
    path: str,
) -> None:  # fmt: skip
    planted_manifest_entry(products, path)
    gh.add_run(60)
    gh.add_artifact("products-60-1", 60, products)
    assert main(["download-artifacts", "--run-id", "60"]) == 1
    out = capsys.readouterr().out
    assert f"path {path!r} escapes its folder; refused" in out
    assert not (github_env / "pipelines").exists()
    assert not (github_env / "data").exists()


@pytest.mark.parametrize(
    ("member", "symlink"),
    [("../../pipelines/planted.py", False), ("/pipelines/planted.py", False),
     ("data/normalized/link", True)],
)  # fmt: skip
def test_download_refuses_zip_members_that_escape_or_link(
    gh: FakeGitHub, github_env: Path, products: Path, capsys: pytest.CaptureFixture[str],
    member: str, symlink: bool,
) -> None:  # fmt: skip
    target = b"../../pipelines/planted.py" if symlink else b"print('planted')"
    gh.add_run(61)
    gh.add_artifact("products-61-1", 61, with_member(products, member, target, symlink=symlink))
    assert main(["download-artifacts", "--run-id", "61"]) == 1
    assert f"unsafe member {member!r}" in capsys.readouterr().out
    assert not (github_env / "pipelines").exists()
    assert not (github_env / "data").exists()


def test_download_takes_a_run_of_another_workflow_only_when_told(
    gh: FakeGitHub, github_env: Path, products: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    gh.add_run(62, workflow="plant.yml", event="pull_request", branch="feature")
    gh.add_artifact("products-62-1", 62, products)
    assert main(["download-artifacts", "--run-id", "62"]) == 2
    assert capsys.readouterr().err.strip() == (
        "run_pipeline.py: error: --run-id: run 62 is a run of '.github/workflows/plant.yml', "
        "not of .github/workflows/pipeline.yml; pass --any-workflow to take it anyway"
    )
    assert not (github_env / "data").exists()
    assert main(["download-artifacts", "--run-id", "62", "--any-workflow"]) == 0
    assert "products-62-1 (run 62): merged:" in capsys.readouterr().out


def test_download_refuses_a_malformed_manifest_with_one_line(
    gh: FakeGitHub, github_env: Path, products: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    [manifest_path] = products.rglob("_manifests/*.json")
    manifest = json.loads(manifest_path.read_text())
    manifest_path.write_text(json.dumps({**manifest, "files": [1]}))
    gh.add_run(63)
    gh.add_artifact("products-63-1", 63, products)
    assert main(["download-artifacts", "--run-id", "63"]) == 1
    assert f"{manifest_path.name}: malformed manifest" in capsys.readouterr().out
    assert not (github_env / "data").exists()
