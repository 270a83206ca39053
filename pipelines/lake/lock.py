"""The lake's commit lock: one writer at a time, with a lease that expires.

The lock is one small object, ``_lock/commit.json`` in the lake, holding a lease: a random
id, who holds it (host, pid, run id) and when it expires. A run takes it around its write
step (dedup against the state, parts, manifest, state) and around appending the run log of
an object-store lake, so the long part of a run (fetching) never waits for another run,
while two commits never interleave: each loads the state the other saved.

How it is taken, and what that guarantees:

* The lease is created only if no lock exists: ``O_EXCL`` for a local lake, a conditional
  ``PutObject`` with ``If-None-Match: *`` for S3 and servers that support it. A server that
  refuses the header gets a plain PUT; the holder then reads the object back.
* A stale lock is deleted and taken over, with a warning: its lease expired (its holder died
  or hangs), or its holder is a process of this machine that no longer exists (a run killed
  here and resumed here need not wait for the expiry).
* While held, a thread renews the lease every third of ``ttl_seconds``.
* Before the manifest and before the state are written, the holder reads the lock again and
  stops (``LakeLockLostError``) unless it still holds its own lease.

Two writers can both believe they hold the lock only in a race: acquiring at the same
instant on a server without ``If-None-Match``, or taking over the same expired lease. The
re-check before each write ends that for all but one of them; what remains is the time of
one object round trip between a check and its write. A holder paused for longer than its
lease (a suspended laptop) loses the lock and fails at the next check instead of writing.
Clocks of the machines sharing a lake should agree within seconds: expiry is wall time.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import Any

from pipelines.errors import PipelineError
from pipelines.lake.storage import ConditionalWriteUnsupportedError, Storage

LOCK_PATH = "_lock/commit.json"
RACE_RETRIES = 3  # immediate re-reads after losing a create race, before waiting counts
log = logging.getLogger("pipeline.lock")


class LakeLockedError(PipelineError):
    """Another run holds the lake's commit lock and did not release it in time."""


class LakeLockLostError(PipelineError):
    """This run's lease expired or was taken over: it must not write."""


@dataclass(frozen=True)
class Lease:
    lease_id: str
    holder: str
    expires_at: float  # Unix time
    host: str = ""
    pid: int = 0  # 0: no process holds it now (a run between two run-step processes)
    run_id: str = ""
    started: float = 0.0  # Unix time the holder first took it
    heartbeat: float = 0.0  # Unix time of the last renewal

    def to_json(self) -> bytes:
        return json.dumps({**asdict(self), "expires": _iso(self.expires_at)}).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Lease:
        try:
            raw = json.loads(data)
            return cls(raw["lease_id"], raw["holder"], float(raw["expires_at"]),
                       raw.get("host", ""), int(raw.get("pid", 0)), raw.get("run_id", ""),
                       float(raw.get("started", 0)), float(raw.get("heartbeat", 0)))  # fmt: skip
        except (ValueError, KeyError, TypeError, AttributeError):
            return cls("", "an unreadable lock object", 0.0)  # taken as expired

    def describe(self) -> str:
        return f"{self.holder} (lease expires {_iso(self.expires_at)})"

    def stale(self, now: float) -> bool:
        """Expired, or held by a process of this machine that no longer exists (killed)."""
        return self.expires_at <= now or (self.host == socket.gethostname() and _dead(self.pid))


def _dead(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds")


def default_holder(run_id: str) -> str:
    return f"run {run_id} on {socket.gethostname()} (pid {os.getpid()})"


class LakeLock:
    """``with LakeLock(storage, holder, ttl, wait):`` holds the commit lock for the block."""

    def __init__(self, storage: Storage, holder: str, ttl_seconds: float, wait_seconds: float,
                 *, clock: Callable[[], float] = time.time, path: str = LOCK_PATH,
                 run_id: str = "") -> None:  # fmt: skip
        self.storage, self.holder, self.path, self.run_id = storage, holder, path, run_id
        self.ttl, self.wait = max(ttl_seconds, 1.0), wait_seconds
        self.clock = clock
        self.lease: Lease | None = None
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self.lost = False

    # --- taking and giving back --------------------------------------------------------------

    def acquire(self) -> Lease:
        """Take the lock, waiting up to ``wait_seconds`` for its holder; else LakeLockedError."""
        deadline = time.monotonic() + self.wait
        waited, races = False, 0
        while True:
            current = self.read()
            if current is not None and self.takeable(current):
                self.take_over(current)
                current = None
            if current is None and self._create():
                return self.lease
            if current is None and races < RACE_RETRIES:
                races += 1  # another process created it between our read and our create:
                continue  # look again at once (it may be a lease this one may join)
            if time.monotonic() >= deadline:
                raise self.locked_error(self.read())
            if not waited and current is not None:
                self.waiting(current)
                waited = True
            time.sleep(min(1.0, max(self.wait / 20, 0.05)))

    def waiting(self, holder: Lease) -> None:
        """Called once when the lock is held by ``holder`` and this process starts waiting."""

    def takeable(self, current: Lease) -> bool:
        """Whether ``current`` may be taken over: it is stale."""
        return current.stale(self.clock())

    def take_over(self, current: Lease) -> None:
        log.warning("taking over the stale lake lock of %s", current.describe())
        self.storage.delete([self.path])

    def locked_error(self, holder: Lease | None) -> PipelineError:
        """The error of a lock still held by ``holder`` after ``wait_seconds``."""
        who = holder.describe() if holder else "another run"
        return LakeLockedError(
            f"the lake {self.storage.uri} is locked by {who}; waited {self.wait:g} s "
            "(pipeline.lock_wait_seconds). Try again later, or delete "
            f"{self.path} in the lake if that run is known to be dead."
        )

    def _create(self) -> bool:
        now = self.clock()
        lease = Lease(secrets.token_hex(8), self.holder, now + self.ttl, socket.gethostname(),
                      os.getpid(), self.run_id, now, now)  # fmt: skip
        try:
            created = self.storage.create_exclusive(self.path, lease.to_json())
        except ConditionalWriteUnsupportedError:
            self.storage.write_bytes(self.path, lease.to_json())  # then read back, below
            created = True
        if created and self.read() == lease:
            self.lease = lease
            return True
        return False

    def read(self) -> Lease | None:
        data = self.storage.read_bytes(self.path)
        return None if data is None else Lease.from_json(data)

    def check(self) -> None:
        """Raise LakeLockLostError unless the lock object still holds this run's lease."""
        current = self.read()
        if self.lease is None or current is None or current.lease_id != self.lease.lease_id:
            self.lost = True
            who = current.describe() if current else "nobody"
            raise LakeLockLostError(
                f"lost the lake lock of {self.storage.uri} (now held by {who}); nothing more "
                "was written: resume this run with --resume"
            )

    def renew(self) -> None:
        """Push the expiry back by ``ttl_seconds`` (only while the lease is still ours)."""
        self.check()
        now = self.clock()
        self.lease = replace(self.lease, expires_at=now + self.ttl, heartbeat=now)
        self.storage.write_bytes(self.path, self.lease.to_json())

    def release(self) -> None:
        """Give the lock back (only if it is still ours: never delete another run's lease)."""
        if self.lease is not None and self.read() == self.lease:
            self.storage.delete([self.path])
        self.lease = None

    # --- as a context manager, renewing in the background ------------------------------------

    def __enter__(self) -> LakeLock:
        self.acquire()
        self._stop.clear()
        self._renewer = threading.Thread(target=self._renew_loop, daemon=True)
        self._renewer.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        self.release()

    def on_lost(self) -> None:
        log.error("lost the lake lock while holding it; the commit will stop")

    def _renew_loop(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                self.renew()
            except LakeLockLostError:
                self.on_lost()
                return
            except Exception as exc:  # a network blip: the next renewal may get through
                log.warning("could not renew the lake lock: %s", exc)
