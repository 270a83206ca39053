"""The Windows Task Scheduler task of a scheduled run, as task XML (schema 1.2).

``run_pipeline.py plan --emit windows-task --output task.xml`` writes it in UTF-16, as
``schtasks /Create /TN ProductPipeline /XML task.xml`` expects. The cron schedule becomes
calendar triggers: daily, weekly (day-of-week) or monthly (day-of-month, months) at the listed
times, or one daily trigger with a repetition when the times are evenly spaced (``*/15``).
``MultipleInstancesPolicy`` ``IgnoreNew`` skips a run while the previous one is going.

A sharded plan (``shards = N``) makes one task per shard (``task_xml(plan, ..., run=shard)``,
named ``ProductPipeline-shard-K-of-N``): a task's actions run one after the other, so
separate tasks are what lets the shards run at the same time, each skipping only its own
overlaps.
"""

from __future__ import annotations

import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from itertools import pairwise
from pathlib import PureWindowsPath
from typing import Any

from croniter import croniter

from pipelines.errors import ConfigError

NAMESPACE = "http://schemas.microsoft.com/windows/2004/02/mit/task"
CRON_KEY = "orchestration.schedule.cron"
DEFAULT_PYTHON = r".venv\Scripts\python.exe"
WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
TASK_NAME = "ProductPipeline"
MAX_TRIGGERS = 48
DAY_MINUTES = 24 * 60


def duration(seconds: int) -> str:
    """An ISO 8601 duration such as ``PT6H30M``."""
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{v}{unit}" for v, unit in ((hours, "H"), (minutes, "M"), (seconds, "S")) if v]
    return "PT" + ("".join(parts) or "0S")


def _values(field: list[Any], full: range) -> list[int]:
    return list(full) if field == ["*"] else sorted(int(v) for v in field)


def daily_times(cron: str) -> list[int]:
    """The minutes after midnight at which ``cron`` fires on a day it fires."""
    minutes, hours = croniter.expand(cron)[0][:2]
    return [h * 60 + m for h in _values(hours, range(24)) for m in _values(minutes, range(60))]


def _spacing(times: list[int]) -> int | None:
    """The common gap of evenly spaced times that repeat cleanly over a day, if any."""
    if len(times) < 2:
        return None
    gap = times[1] - times[0]
    even = all(b - a == gap for a, b in pairwise(times))
    return gap if even and DAY_MINUTES % gap == 0 and times[0] < gap else None


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, f"{{{NAMESPACE}}}{tag}")
    element.text = text
    return element


def _schedule(trigger: ET.Element, days: list[Any], months: list[Any], weekdays: list[Any]) -> None:
    if weekdays != ["*"]:
        if days != ["*"] or months != ["*"]:
            raise ConfigError(
                f"{CRON_KEY}: a schedule restricting both days and weekdays (or months and "
                "weekdays) has no Windows Task Scheduler trigger; restrict one of them"
            )
        by_week = _sub(trigger, "ScheduleByWeek")
        _sub(by_week, "WeeksInterval", "1")
        names = _sub(by_week, "DaysOfWeek")
        for day in sorted({int(d) % 7 for d in weekdays}):
            _sub(names, WEEKDAYS[day])
    elif days != ["*"] or months != ["*"]:
        by_month = _sub(trigger, "ScheduleByMonth")
        day_list = _sub(by_month, "DaysOfMonth")
        for day in _values(days, range(1, 32)):
            _sub(day_list, "Day", str(day))
        month_list = _sub(by_month, "Months")
        for month in _values(months, range(1, 13)):
            _sub(month_list, MONTHS[month - 1])
    else:
        _sub(_sub(trigger, "ScheduleByDay"), "DaysInterval", "1")


def add_triggers(triggers: ET.Element, cron: str, timezone: str) -> None:
    """Calendar triggers that fire when ``cron`` does (UTC start times carry a ``Z``)."""
    _, _, days, months, weekdays = croniter.expand(cron)[0]
    times = daily_times(cron)
    gap = _spacing(times)
    starts = times[:1] if gap else times
    if len(starts) > MAX_TRIGGERS:
        raise ConfigError(
            f"{CRON_KEY}: {cron!r} fires at {len(starts)} unevenly spaced times a day; "
            f"Windows Task Scheduler takes at most {MAX_TRIGGERS} triggers here"
        )
    zone = "Z" if timezone in ("UTC", "Etc/UTC") else ""
    for start in starts:
        trigger = _sub(triggers, "CalendarTrigger")
        if gap:
            repetition = _sub(trigger, "Repetition")
            _sub(repetition, "Interval", duration(gap * 60))
            _sub(repetition, "Duration", "P1D")
            _sub(repetition, "StopAtDurationEnd", "false")
        _sub(trigger, "StartBoundary", f"2000-01-01T{start // 60:02d}:{start % 60:02d}:00{zone}")
        _sub(trigger, "Enabled", "true")
        _schedule(trigger, days, months, weekdays)


def _arguments(argv: Sequence[str]) -> str:
    script, *rest = argv
    return subprocess.list2cmdline([str(PureWindowsPath(script)), *rest])


def task_name(run: Mapping[str, Any]) -> str:
    """``ProductPipeline``, or ``ProductPipeline-shard-2-of-3`` for shard 2/3."""
    shard = run.get("shard")
    return "ProductPipeline-shard-{}-of-{}".format(*shard.split("/")) if shard else TASK_NAME


def task_xml(
    plan: Mapping[str, Any],
    workdir: str,
    python: str | None = None,
    run: Mapping[str, Any] | None = None,
) -> str:
    """The task definition of ``plan`` (or of its shard ``run``) running in ``workdir``."""
    run = run or plan
    ET.register_namespace("", NAMESPACE)
    task = ET.Element(f"{{{NAMESPACE}}}Task", version="1.2")
    info = _sub(task, "RegistrationInfo")
    schedule = plan["schedule"]
    shard = f", shard {run['shard']}" if run.get("shard") else ""
    _sub(info, "Description",
         f"Product pipeline{shard}: {schedule['cron']!r} in {schedule['timezone']}")  # fmt: skip
    _sub(info, "URI", "\\" + task_name(run))
    add_triggers(_sub(task, "Triggers"), schedule["cron"], schedule["timezone"])
    principal = _sub(_sub(task, "Principals"), "Principal")
    principal.set("id", "Author")
    _sub(principal, "LogonType", "S4U")
    _sub(principal, "RunLevel", "LeastPrivilege")
    settings = _sub(task, "Settings")
    for tag, text in (
        ("MultipleInstancesPolicy", "IgnoreNew"),
        ("DisallowStartIfOnBatteries", "false"),
        ("StopIfGoingOnBatteries", "false"),
        ("StartWhenAvailable", "true"),
        ("RunOnlyIfNetworkAvailable", "true"),
        ("ExecutionTimeLimit", duration(run["run_timeout_seconds"])),
        ("Enabled", "true"),
    ):
        _sub(settings, tag, text)
    actions = _sub(task, "Actions")
    actions.set("Context", "Author")
    execute = _sub(actions, "Exec")
    _sub(execute, "Command", python or str(PureWindowsPath(workdir, DEFAULT_PYTHON)))
    _sub(execute, "Arguments", _arguments(run["command"]["run"][1:]))
    _sub(execute, "WorkingDirectory", workdir)
    ET.indent(task)
    return ET.tostring(task, encoding="unicode")
