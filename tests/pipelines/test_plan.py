"""The orchestration plan: pinned for the shipped config, validated, and free of secret values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.config import load_config
from pipelines.errors import ConfigError
from pipelines.plan import build_plan, location_args
from pipelines.steps import step_graph
from providers.base import load_providers
from tests.pipelines.test_cli import REPO, clean_env, cli

EXPECTED = REPO / "tests/orchestration/expected_plan.json"
REGENERATE = (
    f"python pipelines/run_pipeline.py --dump-orchestration-plan > {EXPECTED.relative_to(REPO)}"
)


def plan_of(tmp_path: Path, toml: str, *location: str) -> dict:
    path = tmp_path / "pipeline.toml"
    path.write_text(toml)
    providers = load_providers()
    return build_plan(load_config(path, providers), providers, list(location))


def test_plan_of_the_shipped_config_is_pinned() -> None:
    result = cli("--dump-orchestration-plan", cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == json.loads(EXPECTED.read_text()), (
        f"the plan changed: review the difference, then regenerate with `{REGENERATE}`"
    )


def test_plan_subcommand_prints_the_same_plan() -> None:
    dumped = cli("--dump-orchestration-plan", cwd=REPO)
    emitted = cli("plan", "--emit", "json", cwd=REPO)
    assert emitted.returncode == 0, emitted.stderr
    assert json.loads(emitted.stdout) == json.loads(dumped.stdout)


def test_plan_names_every_setting_and_never_prints_a_secret_value() -> None:
    providers = load_providers()
    values = {
        s.env: f"value-of-{s.env.lower()}-s3cr3t" for p in providers.values() for s in p.settings
    }
    values.update(GITHUB_TOKEN="ghp_plan_s3cr3t", PROMETHEUS_PUSHGATEWAY="http://u:pw-s3cr3t@gw")
    result = cli("--dump-orchestration-plan", cwd=REPO, env=clean_env(**values))
    assert result.returncode == 0, result.stderr
    assert "s3cr3t" not in result.stdout + result.stderr
    names = {entry["name"] for entry in json.loads(result.stdout)["environment"]}
    assert names == set(values) | {"GITHUB_REPOSITORY"}


def test_steps_carry_the_graph_retries_timeouts_and_their_command(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, "")
    graph = step_graph(["shopify", "amazon", "ebay"])
    assert [s["name"] for s in plan["steps"]] == [step.name for step in graph]
    for step, expected in zip(plan["steps"], graph, strict=True):
        assert step["depends_on"] == list(expected.depends_on)
        assert (step["retries"], step["retry_backoff"]) == (
            (3, "exponential") if expected.network else (0, "none")
        )
        assert step["timeout_seconds"] == expected.timeout_seconds
        assert step["command"] == [
            ".venv/bin/python", "pipelines/run_pipeline.py", "run-step", step["name"],
            "--run-id", "{run_id}",
        ]  # fmt: skip
    assert plan["run_timeout_seconds"] == sum(step.timeout_seconds for step in graph)
    assert plan["concurrency"] == {"max_active_runs": 1, "overlap": "skip"}


def test_providers_extra_args_and_location_reach_every_command(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        '[orchestration]\nproviders = ["ebay"]\nextra_args = ["--limit", "50", "--no-cache"]\n'
        'python = "/opt/venv/bin/python"\n',
        *location_args(Path("conf/p.toml"), Path("/srv/lake")),
    )
    options = ["--config", "conf/p.toml", "--data-dir", "/srv/lake", "--providers", "ebay",
               "--limit", "50", "--no-cache"]  # fmt: skip
    assert plan["command"]["run"] == ["/opt/venv/bin/python", "pipelines/run_pipeline.py", *options]
    assert [s["name"] for s in plan["steps"]] == [
        "extract.ebay", "normalize.ebay", "quality", "write", "detect", "report",
    ]  # fmt: skip
    assert plan["steps"][0]["command"][-len(options) :] == options
    assert {e["name"] for e in plan["environment"]} >= {"EBAY_CLIENT_ID", "EBAY_OAUTH_TOKEN"}
    assert not any(e["name"].startswith("SHOPIFY_") for e in plan["environment"])


def test_alert_targets_are_listed_with_the_variables_they_need(tmp_path: Path) -> None:
    plan = plan_of(
        tmp_path,
        "[orchestration]\nalerts = [{ kind = 'email', to = 'data@example.com' }, "
        "{ kind = 'webhook', url_env = 'ALERT_WEBHOOK_URL' }]\n",
    )
    assert plan["alerts"] == [
        {"kind": "email", "to": "data@example.com"},
        {"kind": "webhook", "url_env": "ALERT_WEBHOOK_URL"},
    ]
    webhook = next(e for e in plan["environment"] if e["name"] == "ALERT_WEBHOOK_URL")
    assert webhook == {"name": "ALERT_WEBHOOK_URL", "used_by": "alerts", "secret": True,
                       "required": True}  # fmt: skip


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[orchestration.schedule]\ncron = '61 0 * * *'\n",
         "orchestration.schedule.cron: '61 0 * * *' is not a valid cron expression"),
        ("[orchestration.schedule]\ncron = '0 0 * * * *'\n",
         "orchestration.schedule.cron: '0 0 * * * *' is not a valid cron expression"),
        ("[orchestration.schedule]\ncron = 'daily'\n", "orchestration.schedule.cron: 'daily'"),
        ("[orchestration.schedule]\ntimezone = 'Mars/Olympus'\n",
         "orchestration.schedule.timezone: unknown time zone 'Mars/Olympus'"),
        ("[orchestration.schedule]\ncron_tz = 'UTC'\n", "orchestration.schedule.cron_tz: unknown"),
        ("[orchestration]\nmode = 'cron'\n",
         "orchestration.mode: expected one of plain_cron, windows_task_scheduler"),
        ("[orchestration]\nschedule = '15 0 * * *'\n", "orchestration.schedule: expected a table"),
        ("[orchestration]\nretries = 3\n", "orchestration.retries: unknown setting"),
        ("[orchestration]\nextra_args = ['--force']\n",
         "orchestration.extra_args: '--force' is not allowed"),
        ("[orchestration]\nextra_args = ['--limit']\n",
         "orchestration.extra_args: --limit needs a value"),
        ("[orchestration]\nextra_args = '--offline'\n",
         "orchestration.extra_args: expected a list of strings"),
        ("[orchestration]\nproviders = ['etsy']\n",
         "orchestration.providers: no such provider 'etsy'"),
        ("[orchestration]\nalerts = [{ kind = 'pager' }]\n",
         "orchestration.alerts[0].kind: expected one of github_issue, email, webhook"),
        ("[orchestration]\nalerts = [{ kind = 'webhook' }]\n",
         "orchestration.alerts[0].url_env: required for kind 'webhook'"),
        ("[orchestration]\nalerts = [{ kind = 'email', to = 'a@b.c', cc = 'x' }]\n",
         "orchestration.alerts[0].cc: unknown setting"),
    ],
)  # fmt: skip
def test_bad_orchestration_settings_name_the_key(tmp_path: Path, toml: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        plan_of(tmp_path, toml)
    assert message in str(error.value)


def test_an_invalid_cron_expression_exits_2_with_one_line_naming_the_key(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text("[orchestration.schedule]\ncron = '0 25 * * *'\n")
    result = cli("--config", "bad.toml", "--dump-orchestration-plan", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "run_pipeline.py: error: orchestration.schedule.cron: '0 25 * * *' is not a valid cron "
        "expression (five fields: minute hour day-of-month month day-of-week, e.g. '15 0 * * *')"
    ]
    assert result.stdout == ""


def test_several_errors_are_reported_together(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        plan_of(tmp_path, "[orchestration]\nmode = 'x'\n[orchestration.schedule]\ncron = 'y'\n")
    assert "orchestration.mode" in str(error.value)
    assert "orchestration.schedule.cron" in str(error.value)
