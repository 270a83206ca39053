"""The checkpoint of one run: every step's status, timing and outputs.

Lives at ``<lake>/_runs/<run_id>/checkpoint.json`` beside the run's work files,
and is rewritten atomically after every change, so a run killed at any moment
can be resumed from its first unfinished step.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pipelines.errors import ConfigError
from pipelines.net.secrets import mask

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
               step_names: list[str]) -> Checkpoint:  # fmt: skip
        path = runs_dir(root) / run_id / "checkpoint.json"
        checkpoint = cls(
            path=path,
            run_id=run_id,
            created_at=datetime.now(UTC).isoformat(),
            options=options,
            providers=providers,
            steps={name: {"status": PENDING, "attempts": 0, "outputs": {}} for name in step_names},
        )
        checkpoint.save()
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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {k: v for k, v in self.__dict__.items() if k != "path"}
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str))
        os.replace(tmp, self.path)

    def status(self, step: str) -> str:
        return self.steps[step]["status"]

    def outputs(self, step: str) -> dict[str, Any]:
        return self.steps[step]["outputs"]

    def start(self, step: str) -> float:
        entry = self.steps[step]
        entry.update(status=RUNNING, started_at=datetime.now(UTC).isoformat(), error=None)
        entry["attempts"] += 1
        self.save()
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
        self.save()

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


def format_steps(checkpoint: Checkpoint) -> str:
    """A plain table of a run's steps."""
    lines = [f"run {checkpoint.run_id} (created {checkpoint.created_at})"]
    for name, entry in checkpoint.steps.items():
        duration = entry.get("duration_seconds")
        timing = f"{duration:.1f}s" if duration is not None else ""
        note = entry.get("error") or ""
        lines.append(f"  {name:<22} {entry['status']:<8} {timing:>8}  {note[:80]}".rstrip())
    return "\n".join(lines)
