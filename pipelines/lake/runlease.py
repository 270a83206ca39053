"""A run's lease: every run of a lake says it is alive, so runs know about each other.

A run takes the lease of its slot, ``_lock/run.json`` (or ``_lock/run-shard-K-of-N.json`` for
shard K/N), in the lake, before it creates or touches any staged file, and holds it until it
ends. The lease names the run (id, host, pid, when it started) and carries a heartbeat, renewed
by a thread every third of ``pipeline.run_lease_ttl_seconds`` (``pipelines/lake/lock.py``
does the taking, renewing and the conditional create, on a local folder or S3 alike).

* A second run of the same slot finds the lease live and stops (``RunLiveError``, exit 6),
  naming the live run, or waits for it (``--wait``, at most ``pipeline.run_wait_seconds``).
* A lease whose holder died (its pid is gone on this host) or whose heartbeat is older than
  the TTL is stale: the next run takes it over and supersedes the dead run, as before.
* Steps of one run (``run-step``, each its own process) share the run's lease: a step joins
  a live lease of its own run id (same lease id, its own pid and heartbeat), so steps of one
  run going at once never block or unseat each other, and each renews it while it lives;
  a stale one it takes over. Between two steps the lease stays ``parked`` (no pid) for one
  TTL, so the next step finds its run intact. Shards are slots of their own and never
  block each other.
* ``live_runs`` lists the runs alive now in every slot; recovery and the superseding of
  unfinished runs leave their files alone.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from pipelines.errors import PipelineError, RunLiveError
from pipelines.lake.lock import LakeLock, Lease, default_holder
from pipelines.lake.storage import Storage

LEASE_DIR = "_lock"
log = logging.getLogger("pipeline.lease")


def slot_path(shard: str | None) -> str:
    """The lease object of a slot: one per shard, one for unsharded runs."""
    if not shard:
        return f"{LEASE_DIR}/run.json"
    index, count = shard.split("/")
    return f"{LEASE_DIR}/run-shard-{index}-of-{count}.json"


def describe_run(lease: Lease, now: float) -> str:
    """``run <id> on <host> (pid N), started <time>, heartbeat N s ago``."""
    started = datetime.fromtimestamp(lease.started, UTC).isoformat(timespec="seconds")
    process = f"pid {lease.pid}" if lease.pid else "between two steps, no process now"
    beat = f"heartbeat {max(now - lease.heartbeat, 0):.0f} s ago"
    where = f"on {lease.host or '?'} ({process})"
    return f"run {lease.run_id or '?'} {where}, started {started}, {beat}"


class RunLease(LakeLock):
    """``with RunLease(storage, run_id, shard, ttl, wait):`` holds the run's slot."""

    def __init__(self, storage: Storage, run_id: str, shard: str | None, ttl_seconds: float,
                 wait_seconds: float, *, clock: Callable[[], float] = time.time
                 ) -> None:  # fmt: skip
        holder = default_holder(run_id) + (f" (shard {shard})" if shard else "")
        super().__init__(storage, holder, ttl_seconds, wait_seconds, clock=clock,
                         path=slot_path(shard), run_id=run_id)  # fmt: skip
        self._joining: Lease | None = None

    def takeable(self, current: Lease) -> bool:
        """This run's own lease (an earlier step of it), or a stale one."""
        return current.run_id == self.run_id or super().takeable(current)

    def take_over(self, current: Lease) -> None:
        if current.run_id == self.run_id and not current.stale(self.clock()):
            self._joining = current  # another step of this run: share its lease
            return
        if current.run_id != self.run_id:
            log.warning("the lease of %s is stale; taking it over",
                        describe_run(current, self.clock()))  # fmt: skip
        self.storage.delete([self.path])

    def _create(self) -> bool:
        joining, self._joining = self._joining, None
        if joining is None:
            return super()._create()
        now = self.clock()
        self.lease = replace(joining, host=socket.gethostname(), pid=os.getpid(),
                             heartbeat=now, expires_at=now + self.ttl)  # fmt: skip
        self.storage.write_bytes(self.path, self.lease.to_json())
        return True

    def locked_error(self, holder: Lease | None) -> PipelineError:
        who = describe_run(holder, self.clock()) if holder else "another run"
        return RunLiveError(
            f"{who} is live on the lake {self.storage.uri}; this run did not start "
            f"(waited {self.wait:g} s; --wait waits up to pipeline.run_wait_seconds)"
        )

    def waiting(self, holder: Lease) -> None:
        log.warning("%s is live; waiting up to %g s for it to end (--wait)",
                    describe_run(holder, self.clock()), self.wait)  # fmt: skip

    def on_lost(self) -> None:
        log.info("the lease of run %s was taken over (another step of it?)", self.run_id)

    def park(self) -> None:
        """Stop the heartbeat and leave the lease, without a pid, for one more TTL: the run
        is between two ``run-step`` processes."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        if self.lease is not None and self.read() == self.lease:
            now = self.clock()
            parked = replace(self.lease, pid=0, heartbeat=now, expires_at=now + self.ttl)
            self.storage.write_bytes(self.path, parked.to_json())
        self.lease = None


def live_runs(storage: Storage, now: float | None = None) -> list[Lease]:
    """The leases of every run alive now, all slots (stale and unreadable ones left out)."""
    moment = time.time() if now is None else now
    leases = []
    for rel in storage.list_files(LEASE_DIR):
        name = rel.rsplit("/", 1)[-1]
        ours = name.startswith("run") and name.endswith(".json")  # not a write's temporary file
        data = storage.read_bytes(rel) if ours else None
        lease = Lease.from_json(data) if data is not None else None
        if lease is not None and not lease.stale(moment):
            leases.append(lease)
    return leases
