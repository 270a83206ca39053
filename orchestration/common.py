"""What every orchestrator adapter shares: the plan, the run id, and running one step.

Standard library only. An adapter runs in its orchestrator's virtual environment and the
steps run in the project's (the plan's ``python``), so neither needs the other's packages:
each task shells out to ``run_pipeline.py run-step STEP --run-id ID [extra args]``.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
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


def cached_plan(root: Path = PROJECT_ROOT, cache_dir: Path | None = None) -> dict[str, Any]:
    """The plan for a DAG or job file being parsed, without a subprocess on every parse.

    ``load_plan``'s answer is kept in the temporary folder under a key made of the
    interpreter, ``pipeline.toml`` and the pipeline's code (each file's size and mtime): a
    scheduler that parses the file every few seconds asks the pipeline again only after one
    of them changed. ``$PIPELINE_ORCHESTRATION_PLAN`` is read as it is.
    """
    if os.environ.get(PLAN_ENV):
        return load_plan()
    folder = cache_dir or Path(tempfile.gettempdir())
    cache = folder / f"product-pipeline-plan-{_plan_key(root)}.json"
    try:
        return json.loads(cache.read_text())
    except (OSError, ValueError):
        pass
    plan = load_plan()
    fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{cache.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(plan, handle)
    os.replace(temp, cache)
    return plan


def _plan_key(root: Path) -> str:
    """What the plan depends on: the interpreter, the config and the code that reads it."""
    digest = hashlib.sha256(resolve_python().encode())
    config = root / "pipeline.toml"
    digest.update(config.read_bytes() if config.is_file() else b"no pipeline.toml")
    for folder in ("pipelines", "providers"):
        for path in sorted((root / folder).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                stat = path.stat()
                name = path.relative_to(root)
                digest.update(f"{name} {stat.st_size} {stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:24]


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


def run_step(
    plan: Mapping[str, Any], step: str, run_id: str, extra_args: Sequence[str] = ()
) -> str:
    """Run one step in the project folder; its output, or ``StepFailedError``.

    Steps of one run may go at once (providers' extracts side by side): each step merges
    its own status into the run's checkpoint, and they share the run's lease."""
    argv = step_argv(plan, step, run_id, extra_args)
    timeout = steps_by_name(plan)[step]["timeout_seconds"]
    done = subprocess.run(
        argv, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=timeout,
    )  # fmt: skip
    if done.returncode != 0:
        raise StepFailedError(step, done.returncode, done.stdout)
    return done.stdout
