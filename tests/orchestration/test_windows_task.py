"""``plan --emit windows-task``: Task Scheduler XML with trigger, command and no overlap."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from orchestration.windows_task import NAMESPACE, task_xml
from pipelines.errors import ConfigError
from tests.pipelines.test_cli import REPO, cli

NS = {"t": NAMESPACE}
WORKDIR = r"C:\pipeline"


def plan_with(cron: str, timezone: str = "UTC") -> dict:
    return {
        "schedule": {"cron": cron, "timezone": timezone},
        "command": {"run": [".venv/bin/python", "pipelines/run_pipeline.py", "--limit", "5"]},
        "run_timeout_seconds": 23400,
    }


def triggers(cron: str, timezone: str = "UTC") -> list[ET.Element]:
    task = ET.fromstring(task_xml(plan_with(cron, timezone), WORKDIR))
    return task.findall("t:Triggers/t:CalendarTrigger", NS)


def test_shipped_plan_gives_a_six_hourly_task_that_never_overlaps() -> None:
    """pipeline.toml's schedule, the workflow's cron too: minute 17 of every sixth hour, UTC."""
    result = cli("plan", "--emit", "windows-task", "--workdir", WORKDIR, cwd=REPO)
    assert result.returncode == 0, result.stderr
    task = ET.fromstring(result.stdout)
    assert task.tag == f"{{{NAMESPACE}}}Task"
    (trigger,) = task.findall("t:Triggers/t:CalendarTrigger", NS)
    assert trigger.findtext("t:StartBoundary", namespaces=NS) == "2000-01-01T00:17:00Z"
    assert trigger.findtext("t:Repetition/t:Interval", namespaces=NS) == "PT6H"
    assert trigger.findtext("t:ScheduleByDay/t:DaysInterval", namespaces=NS) == "1"
    settings = task.find("t:Settings", NS)
    assert settings.findtext("t:MultipleInstancesPolicy", namespaces=NS) == "IgnoreNew"
    assert settings.findtext("t:ExecutionTimeLimit", namespaces=NS) == "PT6H30M"
    execute = task.find("t:Actions/t:Exec", NS)
    assert execute.findtext("t:Command", namespaces=NS) == r"C:\pipeline\.venv\Scripts\python.exe"
    assert execute.findtext("t:Arguments", namespaces=NS) == r"pipelines\run_pipeline.py"
    assert execute.findtext("t:WorkingDirectory", namespaces=NS) == WORKDIR


def test_output_file_is_utf16_as_schtasks_expects(tmp_path: Path) -> None:
    out = tmp_path / "task.xml"
    result = cli("plan", "--emit", "windows-task", "--output", str(out), cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes()[:2] in (b"\xff\xfe", b"\xfe\xff")  # a byte-order mark
    assert ET.parse(out).getroot().tag == f"{{{NAMESPACE}}}Task"


def test_evenly_spaced_times_become_one_trigger_with_a_repetition() -> None:
    (trigger,) = triggers("*/15 * * * *")
    assert trigger.findtext("t:Repetition/t:Interval", namespaces=NS) == "PT15M"
    assert trigger.findtext("t:Repetition/t:Duration", namespaces=NS) == "P1D"
    assert trigger.findtext("t:StartBoundary", namespaces=NS) == "2000-01-01T00:00:00Z"
    (every_6h,) = triggers("30 */6 * * *", "Europe/Berlin")
    assert every_6h.findtext("t:Repetition/t:Interval", namespaces=NS) == "PT6H"
    assert every_6h.findtext("t:StartBoundary", namespaces=NS) == "2000-01-01T00:30:00"


def test_weekdays_months_and_listed_times() -> None:
    weekly = triggers("0 6,17 * * 1-5")
    assert [t.findtext("t:StartBoundary", namespaces=NS)[11:16] for t in weekly] == [
        "06:00", "17:00",
    ]  # fmt: skip
    days = weekly[0].find("t:ScheduleByWeek/t:DaysOfWeek", NS)
    assert [d.tag.split("}")[1] for d in days] == [
        "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
    ]  # fmt: skip
    (monthly,) = triggers("0 3 1,15 jan,jul *")
    by_month = monthly.find("t:ScheduleByMonth", NS)
    assert [d.text for d in by_month.find("t:DaysOfMonth", NS)] == ["1", "15"]
    assert [m.tag.split("}")[1] for m in by_month.find("t:Months", NS)] == ["January", "July"]


def test_arguments_are_quoted_for_windows() -> None:
    plan = plan_with("0 0 * * *")
    plan["command"]["run"] += ["--config", r"C:\my configs\p.toml"]
    task = ET.fromstring(task_xml(plan, WORKDIR, python=r"C:\Python311\python.exe"))
    arguments = task.findtext("t:Actions/t:Exec/t:Arguments", namespaces=NS)
    assert arguments == r'pipelines\run_pipeline.py --limit 5 --config "C:\my configs\p.toml"'
    assert task.findtext("t:Actions/t:Exec/t:Command", namespaces=NS) == r"C:\Python311\python.exe"


@pytest.mark.parametrize(
    ("cron", "message"),
    [
        ("0 0 1 * 1", "restricting both days and weekdays"),
        ("7,11,13,59 * * * *", "fires at 96 unevenly spaced times a day"),
    ],
)
def test_schedules_task_scheduler_cannot_express_name_the_key(cron: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"orchestration\.schedule\.cron") as error:
        task_xml(plan_with(cron), WORKDIR)
    assert message in str(error.value)


def test_a_sharded_plan_gives_one_task_file_per_shard(tmp_path: Path) -> None:
    (tmp_path / "pipeline.toml").write_text(
        "[orchestration]\nshards = 3\nextra_args = ['--offline']\n"
    )
    refused = cli("plan", "--emit", "windows-task", cwd=tmp_path)
    assert refused.returncode == 2
    assert "a sharded plan makes one task per shard; give --output PATH" in refused.stderr
    out = tmp_path / "task.xml"
    result = cli("plan", "--emit", "windows-task", "--output", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    paths = [tmp_path / f"task-shard-{k}-of-3.xml" for k in (1, 2, 3)]
    assert result.stdout.splitlines() == [str(path) for path in paths]
    for k, path in enumerate(paths, 1):
        task = ET.parse(path).getroot()
        assert task.findtext("t:RegistrationInfo/t:URI", namespaces=NS) == (
            f"\\ProductPipeline-shard-{k}-of-3"
        )
        arguments = task.findtext("t:Actions/t:Exec/t:Arguments", namespaces=NS)
        assert arguments.endswith(f"--offline --shard {k}/3")
        settings = task.find("t:Settings", NS)
        assert settings.findtext("t:MultipleInstancesPolicy", namespaces=NS) == "IgnoreNew"
