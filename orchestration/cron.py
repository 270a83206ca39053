"""The crontab entry of a scheduled run: the whole run, logged, and never two at once.

``run_pipeline.py plan --emit crontab`` prints it; ``crontab -e`` takes it as is::

    # product pipeline: '15 0 * * *' in UTC (from pipeline.toml [orchestration])
    CRON_TZ=UTC
    15 0 * * * cd /srv/pipeline && mkdir -p logs && flock -n logs/pipeline.lock \
        .venv/bin/python pipelines/run_pipeline.py >> logs/scheduler.log 2>&1

``flock -n`` skips a run while the previous one still holds the lock. ``CRON_TZ`` is read by
cronie (Fedora, RHEL, Arch) and busybox; Debian's cron ignores it and uses the machine's zone.

A sharded plan (``shards = N``) gets one line per shard on the same schedule, each with its
own lock and log file: the shards start together, and a slow shard only makes its own next
run skip, not the others'.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from orchestration.common import shard_runs


def run_argv(plan: Mapping[str, Any], workdir: Path, python: str | None = None) -> list[str]:
    """A run's (the plan's or a shard's) command; a relative interpreter is under ``workdir``.

    A bare name (``python3``) is left to ``PATH``.
    """
    interpreter, *rest = plan["command"]["run"]
    if python is None:
        python = str(workdir / interpreter) if "/" in interpreter else interpreter
    return [python, *rest]


def cron_command(run: Mapping[str, Any], workdir: Path, python: str | None = None) -> str:
    """The shell command of one run (the plan's, or a shard's), under its own lock."""
    log_file, lock_file = run["log_file"], run["lock_file"]
    command = " && ".join(
        [
            f"cd {shlex.quote(str(workdir))}",
            f"mkdir -p {shlex.quote(str(PurePosixPath(log_file).parent))}",
            f"flock -n {shlex.quote(lock_file)} {shlex.join(run_argv(run, workdir, python))}"
            f" >> {shlex.quote(log_file)} 2>&1",
        ]
    )
    # cron turns an unescaped % into a newline: escape any in paths or arguments
    return command.replace("%", chr(92) + "%")


def crontab_entry(plan: Mapping[str, Any], workdir: Path, python: str | None = None) -> str:
    """Comment, ``CRON_TZ`` and schedule lines (one per shard) for ``plan`` in ``workdir``."""
    schedule = plan["schedule"]
    return "\n".join(
        [
            f"# product pipeline: {schedule['cron']!r} in {schedule['timezone']} "
            "(from pipeline.toml [orchestration]); flock skips a run while one is going",
            f"CRON_TZ={schedule['timezone']}",
            *(
                f"{schedule['cron']} {cron_command(run, workdir, python)}"
                for run in shard_runs(plan)
            ),
        ]
    )
