"""Manifests are the truth: a lost or corrupt manifest stops runs (exit 2) until ``repair``,
recovery moves only dead runs' uncommitted files to ``_trash/``, ``verify`` catches bit flips."""

from __future__ import annotations

import json
import random
import shutil
import time
from pathlib import Path

import pytest

from pipelines.errors import LakeDamagedError
from pipelines.lake.dedup import load_state
from pipelines.lake.integrity import repair, verify_lake, verify_run
from pipelines.lake.lake import Lake
from pipelines.lake.storage import LocalStorage, open_storage
from pipelines.lake.trash import TRASH_DIR, move_to_trash, purge_trash
from tests.fakes import s3 as fake_s3
from tests.fakes.s3 import FakeS3
from tests.pipelines.test_cli import clean_env, cli
from tests.pipelines.test_resume import lake_rows
from tests.pipelines.test_s3_lake import s3_rows

DEMO = Path("data/demo")

s3_server, s3_env = fake_s3.s3_server, fake_s3.s3_env


@pytest.fixture(scope="module")
def reference(committed: Path) -> list[tuple]:
    """The rows of one clean offline run."""
    return lake_rows(committed / DEMO)


@pytest.fixture(scope="module")
def committed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workdir holding one committed offline run, copied by each test that damages it."""
    workdir = tmp_path_factory.mktemp("committed")
    assert cli("--offline", cwd=workdir).returncode == 0
    return workdir


@pytest.fixture
def workdir(committed: Path, tmp_path: Path) -> Path:
    shutil.copytree(committed, tmp_path / "w")
    return tmp_path / "w"


def data_files(root: Path) -> list[str]:
    zones = ("raw", "normalized", "quarantine")
    return sorted(str(p.relative_to(root)) for z in zones for p in (root / z).rglob("*.*"))


def shown(workdir: Path, path: Path) -> str:
    """``path`` as the CLI names it: relative to its working directory."""
    return str(path.relative_to(workdir))


def only_manifest(root: Path) -> Path:
    (manifest,) = (root / "_manifests").glob("*.json")
    return manifest


def test_a_lost_manifest_stops_the_next_run_and_repair_brings_it_back(
    workdir: Path, reference: list[tuple]
) -> None:
    root = workdir / DEMO
    files = data_files(root)
    manifest = only_manifest(root)
    manifest.unlink()
    stopped = cli("--offline", cwd=workdir)
    assert stopped.returncode == 2
    assert stopped.stderr.strip().splitlines() == [
        f"run_pipeline.py: error: {shown(workdir, manifest)}: manifest missing, though "
        f"state/state.json lists run {manifest.stem} as committed; run `run_pipeline.py "
        "repair` to rebuild it from the parts and the state"
    ]
    assert data_files(root) == files  # nothing committed was removed
    repaired = cli("repair", "--offline", cwd=workdir)
    assert repaired.returncode == 0, repaired.stderr
    assert f"_manifests/{manifest.stem}.json: rebuilt" in repaired.stdout
    assert "counts cannot be rebuilt" in repaired.stdout
    rebuilt = json.loads(manifest.read_text())
    assert sorted(f["path"] for f in rebuilt["files"]) == sorted(files)
    assert cli("verify", "--offline", cwd=workdir).returncode == 0
    again = cli("--offline", cwd=workdir)
    assert again.returncode == 0, again.stderr
    assert lake_rows(root) == reference  # 0 rows lost, 0 duplicated


DAMAGES = {
    "truncated": lambda b: b[: len(b) // 2],
    "garbage": lambda b: b"\x00\xffgarbage",
    "empty": lambda b: b"",
    "a-list": lambda b: b"[1, 2]",
    "entry-without-sha256": lambda b: json.dumps(
        {"run_id": "x", "files": [{"path": "p"}]}
    ).encode(),
}


@pytest.mark.parametrize("name", sorted(DAMAGES))
def test_every_kind_of_corrupt_manifest_is_one_clear_error(workdir: Path, name: str) -> None:
    root = workdir / DEMO
    manifest = only_manifest(root)
    manifest.write_bytes(DAMAGES[name](manifest.read_bytes()))
    with pytest.raises(LakeDamagedError) as caught:
        Lake(root).manifests()
    assert str(caught.value).startswith(f"{root}/_manifests/{manifest.name}: manifest ")
    assert "\n" not in str(caught.value)


def test_a_corrupt_manifest_is_one_line_and_exit_2_until_repaired(
    workdir: Path, reference: list[tuple]
) -> None:
    root = workdir / DEMO
    manifest = only_manifest(root)
    original = manifest.read_bytes()
    damage = DAMAGES["truncated"]
    manifest.write_bytes(damage(original))
    stopped = cli("--offline", cwd=workdir)
    assert stopped.returncode == 2
    (line,) = stopped.stderr.strip().splitlines()
    assert line.startswith(f"run_pipeline.py: error: {shown(workdir, manifest)}: manifest ")
    assert "Traceback" not in stopped.stderr
    (problem,) = verify_lake(Lake(root), load_state(root).applied_runs)
    assert problem.startswith(f"{root}/_manifests/{manifest.name}: manifest is not valid JSON")
    assert cli("repair", "--offline", cwd=workdir).returncode == 0
    assert [p.read_bytes() for p in (root / TRASH_DIR).rglob("*.json")] == [damage(original)]
    rebuilt = json.loads(manifest.read_text())
    assert {f["sha256"] for f in rebuilt["files"]} == {
        f["sha256"] for f in json.loads(original)["files"]
    }
    assert cli("--offline", cwd=workdir).returncode == 0
    assert lake_rows(root) == reference


def test_recovery_moves_a_dead_runs_leftovers_to_trash_and_keeps_claimed_files(
    workdir: Path, reference: list[tuple]
) -> None:
    root = workdir / DEMO
    part = next((root / "normalized").rglob("*.parquet"))
    orphan = part.with_name("part-20200101T000000Z-abcdef-0.parquet")  # a dead, uncommitted run
    shutil.copy(part, orphan)
    state = load_state(root)
    assert cli("--offline", cwd=workdir).returncode == 0
    assert not orphan.exists()
    (trashed,) = (root / TRASH_DIR).rglob(orphan.name)
    assert trashed.read_bytes() == part.read_bytes()
    assert trashed.relative_to(root / TRASH_DIR).parts[1:] == orphan.relative_to(root).parts
    assert state.applied_runs <= load_state(root).applied_runs
    assert lake_rows(root) == reference


def test_trash_is_deleted_after_its_retention_only(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw/a.jsonl.zst").write_bytes(b"a")
    now = time.time()
    (moved,) = move_to_trash(storage, ["raw/a.jsonl.zst"], now=now)
    assert purge_trash(storage, retention_days=7, now=now + 6 * 86400) == []
    assert storage.exists(moved)
    assert purge_trash(storage, retention_days=7, now=now + 8 * 86400) == [moved]
    assert not storage.exists(moved)


def test_verify_catches_every_single_bit_flip_in_a_committed_part(
    workdir: Path, reference: list[tuple]
) -> None:
    root = workdir / DEMO
    lake = Lake(root)
    applied = load_state(root).applied_runs
    files = [root / f["path"] for m in lake.manifests() for f in m["files"]]
    rng = random.Random(12)
    for _ in range(200):
        path = rng.choice(files)
        data = bytearray(path.read_bytes())
        bit = rng.randrange(len(data) * 8)
        data[bit // 8] ^= 1 << (bit % 8)
        original = path.read_bytes()
        path.write_bytes(bytes(data))
        problems = verify_lake(lake, applied)
        path.write_bytes(original)
        assert len(problems) == 1
        assert problems[0].startswith(str(path.relative_to(root)) + ":")
    assert verify_lake(lake, applied) == []
    assert lake_rows(root) == reference


def test_verify_prints_one_line_per_bad_file_and_readers_refuse_them(workdir: Path) -> None:
    root = workdir / DEMO
    lake = Lake(root)
    (manifest,) = lake.manifests()
    bad = [root / f["path"] for f in manifest["files"] if f["zone"] in ("raw", "normalized")][:2]
    for path in bad:
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x10
        path.write_bytes(bytes(data))
    result = cli("verify", "--offline", cwd=workdir)
    assert result.returncode == 1
    lines = result.stdout.strip().splitlines()
    assert sorted(line.split(":")[0] for line in lines) == sorted(
        str(p.relative_to(root)) for p in bad
    )
    if any("normalized" in str(p) for p in bad):
        with pytest.raises(LakeDamagedError, match="sha256"):
            verify_run(lake, manifest["run_id"], "normalized")  # what the Delta sync reads
    raw = next(p for p in bad if "raw" in p.parts)
    replay = cli("--offline", "--replay", str(raw), cwd=workdir)
    assert replay.returncode == 2
    (line,) = replay.stderr.strip().splitlines()
    assert str(raw.relative_to(root)) in line
    assert "sha256" in line


def test_manifests_repair_verify_and_trash_work_on_object_storage(
    s3_server: FakeS3, s3_env: dict, tmp_path: Path, reference: list[tuple]
) -> None:
    bucket = s3_server.new_bucket()
    env = clean_env(**s3_server.env())
    lake_args = ["--offline", "--lake-uri", f"s3://{bucket}/lake"]
    assert cli(*lake_args, cwd=tmp_path, env=env).returncode == 0
    storage = open_storage(f"s3://{bucket}/lake/demo", endpoint_url=s3_server.url)
    (manifest,) = storage.list_files("_manifests")
    storage.delete([manifest])
    stopped = cli(*lake_args, cwd=tmp_path, env=env)
    assert stopped.returncode == 2
    assert f"error: s3://{bucket}/lake/demo/{manifest}: manifest missing" in stopped.stderr
    assert repair(Lake(storage), load_state(storage).applied_runs).rebuilt
    assert verify_lake(Lake(storage), load_state(storage).applied_runs) == []
    orphan = "normalized/dt=2020-01-01/source=ebay/part-20200101T000000Z-abcdef-0.parquet"
    storage.write_bytes(orphan, b"left by a dead run")
    assert cli(*lake_args, cwd=tmp_path, env=env).returncode == 0
    assert not storage.exists(orphan)
    assert [k for k in storage.list_files(TRASH_DIR) if k.endswith(orphan)]
    assert s3_rows(storage) == reference
    part = next(k for k in storage.list_files("normalized"))
    data = bytearray(storage.read_bytes(part))
    data[len(data) // 3] ^= 0x01
    storage.write_bytes(part, bytes(data))
    flipped = cli("verify", *lake_args, cwd=tmp_path, env=env)
    assert flipped.returncode == 1
    assert flipped.stdout.strip().splitlines()[0].startswith(f"{part}: sha256 ")
