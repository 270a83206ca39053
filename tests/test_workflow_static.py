"""pipeline.yml and ci.yml read, not run: pins, permissions, triggers, artifacts, secrets."""

from __future__ import annotations

import json
import re
import tomllib

from ruamel.yaml import YAML

from providers.registry import load_providers
from tests.workflow_syntax import PINS, PIPELINE, REPO, WORKFLOWS


def workflow_text(name: str) -> str:
    return (WORKFLOWS / name).read_text()


def test_every_action_is_pinned_to_the_agreed_commit_with_its_version() -> None:
    for name in ("pipeline.yml", "ci.yml"):
        uses = re.findall(r"uses: ([\w/.-]+)@(\S+)(?: # (\S+))?", workflow_text(name))
        assert uses
        for action, sha, version in uses:
            repo = "/".join(action.split("/")[:2])
            assert (sha, version) == PINS[repo], f"{name}: {action}"


def test_runs_share_one_concurrency_group_that_never_cancels_a_run_in_progress() -> None:
    """Workflow-level only: a job-level group would let a second run's jobs start beside the
    first's. GitHub then keeps one pending run per group (a newer one cancels it), which
    docs/github-actions-at-scale.md says, rather than a "never cancelled" queue."""
    assert PIPELINE["concurrency"] == {"group": "product-pipeline", "cancel-in-progress": False}
    assert all("concurrency" not in job for job in PIPELINE["jobs"].values())
    assert "${{" not in PIPELINE["concurrency"]["group"]  # one group for every event and ref
    docs = (REPO / "docs/github-actions-at-scale.md").read_text()
    assert "at most one pending run" in docs
    for text in (workflow_text("pipeline.yml"), (REPO / "README.md").read_text(), docs):
        assert "never cancelled" not in text


def test_jobs_have_timeouts_and_least_permissions() -> None:
    assert PIPELINE["permissions"] == {}
    permissions = {name: job["permissions"] for name, job in PIPELINE["jobs"].items()}
    assert permissions == {
        "run": {"contents": "read", "actions": "read", "issues": "read"},
        "finalize": {"contents": "read", "actions": "read", "issues": "read"},
        "issues": {"contents": "read", "issues": "write"},
        "keepalive": {"actions": "write"},
    }
    assert all(job["timeout-minutes"] <= 90 for job in PIPELINE["jobs"].values())


def test_triggers_schedule_off_the_hour_and_take_the_documented_inputs() -> None:
    [schedule] = PIPELINE["on"]["schedule"]
    minute, hour, *_ = schedule["cron"].split()
    assert (hour, minute != "0") == ("*/6", True)
    inputs = PIPELINE["on"]["workflow_dispatch"]["inputs"]
    assert {k: v["type"] for k, v in inputs.items()} == {
        "providers": "string", "datasets": "string", "limit": "number", "dry_run": "boolean",
        "full_refresh": "boolean", "allow_mass_delete": "boolean",
    }  # fmt: skip


def test_the_workflow_cron_is_pipeline_toml_schedule() -> None:
    """One schedule: pipeline.toml's [orchestration.schedule] (what other schedulers read) and
    the workflow's cron (what GitHub runs) must say the same, in UTC."""
    [schedule] = PIPELINE["on"]["schedule"]
    toml = tomllib.loads((REPO / "pipeline.toml").read_text())["orchestration"]["schedule"]
    assert schedule["cron"] == toml["cron"]
    assert toml.get("timezone", "UTC") == "UTC"  # GitHub's cron is always UTC


def test_products_are_uploaded_uncompressed_under_a_name_unique_per_attempt() -> None:
    steps = {step["name"]: step for step in PIPELINE["jobs"]["run"]["steps"]}
    products = steps["Upload products"]["with"]
    # a shard's name ends in -shard-K-of-N (gha-publish's artifact_suffix); unsharded, nothing
    assert products["name"] == (
        "products-${{ github.run_id }}-${{ github.run_attempt }}"
        "${{ steps.publish.outputs.artifact_suffix }}"
    )
    assert products["compression-level"] == 0
    assert "retention-days" in products
    names = list(steps)
    assert names.index("Upload products") < names.index("Save state to the cache")
    assert names.index("Upload products") < names.index("Upload state")


def test_exports_run_after_publish_into_the_products_artifact_when_asked() -> None:
    """``PIPELINE_EXPORTS`` (docs/exports.md): the export step runs only for a committed run
    that asked for it, writes into the products folder before it is uploaded, and cannot keep
    the data or the state from their upload."""
    steps = {step["name"]: step for step in PIPELINE["jobs"]["run"]["steps"]}
    export = steps["Export the catalog"]
    assert export["if"] == (
        "steps.publish.outputs.committed == 'true' && vars.PIPELINE_EXPORTS != ''"
    )
    assert export["continue-on-error"] is True
    assert export["env"]["EXPORTS"] == "${{ vars.PIPELINE_EXPORTS }}"
    assert 'export "${args[@]}"' in export["run"]
    assert '--format "$EXPORTS" --output "$RUNNER_TEMP/products/exports"' in export["run"]
    assert steps["Upload products"]["with"]["path"] == "${{ runner.temp }}/products"
    names = list(steps)
    assert names.index("Summary, annotations and outputs") < names.index("Export the catalog")
    assert names.index("Export the catalog") < names.index("Upload products")


def test_no_expression_inside_a_run_script() -> None:
    for job in PIPELINE["jobs"].values():
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), step["name"]


def test_provider_secrets_reach_only_the_pipeline_step() -> None:
    steps = [step for job in PIPELINE["jobs"].values() for step in job["steps"]]
    holders = [s["name"] for s in steps if "secrets." in json.dumps(s.get("env", {}))]
    assert holders == [
        "Run the pipeline", "Summary, annotations and outputs", "Export the catalog",
        "Join the shards",
    ]  # fmt: skip
    for name in holders[1:]:
        env = next(s["env"] for s in steps if s["name"] == name)
        # publish reads the run's manifest from the lake, export its current catalog, the join
        # the shards' records: the lake's keys, and nothing else
        assert sorted(v for v in env.values() if "secrets." in v) == [
            "${{ secrets.LAKE_ACCESS_KEY_ID }}", "${{ secrets.LAKE_SECRET_ACCESS_KEY }}",
        ], name  # fmt: skip
    env = next(s["env"] for s in steps if s["name"] == "Run the pipeline")
    for provider in load_providers().values():
        for setting in provider.settings:
            if setting.env.endswith("_URL"):
                assert setting.env not in env  # endpoint overrides are for tests and proxies
                continue
            source = "secrets" if setting.secret else "vars"
            value = f"{source}.{setting.env}"
            if setting.secret and "products" not in (setting.datasets or provider.datasets):
                value = f"steps.datasets.outputs.orders == 'true' && {value} || ''"
            assert env.get(setting.env) == f"${{{{ {value} }}}}", setting.env


def test_order_secrets_reach_the_run_only_when_it_pulls_orders() -> None:
    steps = {step["name"]: step for step in PIPELINE["jobs"]["run"]["steps"]}
    env = steps["Run the pipeline"]["env"]
    gated = sorted(name for name, value in env.items() if "steps.datasets.outputs.orders" in value)
    assert gated == [
        "AMAZON_SP_LWA_CLIENT_ID", "AMAZON_SP_LWA_CLIENT_SECRET", "AMAZON_SP_REFRESH_TOKEN",
        "EBAY_REFRESH_TOKEN", "PIPELINE_BUYER_KEY_SECRET",
    ]  # fmt: skip
    chosen = "${{ inputs.datasets || vars.PIPELINE_DATASETS || 'products' }}"
    assert steps["Datasets of this run"]["env"] == {"DATASETS": chosen}
    assert env["INPUT_DATASETS"] == chosen  # the step decides on what the run is given
    names = list(steps)
    assert names.index("Datasets of this run") == names.index("Run the pipeline") - 1


def test_ci_runs_the_same_commands_as_ci_run_without_secrets() -> None:
    ci = YAML(typ="safe").load(workflow_text("ci.yml"))
    runs = [step.get("run") for step in ci["jobs"]["test"]["steps"] if "run" in step]
    assert runs == ["make lint", "make test", "make dbt", "make dbt-postgres"]
    assert "secrets." not in workflow_text("ci.yml")
    assert set(runs) <= set((REPO / ".ci/run").read_text().splitlines())
