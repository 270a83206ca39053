"""The crontab entry of a scheduled run: the whole run, logged, and never two at once.

``run_pipeline.py plan --emit crontab`` prints it; ``crontab -e`` takes it as is::

    # product pipeline: '15 0 * * *' in UTC (from pipeline.toml [orchestration])
    CRON_TZ=UTC
    15 0 * * * cd /srv/pipeline && mkdir -p logs && flock -n logs/pipeline.lock \
        .venv/bin/python pipelines/run_pipeline.py >> logs/scheduler.log 2>&1

``flock -n`` skips a run while the previous one still holds the lock. ``CRON_TZ`` is read by
cronie (Fedora, RHEL, Arch) and busybox; Debian's cron ignores it and uses the machine's zone.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any


def run_argv(plan: Mapping[str, Any], workdir: Path, python: str | None = None) -> list[str]:
    """The plan's whole-run command; a relative interpreter path is resolved under ``workdir``.

    A bare name (``python3``) is left to ``PATH``.
    """
    interpreter, *rest = plan["command"]["run"]
    if python is None:
        python = str(workdir / interpreter) if "/" in interpreter else interpreter
    return [python, *rest]


def crontab_entry(plan: Mapping[str, Any], workdir: Path, python: str | None = None) -> str:
    """Comment, ``CRON_TZ`` and schedule lines for ``plan`` running in ``workdir``."""
    schedule = plan["schedule"]
    log_file, lock_file = plan["log_file"], plan["lock_file"]
    command = " && ".join(
        [
            f"cd {shlex.quote(str(workdir))}",
            f"mkdir -p {shlex.quote(str(PurePosixPath(log_file).parent))}",
            f"flock -n {shlex.quote(lock_file)} {shlex.join(run_argv(plan, workdir, python))}"
            f" >> {shlex.quote(log_file)} 2>&1",
        ]
    )
    return "\n".join(
        [
            f"# product pipeline: {schedule['cron']!r} in {schedule['timezone']} "
            "(from pipeline.toml [orchestration]); flock skips a run while one is going",
            f"CRON_TZ={schedule['timezone']}",
            # cron turns an unescaped % into a newline: escape any in paths or arguments
            f"{schedule['cron']} {command.replace('%', chr(92) + '%')}",
        ]
    )
