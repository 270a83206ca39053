"""Runs know about each other: a run's lease, a second run's exit 6 or ``--wait``, stale leases
taken over, shards and steps of one run never blocked, and ``--status`` telling live from dead."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.lake.lock import Lease
from pipelines.lake.runlease import RunLease, RunLiveError, live_runs, slot_path
from pipelines.lake.storage import LocalStorage, open_storage
from pipelines.run.record import EXIT_RUN_LIVE
from tests.fakes import s3 as fake_s3
from tests.fakes.s3 import FakeS3
from tests.pipelines.test_cli import SCRIPT, clean_env, cli
from tests.pipelines.test_resume import lake_rows

PAUSE_AT = Path(__file__).with_name("pause_at.py")
PAUSE_POINT = "pipelines.run.process:NormalizeStage.flush"  # extract done, raw files staged
DEMO = Path("data/demo")

s3_server, s3_env = fake_s3.s3_server, fake_s3.s3_env


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> list[tuple]:
    workdir = tmp_path_factory.mktemp("clean")
    assert cli("--offline", cwd=workdir).returncode == 0
    return lake_rows(workdir / DEMO)


def paused_run(workdir: Path, seconds: float = 60) -> tuple[subprocess.Popen, Path]:
    """An offline run paused after its extract steps; returns it and its pause marker."""
    marker = workdir / "paused"
    command = [sys.executable, str(PAUSE_AT), PAUSE_POINT, "1", str(marker), str(seconds),
               "--", "--offline"]  # fmt: skip
    process = subprocess.Popen(command, cwd=workdir, env=clean_env(), text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run never reached its pause"
        time.sleep(0.05)
    return process, marker


def release(marker: Path) -> None:
    marker.with_name(marker.name + ".go").write_text("go")


def test_a_second_run_exits_6_naming_the_live_run_and_leaves_it_alone(
    tmp_path: Path, reference: list[tuple]
) -> None:
    first, marker = paused_run(tmp_path)
    staged = sorted((tmp_path / DEMO / "_runs").rglob("*.jsonl.zst"))
    assert staged, "the paused run has staged raw files"
    second = cli("--offline", cwd=tmp_path)
    (lease,) = live_runs(LocalStorage(tmp_path / DEMO))
    status = cli("--status", cwd=tmp_path)
    release(marker)
    _, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stderr  # its staging was not touched
    assert second.returncode == EXIT_RUN_LIVE
    (line,) = second.stderr.strip().splitlines()
    assert line.startswith(
        f"run_pipeline.py: run {lease.run_id} on {socket.gethostname()} (pid {first.pid}), "
        "started 20"
    )
    assert "is live on the lake data/demo; this run did not start" in line
    assert f"live       run {lease.run_id}" in status.stdout
    assert lake_rows(tmp_path / DEMO) == reference
    runs = (tmp_path / "logs/demo/runs.jsonl").read_text().splitlines()
    assert [json.loads(r)["exit_code"] for r in runs] == [0]  # the refused run recorded nothing


def test_wait_runs_after_the_live_run_ends(tmp_path: Path, reference: list[tuple]) -> None:
    first, marker = paused_run(tmp_path)
    command = [sys.executable, str(SCRIPT), "--offline", "--wait"]
    second = subprocess.Popen(command, cwd=tmp_path, env=clean_env(), text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    waiting = ""
    while "is live; waiting up to 3600 s for it to end (--wait)" not in waiting:
        line = second.stderr.readline()
        assert line, f"the second run never waited: {waiting}"
        waiting += line
    release(marker)
    _, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stderr
    _, stderr = second.communicate(timeout=120)
    assert second.returncode == 0, stderr
    runs = [json.loads(r) for r in (tmp_path / "logs/demo/runs.jsonl").read_text().splitlines()]
    assert [r["exit_code"] for r in runs] == [0, 0]
    assert runs[1]["started_at"] >= runs[0]["ended_at"]  # it waited for the first to end
    assert runs[1]["totals"]["written"] == 0
    assert lake_rows(tmp_path / DEMO) == reference


def test_a_killed_run_is_abandoned_and_taken_over(tmp_path: Path, reference: list[tuple]) -> None:
    first, _ = paused_run(tmp_path)
    os.kill(first.pid, signal.SIGKILL)
    first.communicate(timeout=60)
    status = cli("--status", cwd=tmp_path)
    assert "abandoned  run" in status.stdout
    assert "live       run" not in status.stdout
    second = cli("--offline", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "superseded by this run" in second.stderr
    assert lake_rows(tmp_path / DEMO) == reference


def run_lease(storage, run_id: str, shard: str | None = None, ttl: float = 60) -> RunLease:
    return RunLease(storage, run_id, shard, ttl, 0)


def test_shards_and_steps_of_one_run_never_block_each_other(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    one, two = run_lease(storage, "20261122T000000Z-aaaaaa", "1/2"), run_lease(storage, "r2", "2/2")
    with one, two:
        assert {lease.run_id for lease in live_runs(storage)} == {one.run_id, "r2"}
    step = run_lease(storage, "20261122T000000Z-bbbbbb")
    with step:
        step.park()  # between two run-step processes: no pid, alive for one TTL
    parked = Lease.from_json(storage.read_bytes(slot_path(None)))
    assert (parked.pid, parked.run_id) == (0, step.run_id)
    with pytest.raises(RunLiveError, match="between two steps, no process now"):
        run_lease(storage, "20261122T000000Z-cccccc").acquire()
    with run_lease(storage, step.run_id) as next_step:  # the run's next step takes its lease back
        assert next_step.read().pid == os.getpid()


def test_steps_of_one_run_at_once_share_its_lease(tmp_path: Path) -> None:
    """Two extract steps of one run: the second joins the live lease, neither loses it."""
    storage = LocalStorage(tmp_path)
    run_id = "20261122T000000Z-dddddd"
    first, second = run_lease(storage, run_id), run_lease(storage, run_id)
    first.acquire()
    second.acquire()  # the first is live: joined, not replaced
    assert second.lease.lease_id == first.lease.lease_id
    first.renew()  # still its lease: no LakeLockLostError
    second.renew()
    assert (first.lost, second.lost) == (False, False)
    with pytest.raises(RunLiveError):
        run_lease(storage, "20261122T000000Z-eeeeee").acquire()
    first.park()  # the first step ends while the second runs: the run stays alive
    second.renew()
    assert Lease.from_json(storage.read_bytes(slot_path(None))).pid == os.getpid()
    second.park()
    parked = Lease.from_json(storage.read_bytes(slot_path(None)))
    assert (parked.pid, parked.run_id) == (0, run_id)


def test_stale_leases_are_taken_over(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path)
    now = time.time()
    elsewhere = Lease("x", "run r1 on other-host", now - 1, "other-host", 1234, "r1", now - 99,
                      now - 61)  # fmt: skip
    storage.write_bytes(slot_path(None), elsewhere.to_json())  # heartbeat older than the TTL
    assert live_runs(storage) == []
    with run_lease(storage, "r2") as taken:
        assert taken.read().run_id == "r2"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout  # fmt: skip
    here = Lease("y", "run r3", now + 600, socket.gethostname(), int(dead), "r3", now, now)
    storage.write_bytes(slot_path(None), here.to_json())  # its process is gone from this host
    with run_lease(storage, "r4") as taken:
        assert taken.read().run_id == "r4"


def test_the_lease_works_on_object_storage(s3_server: FakeS3, s3_env: dict) -> None:
    storage = open_storage(f"s3://{s3_server.new_bucket()}/lake", endpoint_url=s3_server.url)
    with run_lease(storage, "20261122T000000Z-dddddd"):
        with pytest.raises(RunLiveError, match="run 20261122T000000Z-dddddd on "):
            run_lease(storage, "20261122T000000Z-eeeeee").acquire()
        assert [x.run_id for x in live_runs(storage)] == ["20261122T000000Z-dddddd"]
    assert live_runs(storage) == []


class RacingStorage(LocalStorage):
    """A local lake where another step of the run creates the lease just before this one."""

    def __init__(self, root: Path, rival: RunLease) -> None:
        super().__init__(root)
        self.rival = rival

    def create_exclusive(self, rel: str, data: bytes) -> bool:
        if self.rival.lease is None:
            self.rival.acquire()  # wins the race: the file exists when ours is created
        return super().create_exclusive(rel, data)


def test_two_steps_starting_at_the_same_instant_both_join_the_run(tmp_path: Path) -> None:
    """Both read "no lease", one creates it first: the other joins it, even with no --wait."""
    run_id = "20261122T000000Z-ffffff"
    rival = run_lease(LocalStorage(tmp_path), run_id)
    late = run_lease(RacingStorage(tmp_path, rival), run_id)
    late.acquire()
    assert late.lease.lease_id == rival.lease.lease_id
    assert late.read().pid == os.getpid()


def test_a_race_lost_to_another_run_still_stops_with_exit_6(tmp_path: Path) -> None:
    rival = run_lease(LocalStorage(tmp_path), "20261122T000000Z-111111")
    with pytest.raises(RunLiveError, match="run 20261122T000000Z-111111 on "):
        run_lease(RacingStorage(tmp_path, rival), "20261122T000000Z-222222").acquire()
