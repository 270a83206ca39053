"""What ships for Prometheus and Grafana: the alert rules pass promtool's check and their unit
tests, and the dashboard is provisioning-ready and charts only metrics the pipeline exports."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from pipelines.ops.metrics import run_metrics_registry
from tests.pipelines.test_metrics import CHECKPOINT, RECORD

REPO = Path(__file__).resolve().parents[1]
RULES, RULE_TESTS = REPO / "prometheus/alerts.yml", REPO / "prometheus/alerts.test.yml"
DASHBOARD = REPO / "grafana/dashboard.json"
METRIC = re.compile(r"\bproduct_pipeline_\w+")
# Announced by the API budget (issue 15, point 3), built in parallel: alerted on before it lands.
ANNOUNCED = {"product_pipeline_api_budget_remaining"}
PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool is not installed (Debian: apt-get install prometheus); .ci/run installs it",
)


def exported_metrics() -> set[str]:
    """Every metric family name a run exports (a successful history, so none is left out)."""
    history = [{**RECORD, "exit_code": 0, "run_id": "earlier"}]
    text = generate_latest(run_metrics_registry(RECORD, CHECKPOINT, history)).decode()
    return {family.name for family in text_string_to_metric_families(text)}


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, cwd=REPO, timeout=60)


@needs_promtool
def test_alert_rules_pass_promtool_check() -> None:
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 5 rules found" in result.stdout


@needs_promtool
def test_alert_rules_pass_their_unit_tests() -> None:
    result = promtool("test", "rules", str(RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_the_rule_tests_catch_a_rule_that_lets_demo_runs_alert(tmp_path: Path) -> None:
    broken = RULES.read_text().replace('{mode="live", status="failed"}', '{status="failed"}')
    (tmp_path / "alerts.yml").write_text(broken)
    shutil.copy(RULE_TESTS, tmp_path / "alerts.test.yml")
    result = promtool("test", "rules", str(tmp_path / "alerts.test.yml"))
    assert result.returncode != 0
    assert "ProductPipelineProviderFailing" in result.stdout + result.stderr


def test_every_alert_names_a_metric_the_pipeline_exports() -> None:
    rules = yaml.safe_load(RULES.read_text())["groups"][0]["rules"]
    assert {r["alert"] for r in rules} == {
        "ProductPipelineStale", "ProductPipelineProviderFailing",
        "ProductPipelineQualityGateFailing", "ProductPipelineAnomaly",
        "ProductPipelineBudgetNearlySpent",
    }  # fmt: skip
    used = {name for rule in rules for name in METRIC.findall(rule["expr"])}
    assert "product_pipeline_last_success_timestamp_seconds" in used
    assert used - ANNOUNCED <= exported_metrics()
    assert all('mode="live"' in rule["expr"] for rule in rules)


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    found, stack = [], list(board["panels"])
    while stack:
        panel = stack.pop()
        found.append(panel)
        stack += panel.get("panels", [])
    return found


def test_dashboard_is_provisioning_ready() -> None:
    board = dashboard()
    text = DASHBOARD.read_text()
    assert "__inputs" not in board
    assert "__requires" not in board
    assert "DS_PROMETHEUS" not in text
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in ("job", "mode", "provider"):
        assert variables[name]["type"] == "query"
        assert variables[name]["datasource"]["uid"] == "${datasource}"
    assert board["uid"] == "product-pipeline"


def test_every_panel_queries_through_the_datasource_variable() -> None:
    for panel in panels(dashboard()):
        if panel.get("type") == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${datasource}", panel["title"]


def test_every_expression_is_scoped_to_job_and_mode() -> None:
    """(test_metrics checks that the dashboard charts every exported metric and no other.)"""
    exprs = [t["expr"] for p in panels(dashboard()) for t in p.get("targets", [])]
    assert any("product_pipeline_last_success_timestamp_seconds" in expr for expr in exprs)
    for expr in exprs:
        for selector in re.findall(r"product_pipeline_\w+(\{[^}]*\})?", expr):
            assert 'job=~"$job"' in selector, expr
            assert 'mode=~"$mode"' in selector, expr
    assert any('provider=~"$provider"' in expr for expr in exprs)
