"""pipeline.yml per dataset: which runs get the order credentials, and a run pulling orders
whose artifact, state and issues carry them (the runner of tests/test_workflow.py)."""

from __future__ import annotations

import hashlib
import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.fakes.github import FakeGitHub
from tests.test_workflow import Actions, artifact_zip
from tests.workflow_syntax import PIPELINE, interpolate, parse_outputs


@pytest.mark.parametrize(
    ("datasets", "orders"),
    [("products", "false"), ("products,orders", "true"), ("orders", "true"),
     ("products, orders", "true"), ("orders_x,products", "false"), ("", "false")],
)  # fmt: skip
def test_the_datasets_step_says_whether_the_run_pulls_orders(
    tmp_path: Path, datasets: str, orders: str
) -> None:
    step = next(s for s in PIPELINE["jobs"]["run"]["steps"] if s.get("id") == "datasets")
    env = {"DATASETS": datasets, "PATH": "/usr/bin:/bin", "GITHUB_OUTPUT": str(tmp_path / "out")}
    command = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]]
    subprocess.run(command, env=env, cwd=tmp_path, check=True)
    assert parse_outputs(tmp_path / "out") == {"orders": orders}


def test_order_secrets_reach_the_run_step_only_when_it_pulls_orders() -> None:
    step = next(s for s in PIPELINE["jobs"]["run"]["steps"] if s.get("id") == "pipeline")
    secrets = {
        "EBAY_REFRESH_TOKEN": "v^1.1#r-orders",  # pragma: allowlist secret
        "AMAZON_SP_REFRESH_TOKEN": "Atzr|orders",  # pragma: allowlist secret
        "EBAY_CLIENT_ID": "client-id",
    }
    for orders, expected in (("true", secrets), ("false", {"EBAY_CLIENT_ID": "client-id"})):
        ctx = {"inputs": {}, "vars": {}, "secrets": secrets,
               "steps": {"datasets": {"outputs": {"orders": orders}}}}  # fmt: skip
        env = {k: interpolate(v, ctx) for k, v in step["env"].items()}
        assert {k: v for k, v in env.items() if k in secrets and v} == expected


PULLS = ("orders.shopify", "orders.ebay", "orders.amazon_sp")


def seed_order_history(runs_jsonl: Path, count: int = 10) -> None:
    """Earlier offline runs that pulled far more orders than the recordings hold."""
    now = datetime.now(UTC)
    lines = []
    for i in range(count):
        started = now - timedelta(hours=6 * (count - i) + 1)
        record = {
            "run_id": f"{started:%Y%m%dT%H%M%SZ}-{i:06x}", "started_at": started.isoformat(),
            "mode": "offline", "bootstrap": False, "backfill": False, "exit_code": 0,
            "providers": {}, "anomaly": {"worst": "ok", "verdicts": []},
            "datasets": {pull: {"status": "ok", "records": 500 + 3 * i} for pull in PULLS},
        }  # fmt: skip
        lines.append(json.dumps(record))
    runs_jsonl.write_text("\n".join(lines) + "\n" + runs_jsonl.read_text())


def test_a_run_pulling_orders_carries_them_in_its_artifact_and_state_and_files_issues(
    tmp_path: Path,
) -> None:
    """Two scheduled offline runs pulling products and orders (about 20 s)."""
    variables = {"PIPELINE_OFFLINE": "true", "PIPELINE_DATASETS": "products,orders"}
    with FakeGitHub() as gh:
        actions = Actions(gh, tmp_path)
        run = actions.run_workflow("schedule", variables=variables)["run"]
        assert run.result == "success", run.logs
        assert run.steps["datasets"]["outputs"] == {"orders": "true"}
        run_id = run.steps["publish"]["outputs"]["run_id"]
        archive = artifact_zip(gh, "products-7001-1")
        for table in ("orders", "order_lines"):  # each table's files, as its manifest says
            manifest = json.loads(archive.read(f"data/demo/{table}/_manifests/{run_id}.json"))
            assert {entry["zone"] for entry in manifest["files"]} >= {"normalized"}
            for entry in manifest["files"]:
                data = archive.read(f"data/demo/{table}/{entry['path']}")
                assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        cache = actions.caches["pipeline-state-7001-1"]
        assert list((cache / "data/demo/orders/state").iterdir())  # dedup state, watermarks

        # From the cache: nothing new in orders, and far fewer orders than the seeded history.
        seed_order_history(cache / "logs/demo/runs.jsonl")
        jobs = actions.run_workflow("schedule", variables=variables)
        assert jobs["run"].steps["restore"]["outputs"]["source"] == "cache"
        out = jobs["run"].steps["publish"]["outputs"]
        assert out["alert_providers"] == "orders.amazon_sp,orders.ebay,orders.shopify"
        archive = artifact_zip(gh, "products-7002-1")
        record = json.loads(archive.read("logs/demo/runs.jsonl").splitlines()[-1])
        assert record["datasets"]["orders.shopify"]["tables"]["orders"]["new"] == 0
        assert jobs["issues"].result == "success", jobs["issues"].logs
        issues = gh.issues("dataset:orders")
        assert sorted(issue["title"] for issue in issues) == [
            f"Volume anomaly (orders): {p} orders_fetched" for p in ("amazon_sp", "ebay", "shopify")
        ]
        assert all(issue in gh.issues("volume-anomaly") for issue in issues)
