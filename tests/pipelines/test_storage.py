"""Lake storage (a folder, an S3 prefix on a real S3 server) and the commit lock over both."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from pipelines.errors import ConfigError
from pipelines.lake.lock import LOCK_PATH, LakeLock, LakeLockedError, LakeLockLostError, Lease
from pipelines.lake.storage import (
    ConditionalWriteUnsupportedError,
    LocalStorage,
    Storage,
    open_storage,
)
from tests.fakes import s3 as fake_s3
from tests.fakes.s3 import FakeS3
from tests.pipelines.test_cli import clean_env, cli

s3_server, s3_env = fake_s3.s3_server, fake_s3.s3_env  # the fake S3 server's fixtures


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "lake")
    server: FakeS3 = request.getfixturevalue("s3_server")
    request.getfixturevalue("s3_env")
    return open_storage(f"s3://{server.new_bucket()}/some/prefix")


def test_small_objects_are_written_read_listed_and_deleted(storage: Storage, tmp_path: Path):
    assert storage.read_bytes("state/state.json") is None
    storage.write_bytes("state/state.json", b'{"a": 1}')
    storage.write_bytes("state/state.json", b'{"a": 2}')
    assert storage.read_bytes("state/state.json") == b'{"a": 2}'
    assert storage.create_exclusive("_lock/commit.json", b"mine") is True
    assert storage.create_exclusive("_lock/commit.json", b"theirs") is False
    assert storage.read_bytes("_lock/commit.json") == b"mine"
    staged = tmp_path / "part.parquet"
    staged.write_bytes(b"PAR1 data PAR1")
    storage.put_file(staged, "normalized/dt=2026-11-22/source=x/part-1.parquet")
    assert storage.size("normalized/dt=2026-11-22/source=x/part-1.parquet") == 14
    assert storage.list_files("normalized") == ["normalized/dt=2026-11-22/source=x/part-1.parquet"]
    assert storage.list_files("nothing") == []
    storage.delete(["normalized/dt=2026-11-22/source=x/part-1.parquet", "_lock/commit.json"])
    assert not storage.exists("_lock/commit.json")
    assert storage.list_files("normalized") == []


def test_s3_deletes_leave_no_directory_markers(s3_server: FakeS3, s3_env: dict, tmp_path: Path):
    bucket = s3_server.new_bucket()
    storage = open_storage(f"s3://{bucket}/lake")
    staged = tmp_path / "f"
    for name in ("a", "b"):
        staged.write_bytes(name.encode())
        storage.put_file(staged, f"raw/dt=2026-11-22/source=s/{name}.jsonl.zst")
    storage.write_bytes("_lock/commit.json", b"{}")
    storage.delete(["raw/dt=2026-11-22/source=s/a.jsonl.zst", "_lock/commit.json"])
    assert s3_server.keys(bucket) == ["lake/raw/dt=2026-11-22/source=s/b.jsonl.zst"]


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("gs://bucket/lake", "lake_uri: gs:// is not supported"),
        ("s3://UPPER_case/lake", "lake_uri: 'UPPER_case' in s3://UPPER_case/lake is not a valid"),
    ],
)
def test_bad_lake_uris_name_the_setting(uri: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        open_storage(uri)


def test_bad_endpoint_names_the_setting() -> None:
    with pytest.raises(ConfigError, match="s3_endpoint_url: expected http"):
        open_storage("s3://bucket/lake", endpoint_url="127.0.0.1:9000", env={})


# --- the lock -----------------------------------------------------------------------------------


def test_a_second_holder_waits_then_fails_naming_the_holder_and_expiry(storage: Storage):
    first = LakeLock(storage, "run A on host-1", ttl_seconds=60, wait_seconds=0)
    second = LakeLock(storage, "run B on host-2", ttl_seconds=60, wait_seconds=0.3)
    with first:
        started = time.monotonic()
        with pytest.raises(LakeLockedError) as caught:
            second.acquire()
        assert time.monotonic() - started >= 0.3
    message = str(caught.value)
    assert "locked by run A on host-1 (lease expires 20" in message
    assert "pipeline.lock_wait_seconds" in message
    with second:  # released: free at once
        assert second.read().holder == "run B on host-2"
    assert not storage.exists(LOCK_PATH)


def test_a_waiting_run_gets_the_lock_when_the_holder_releases_it(storage: Storage) -> None:
    holder = LakeLock(storage, "holder", ttl_seconds=60, wait_seconds=0)
    holder.acquire()
    threading.Timer(0.3, holder.release).start()
    waiter = LakeLock(storage, "waiter", ttl_seconds=60, wait_seconds=10)
    started = time.monotonic()
    with waiter:
        assert 0.25 < time.monotonic() - started < 5
        assert waiter.read().holder == "waiter"


def test_an_expired_lease_is_taken_over_and_its_holder_stops(storage: Storage) -> None:
    now = [1000.0]
    dead = LakeLock(storage, "hung run", ttl_seconds=30, wait_seconds=0, clock=lambda: now[0])
    dead.acquire()
    now[0] += 31
    taker = LakeLock(storage, "new run", ttl_seconds=30, wait_seconds=0, clock=lambda: now[0])
    taker.acquire()
    taker.check()
    with pytest.raises(LakeLockLostError, match="now held by new run"):
        dead.check()
    dead.release()  # must not delete the new holder's lease
    assert taker.read().holder == "new run"


def test_a_lease_of_a_killed_process_on_this_host_is_stale_at_once(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    lease = Lease("abc", "killed run", time.time() + 3600, __import__("socket").gethostname(),
                  int(child.stdout))  # fmt: skip
    storage.write_bytes(LOCK_PATH, lease.to_json())
    with LakeLock(storage, "resumed run", ttl_seconds=60, wait_seconds=0) as lock:
        assert lock.read().holder == "resumed run"


def test_without_conditional_puts_the_lock_writes_then_reads_back(tmp_path: Path) -> None:
    class PlainPutStorage(LocalStorage):
        def create_exclusive(self, rel: str, data: bytes) -> bool:
            raise ConditionalWriteUnsupportedError("NotImplemented")

    storage = PlainPutStorage(tmp_path)
    first = LakeLock(storage, "first", ttl_seconds=60, wait_seconds=0)
    first.acquire()
    second = LakeLock(storage, "second", ttl_seconds=60, wait_seconds=0)
    with pytest.raises(LakeLockedError, match="locked by first"):
        second.acquire()
    storage.write_bytes(LOCK_PATH, Lease("x", "racer", time.time() + 60).to_json())
    with pytest.raises(LakeLockLostError, match="now held by racer"):
        first.check()  # a racing plain PUT overwrote it: the pre-commit check stops this run


def test_the_lease_is_renewed_while_held(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    with LakeLock(storage, "slow commit", ttl_seconds=1.0, wait_seconds=0) as lock:
        first_expiry = lock.read().expires_at
        time.sleep(0.8)
        assert lock.read().expires_at > first_expiry
        lock.check()


def test_two_local_runs_cannot_commit_at_once(tmp_path: Path) -> None:
    """A run whose lake is locked by another waits lock_wait_seconds, then exits 1, naming it."""
    (tmp_path / "pipeline.toml").write_text("[pipeline]\nlock_wait_seconds = 0.5\n")
    storage = LocalStorage(tmp_path / "data/demo")
    with LakeLock(storage, "run 20261122T000000Z-aaaaaa on laptop", 60, 0):
        result = cli("--offline", "--providers", "ebay", cwd=tmp_path, env=clean_env())
    assert result.returncode == 1, result.stderr
    assert "LakeLockedError: the lake" in result.stderr
    assert "locked by run 20261122T000000Z-aaaaaa on laptop (lease expires" in result.stderr
    assert not (tmp_path / "data/demo/_manifests").exists()
    resumed = cli("--resume", "--offline", cwd=tmp_path, env=clean_env())
    assert resumed.returncode == 0, resumed.stderr
    manifests = list((tmp_path / "data/demo/_manifests").glob("*.json"))
    assert len(manifests) == 1
    assert json.loads(manifests[0].read_text())["counts"]["ebay"]["new"] > 0


def test_an_exclusive_create_is_never_seen_empty_or_half_written(tmp_path: Path) -> None:
    """A second process reading a lease while the first creates it must see all of it or
    nothing: an empty lease looks stale and would be taken over."""
    storage = open_storage(str(tmp_path))
    data = json.dumps({"lease_id": "x" * 4096}).encode()
    seen: list[bytes] = []
    done = threading.Event()

    def read_while_created() -> None:
        while not done.is_set():
            found = storage.read_bytes("_lock/run.json")
            if found is not None:
                seen.append(found)

    reader = threading.Thread(target=read_while_created)
    reader.start()
    try:
        for _ in range(300):
            assert storage.create_exclusive("_lock/run.json", data)
            storage.delete(["_lock/run.json"])
    finally:
        done.set()
        reader.join()
    assert {len(found) for found in seen} <= {len(data)}
