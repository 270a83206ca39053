"""``plan --emit crontab``: a schedule cron understands and a command that runs the pipeline."""

from __future__ import annotations

import fcntl
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from croniter import croniter

from tests.orchestration.helpers import SHARDED_TOML, assert_shards_equal_one_run
from tests.pipelines.test_cli import REPO, cli

CRON_ENV = {"PATH": "/usr/bin:/bin", "SHELL": "/bin/sh"}  # what cron gives a job


def crontab(tmp_path: Path) -> tuple[str, str, list[str]]:
    """The emitted schedule, command and other lines for an offline, shopify-only config."""
    config = tmp_path / "pipeline.toml"
    config.write_text(
        f'[pipeline]\ndata_dir = "{tmp_path / "data"}"\nlog_dir = "{tmp_path / "logs"}"\n'
        '[orchestration]\nproviders = ["shopify"]\nextra_args = ["--offline"]\n'
        '[orchestration.schedule]\ncron = "*/30 6-18 * * 1-5"\ntimezone = "Europe/Berlin"\n'
    )
    result = cli("plan", "--emit", "crontab", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    *other, entry = result.stdout.strip().splitlines()
    fields = entry.split(maxsplit=5)
    # cron hands the command to /bin/sh after turning "\%" into "%"
    return " ".join(fields[:5]), fields[5].replace("\\%", "%"), other


def run_cron_command(command: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["/bin/sh", "-c", command], env=CRON_ENV, capture_output=True, text=True, timeout=120
    )


def test_schedule_is_the_plans_and_cron_parses_it(tmp_path: Path) -> None:
    schedule, _, other = crontab(tmp_path)
    assert schedule == "*/30 6-18 * * 1-5"
    assert "CRON_TZ=Europe/Berlin" in other
    friday_evening = datetime(2026, 11, 20, 18, 45, tzinfo=UTC)
    assert croniter(schedule, friday_evening).get_next(datetime) == datetime(
        2026, 11, 23, 6, 0, tzinfo=UTC
    )


def test_command_runs_the_pipeline_offline_and_logs_to_the_plans_log_file(
    tmp_path: Path,
) -> None:
    _, command, _ = crontab(tmp_path)
    assert f"cd {REPO} && " in command
    assert "flock -n" in command
    result = run_cron_command(command)
    assert result.returncode == 0, (tmp_path / "logs/scheduler.log").read_text()
    assert result.stdout == result.stderr == ""  # all output goes to the log file
    assert "shopify" in (tmp_path / "logs/scheduler.log").read_text()
    run = json.loads((tmp_path / "logs/demo/runs.jsonl").read_text().splitlines()[-1])
    assert run["mode"] == "offline"
    assert list(run["providers"]) == ["shopify"]
    assert list((tmp_path / "data/demo/normalized").rglob("source=shopify/*.parquet"))


def test_a_run_still_holding_the_lock_makes_the_next_one_skip(tmp_path: Path) -> None:
    _, command, _ = crontab(tmp_path)
    (tmp_path / "logs").mkdir()
    with (tmp_path / "logs/pipeline.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = run_cron_command(command)
    assert result.returncode == 1
    assert not (tmp_path / "logs/demo/runs.jsonl").exists()


def test_a_sharded_plan_gets_one_line_per_shard_and_their_lake_equals_one_run(
    tmp_path: Path,
) -> None:
    """~15 s: the three shard lines at once (as cron starts them), then one reference run."""
    config = tmp_path / "pipeline.toml"
    config.write_text(
        f'[pipeline]\ndata_dir = "{tmp_path / "data"}"\nlog_dir = "{tmp_path / "logs"}"\n'
        + SHARDED_TOML
    )
    result = cli("plan", "--emit", "crontab", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("15 0 * * * ")]
    assert len(lines) == 3
    for k, line in enumerate(lines, 1):
        assert f"flock -n {tmp_path}/logs/pipeline-shard-{k}-of-3.lock " in line
        assert f" --shard {k}/3 >> {tmp_path}/logs/scheduler-shard-{k}-of-3.log" in line
    commands = [line.split(maxsplit=5)[5] for line in lines]
    shells = [subprocess.Popen(["/bin/sh", "-c", command], env=CRON_ENV) for command in commands]
    assert [shell.wait(timeout=120) for shell in shells] == [0, 0, 0]
    plan = json.loads(
        cli("--dump-orchestration-plan", "--config", str(config), cwd=tmp_path).stdout
    )
    assert_shards_equal_one_run(tmp_path, plan)
