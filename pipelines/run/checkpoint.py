"""The checkpoint of one run: every step's status, timing and outputs.

Lives at ``<lake>/_runs/<run_id>/checkpoint.json`` beside the run's work files,
and is rewritten atomically after every change, so a run killed at any moment
can be resumed from its first unfinished step.

Steps of one run may go at once, each in its own process (a scheduler's parallel tasks): a
step's change is merged into the file as it is on disk, under a lock of the file held for
the merge only (``checkpoint.json.lock``), so no step's status is lost and none waits for
another step to end.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines.errors import ConfigError
from pipelines.net.secrets import mask

try:
    import fcntl
except ImportError:  # Windows (Task Scheduler runs the pipeline there too)
    fcntl = None
    import msvcrt

log = logging.getLogger("pipeline.runner")

RUNS_DIR = "_runs"
PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"


class UnreadableCheckpointError(ConfigError):
    """A run's ``checkpoint.json`` exists but cannot be read."""


def runs_dir(root: Path) -> Path:
    return root / RUNS_DIR


@dataclass
class Checkpoint:
    """What a run asked for and how far it got."""

    path: Path
    run_id: str
    created_at: str
    options: dict[str, Any]
    providers: list[str]
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    abandoned: bool = False

    @property
    def work(self) -> Path:
        """The run's work folder (staged files)."""
        return self.path.parent

    @classmethod
    def create(cls, root: Path, run_id: str, options: dict[str, Any], providers: list[str],
               step_names: list[str], *, keep_existing: bool = False) -> Checkpoint:  # fmt: skip
        """A new checkpoint; with ``keep_existing``, the one another step of this run has
        just created, if any (two first steps of a run starting at once)."""
        path = runs_dir(root) / run_id / "checkpoint.json"
        checkpoint = cls(
            path=path,
            run_id=run_id,
            created_at=datetime.now(UTC).isoformat(),
            options=options,
            providers=providers,
            steps={name: {"status": PENDING, "attempts": 0, "outputs": {}} for name in step_names},
        )
        with checkpoint._locked():
            if keep_existing and path.exists():
                return cls.load(root, run_id)
            checkpoint._write()
        return checkpoint

    @classmethod
    def load(cls, root: Path, run_id: str) -> Checkpoint:
        """The run's checkpoint; a ``ConfigError`` naming the file when it is missing or
        unreadable (truncated, garbage, not a checkpoint)."""
        path = runs_dir(root) / run_id / "checkpoint.json"
        try:
            data = json.loads(path.read_text())
            checkpoint = cls(path=path, **data)
            checkpoint.first_unfinished()  # every step entry has a status
        except FileNotFoundError:
            raise ConfigError(f"--run-id: no run {run_id!r} under {runs_dir(root)}") from None
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            raise UnreadableCheckpointError(
                f"{path} is unreadable ({type(exc).__name__})"
            ) from None
        return checkpoint

    @classmethod
    def load_or_abandon(cls, root: Path, run_id: str) -> Checkpoint:
        """The run's checkpoint; an unreadable one is kept beside as ``checkpoint.json.corrupt``
        and replaced by an abandoned checkpoint without steps, with a warning naming it."""
        try:
            return cls.load(root, run_id)
        except UnreadableCheckpointError as exc:
            path = runs_dir(root) / run_id / "checkpoint.json"
            os.replace(path, path.with_name(path.name + ".corrupt"))
            log.warning("%s: run %s is marked abandoned (the file is kept as %s.corrupt)",
                        exc, run_id, path.name)  # fmt: skip
            corrupt = path.with_name(path.name + ".corrupt")
            created = datetime.fromtimestamp(corrupt.stat().st_mtime, UTC).isoformat()
            checkpoint = cls(path, run_id, created, {}, [], {}, abandoned=True)
            checkpoint.save()
            return checkpoint

    def save(self) -> None:
        """Write the whole checkpoint (a new run, an abandoned one)."""
        with self._locked():
            self._write()

    def _write(self) -> None:
        data = {k: v for k, v in self.__dict__.items() if k != "path"}
        fd, tmp = tempfile.mkstemp(
            dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(data, indent=2, sort_keys=True, default=str))
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """Hold the checkpoint's own lock (a merge takes milliseconds, never a whole step)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.with_name(self.path.name + ".lock").open("a+b") as handle:
            handle.seek(0)
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_EX)
            else:
                msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
            try:
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(handle, fcntl.LOCK_UN)
                else:
                    handle.seek(0)
                    msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)

    def _save_step(self, step: str) -> None:
        """Merge this process's entry of ``step`` into the file as other steps left it."""
        with self._locked():
            try:
                on_disk = json.loads(self.path.read_text()).get("steps")
            except (OSError, ValueError, AttributeError):
                on_disk = None
            if isinstance(on_disk, dict):
                self.steps = {**on_disk, step: self.steps[step]}
            self._write()

    def status(self, step: str) -> str:
        return self.steps[step]["status"]

    def outputs(self, step: str) -> dict[str, Any]:
        return self.steps[step]["outputs"]

    def start(self, step: str) -> float:
        entry = self.steps[step]
        entry.update(status=RUNNING, started_at=datetime.now(UTC).isoformat(), error=None)
        entry["attempts"] += 1
        self._save_step(step)
        return time.monotonic()

    def finish(self, step: str, started: float, outputs: dict[str, Any], error: str | None = None
               ) -> None:  # fmt: skip
        entry = self.steps[step]
        entry.update(
            status=FAILED if error else DONE,
            ended_at=datetime.now(UTC).isoformat(),
            duration_seconds=round(time.monotonic() - started, 3),
            outputs=outputs,
            error=mask(error) if error else None,
        )
        self._save_step(step)
        log.debug("step %s %s in %.3f s", step, entry["status"], entry["duration_seconds"])

    def first_unfinished(self) -> str | None:
        return next((name for name, e in self.steps.items() if e["status"] != DONE), None)

    @property
    def finished(self) -> bool:
        return self.first_unfinished() is None


def latest_run_id(root: Path) -> str | None:
    """The newest run with a checkpoint (run ids sort by time)."""
    folder = runs_dir(root)
    ids = sorted(p.parent.name for p in folder.glob("*/checkpoint.json")) if folder.is_dir() else []
    return ids[-1] if ids else None


def unfinished_runs(root: Path) -> list[Checkpoint]:
    """Runs that stopped before their last step and were not abandoned."""
    folder = runs_dir(root)
    if not folder.is_dir():
        return []
    runs = [
        Checkpoint.load_or_abandon(root, p.parent.name)
        for p in sorted(folder.glob("*/checkpoint.json"))
    ]
    return [c for c in runs if not c.finished and not c.abandoned]


def abandon_runs(root: Path, run_id: str, shard: str | None, live: set[str]) -> None:
    """A new run supersedes dead ones of the same ``shard``: their staged files go, their
    checkpoints stay. Runs with a ``live`` lease (other shards', or any other) are left alone."""
    for old in unfinished_runs(root):
        if old.run_id == run_id or old.options.get("shard") != shard or old.run_id in live:
            continue
        for child in old.work.iterdir():
            if child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
        old.abandoned = True
        old.save()
        log.warning("run %s stopped unfinished and is superseded by this run", old.run_id)
