"""The orchestration plan: pinned for the shipped config, validated, and free of secret values."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.config import load_config
from pipelines.errors import ConfigError
from pipelines.ops.plan import build_plan, location_args
from pipelines.run.steps import step_graph
from providers.registry import load_providers
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
        ("[orchestration]\nretries = 3\n",
         "orchestration.retries: unknown key (known: mode, python, "),
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
         "orchestration.alerts[0].url_env: expected the name of the environment variable "
         "holding the URL (required)"),
        ("[orchestration]\nalerts = [{ kind = 'email', to = 'a@b.c', cc = 'x' }]\n",
         "orchestration.alerts[0].cc: unknown key (known: kind, to)"),
        ("[orchestration]\nshards = 0\n",
         "orchestration.shards: expected a whole number >= 1, got 0"),
        ("[orchestration]\nshards = '3'\n",
         "orchestration.shards: expected a whole number >= 1, got '3'"),
        ("[orchestration]\nshards = true\n",
         "orchestration.shards: expected a whole number >= 1, got True"),
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
        "run_pipeline.py: error: bad.toml: orchestration.schedule.cron: '0 25 * * *' is not a "
        "valid cron "
        "expression (five fields: minute hour day-of-month month day-of-week, e.g. '15 0 * * *')"
    ]
    assert result.stdout == ""


def test_several_errors_are_reported_together(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        plan_of(tmp_path, "[orchestration]\nmode = 'x'\n[orchestration.schedule]\ncron = 'y'\n")
    assert "orchestration.mode" in str(error.value)
    assert "orchestration.schedule.cron" in str(error.value)


SHARDED = '[orchestration]\nshards = 3\nextra_args = ["--offline"]\n'


def test_one_shard_is_the_plain_plan(tmp_path: Path) -> None:
    assert plan_of(tmp_path, "[orchestration]\nshards = 1\n") == plan_of(tmp_path, "")


def test_a_sharded_plan_lists_one_run_per_shard_with_its_graph_and_commands(
    tmp_path: Path,
) -> None:
    plan = plan_of(tmp_path, SHARDED)
    assert "steps" not in plan  # nothing an adapter could run unsharded by mistake
    assert "command" not in plan
    assert [run["shard"] for run in plan["shards"]] == ["1/3", "2/3", "3/3"]
    # offline, amazon's and ebay's recorded list items are split; shopify goes whole
    assert [run["providers"] for run in plan["shards"]] == [
        ["shopify", "amazon", "ebay"], ["amazon"], ["ebay"],
    ]  # fmt: skip
    for run in plan["shards"]:
        graph = step_graph(run["providers"])
        assert [s["name"] for s in run["steps"]] == [step.name for step in graph]
        assert run["command"]["run"][-3:] == ["--offline", "--shard", run["shard"]]
        for step in run["steps"]:
            assert step["command"][:4] == [*run["command"]["run"][:2], "run-step", step["name"]]
            assert step["command"][-2:] == ["--shard", run["shard"]]
        write = next(s for s in run["steps"] if s["name"] == "write")
        assert write["timeout_seconds"] == 1800 + 600  # + lock_wait_seconds: shards queue
        assert run["run_timeout_seconds"] == sum(s["timeout_seconds"] for s in run["steps"])
    assert plan["run_timeout_seconds"] == max(r["run_timeout_seconds"] for r in plan["shards"])
    assert len({run["lock_file"] for run in plan["shards"]}) == 3
    assert len({run["log_file"] for run in plan["shards"]}) == 3


def test_shards_without_work_are_left_out(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, '[orchestration]\nshards = 3\nproviders = ["shopify"]\n')
    assert [(run["shard"], run["providers"]) for run in plan["shards"]] == [("1/3", ["shopify"])]


def test_a_sharded_plan_never_prints_a_secret_value(tmp_path: Path) -> None:
    (tmp_path / "pipeline.toml").write_text(SHARDED)
    values = {s.env: f"v-{s.env.lower()}-s3cr3t" for p in load_providers().values()
              for s in p.settings}  # fmt: skip
    result = cli("--dump-orchestration-plan", cwd=tmp_path, env=clean_env(**values))
    assert result.returncode == 0, result.stderr
    assert "s3cr3t" not in result.stdout + result.stderr
    assert len(json.loads(result.stdout)["shards"]) == 3


def test_a_shards_first_step_command_starts_a_run_of_that_shard(tmp_path: Path) -> None:
    (tmp_path / "pipeline.toml").write_text(
        f'[pipeline]\ndata_dir = "{tmp_path / "data"}"\nlog_dir = "{tmp_path / "logs"}"\n' + SHARDED
    )
    dumped = cli("--dump-orchestration-plan", cwd=tmp_path)
    shard = json.loads(dumped.stdout)["shards"][2]
    run_id = "20261122T001500Z-a1b2c3"
    argv = [run_id if arg == "{run_id}" else arg for arg in shard["steps"][0]["command"]]
    result = cli(*argv[2:], cwd=tmp_path)  # cli() adds the interpreter and the script
    assert result.returncode == 0, result.stderr
    checkpoint = json.loads((tmp_path / f"data/demo/_runs/{run_id}/checkpoint.json").read_text())
    assert checkpoint["options"]["shard"] == "3/3"
    assert sorted(checkpoint["steps"]) == sorted(s["name"] for s in shard["steps"])
    assert checkpoint["steps"]["extract.ebay"]["status"] == "done"


ORDERS = '[pipeline]\ndatasets = ["products", "orders"]\n'
PULLS = ["dataset.orders.shopify", "dataset.orders.ebay", "dataset.orders.amazon_sp"]


def test_datasets_beyond_products_are_steps_beside_the_products_ones(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, ORDERS)
    assert plan["datasets"] == ["products", "orders"]
    steps = {step["name"]: step for step in plan["steps"]}
    graph = step_graph(["shopify", "amazon", "ebay"], datasets=[p[8:] for p in PULLS])
    assert list(steps) == [step.name for step in graph]
    for pull in PULLS:  # nothing to wait for: they run beside the products' steps
        assert (steps[pull]["depends_on"], steps[pull]["retries"]) == ([], 3)
    assert steps["detect"]["depends_on"] == ["write", *PULLS]
    assert steps["report"]["depends_on"] == ["detect", *PULLS]
    for step in plan["steps"]:  # every step's first run starts the run with both datasets
        assert step["command"][-2:] == ["--datasets", "products,orders"]
    assert plan["command"]["run"][-2:] == ["--datasets", "products,orders"]


def test_an_orders_only_plan_has_no_product_steps(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, '[pipeline]\ndatasets = ["orders"]\n')
    assert [step["name"] for step in plan["steps"]] == [
        "quality", "write", *PULLS, "detect", "report",
    ]  # fmt: skip


def test_a_sharded_plan_pulls_each_dataset_of_each_provider_in_one_shard(tmp_path: Path) -> None:
    plan = plan_of(tmp_path, ORDERS + SHARDED)
    pulls = [s["name"] for run in plan["shards"] for s in run["steps"] if s["name"] in PULLS]
    assert sorted(pulls) == sorted(PULLS)


def test_a_pull_steps_command_starts_the_run_with_the_plans_datasets(tmp_path: Path) -> None:
    (tmp_path / "pipeline.toml").write_text(
        f'[pipeline]\ndata_dir = "{tmp_path / "data"}"\nlog_dir = "{tmp_path / "logs"}"\n'
        'datasets = ["products", "orders"]\n[orchestration]\nextra_args = ["--offline"]\n'
    )
    plan = json.loads(cli("--dump-orchestration-plan", cwd=tmp_path).stdout)
    run_id = "20261122T001500Z-a1b2c3"
    (pull,) = [s for s in plan["steps"] if s["name"] == "dataset.orders.shopify"]
    argv = [run_id if arg == "{run_id}" else arg for arg in pull["command"]]
    result = cli(*argv[2:], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    checkpoint = json.loads((tmp_path / f"data/demo/_runs/{run_id}/checkpoint.json").read_text())
    assert checkpoint["options"]["datasets"] == ["products", "orders"]
    assert sorted(checkpoint["steps"]) == sorted(s["name"] for s in plan["steps"])
    assert checkpoint["steps"]["dataset.orders.shopify"]["status"] == "done"
    assert list((tmp_path / "data/demo/orders").rglob("*.parquet"))
