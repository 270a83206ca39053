"""What every orchestrator adapter shares: the plan, the run id, and running one step.

Standard library only. An adapter runs in its orchestrator's virtual environment and the
steps run in the project's (the plan's ``python``), so neither needs the other's packages:
each task shells out to ``run_pipeline.py run-step STEP --run-id ID [extra args]``.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
SCRIPT = "pipelines/run_pipeline.py"
PLAN_ENV = "PIPELINE_ORCHESTRATION_PLAN"  # a plan JSON file, instead of asking the pipeline
PYTHON_ENV = "PIPELINE_PYTHON"  # the project's interpreter, instead of the plan's
DEFAULT_PYTHON = ".venv/bin/python"
EXIT_USAGE = 2
OUTPUT_TAIL_LINES = 20


class StepFailedError(RuntimeError):
    """``run-step`` exited non-zero; ``retryable`` is False for usage errors (exit 2)."""

    def __init__(self, step: str, exit_code: int, output: str) -> None:
        tail = "\n".join(output.strip().splitlines()[-OUTPUT_TAIL_LINES:])
        super().__init__(f"step {step} failed with exit code {exit_code}:\n{tail}")
        self.step, self.exit_code = step, exit_code
        self.retryable = exit_code != EXIT_USAGE


def resolve_python(interpreter: str = DEFAULT_PYTHON) -> str:
    """``$PIPELINE_PYTHON`` if set, else ``interpreter``; a relative path is under the project."""
    python = os.environ.get(PYTHON_ENV) or interpreter
    return str(PROJECT_ROOT / python) if "/" in python else python


def load_plan(path: str | Path | None = None, config: str | Path | None = None) -> dict[str, Any]:
    """The plan from ``path`` (or ``$PIPELINE_ORCHESTRATION_PLAN``), else from the pipeline.

    Asking the pipeline runs ``run_pipeline.py --dump-orchestration-plan`` with the
    project's interpreter, so the plan always matches ``pipeline.toml`` (or ``config``).
    """
    path = path or os.environ.get(PLAN_ENV)
    if path:
        return json.loads(Path(path).read_text())
    argv = [resolve_python(), SCRIPT, "--dump-orchestration-plan"]
    if config is not None:
        argv += ["--config", str(config)]
    done = subprocess.run(argv, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"could not read the orchestration plan: {done.stderr.strip()}")
    return json.loads(done.stdout)


def new_run_id(now: datetime | None = None, suffix: str | None = None) -> str:
    """A run id as ``pipelines.run.runner.new_run_id`` makes them: ``20261122T001500Z-a1b2c3``.

    Workflow engines that replay code (Temporal) pass their own ``now`` and ``suffix``.
    """
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y%m%dT%H%M%SZ}-{suffix or secrets.token_hex(3)}"


def split_extra_args(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """An adapter CLI's own arguments, and the run options after ``--``."""
    argv = list(argv)
    if "--" not in argv:
        return argv, []
    cut = argv.index("--")
    return argv[:cut], argv[cut + 1 :]


def shard_runs(plan: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The runs one scheduled run fans out to: the plan's shards, or the plan itself.

    Each has ``steps``, ``command``, ``run_timeout_seconds``, ``lock_file`` and ``log_file``,
    so ``run_step`` and ``step_argv`` take a shard run wherever they take a plan.
    """
    return list(plan.get("shards") or [plan])


def shard_prefix(run: Mapping[str, Any]) -> str:
    """``shard_2_of_3`` for shard 2/3 (a name every orchestrator accepts); "" unsharded."""
    shard = run.get("shard")
    return "shard_{}_of_{}".format(*shard.split("/")) if shard else ""


def steps_by_name(plan: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The plan's steps by name, in dependency order."""
    return {step["name"]: step for step in plan["steps"]}


def step_argv(
    plan: Mapping[str, Any], step: str, run_id: str, extra_args: Sequence[str] = ()
) -> list[str]:
    """The command of ``step`` in run ``run_id``, with the run's extra arguments appended."""
    interpreter, *rest = steps_by_name(plan)[step]["command"]
    argv = [run_id if arg == "{run_id}" else arg for arg in rest]
    return [resolve_python(interpreter), *argv, *extra_args]


@contextmanager
def run_lock(run_id: str) -> Iterator[None]:
    """Hold the lock of run ``run_id`` on this machine, waiting for it if need be.

    A run's checkpoint file is rewritten whole by each step process, so two steps of one
    run going at once would lose each other's status: the steps of a run take turns, and
    parallelism comes from shards (each a run of its own). A run's steps share its local
    work folder, so they run on one machine anyway.
    """
    path = Path(tempfile.gettempdir()) / f"product-pipeline-run-{run_id}.lock"
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_step(
    plan: Mapping[str, Any], step: str, run_id: str, extra_args: Sequence[str] = ()
) -> str:
    """Run one step in the project folder (one step of a run at a time); its output, or
    ``StepFailedError``."""
    argv = step_argv(plan, step, run_id, extra_args)
    timeout = steps_by_name(plan)[step]["timeout_seconds"]
    with run_lock(run_id):
        done = subprocess.run(
            argv,
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
        )
    if done.returncode != 0:
        raise StepFailedError(step, done.returncode, done.stdout)
    return done.stdout
