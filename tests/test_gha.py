"""Workflow commands for GitHub Actions: escaping, annotations, outputs, summary, masking."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.cli.commands.gha_publish import outputs, run_links
from pipelines.net import workflow_commands
from pipelines.net.secrets import mask, register_secret
from pipelines.ops import gha
from pipelines.run_pipeline import main

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("text", "data", "prop"),
    [
        ("plain", "plain", "plain"),
        ("50% off", "50%25 off", "50%25 off"),
        ("line 1\nline 2\r\n", "line 1%0Aline 2%0D%0A", "line 1%0Aline 2%0D%0A"),
        ("a: b, c", "a: b, c", "a%3A b%2C c"),
        ("%0A literal", "%250A literal", "%250A literal"),
    ],
)
def test_escaping_follows_the_toolkit_rules(text: str, data: str, prop: str) -> None:
    assert workflow_commands.escape_data(text) == data
    assert workflow_commands.escape_property(text) == prop


def test_command_puts_escaped_properties_before_the_message() -> None:
    line = workflow_commands.command(
        "warning", "fetched 0 rows\nsee log", {"title": "shopify: empty, odd"}
    )
    assert line == "::warning title=shopify%3A empty%2C odd::fetched 0 rows%0Asee log"
    assert workflow_commands.command("error", "boom") == "::error::boom"


def test_annotations_are_capped_at_ten_per_level_with_a_count_of_the_rest() -> None:
    out = io.StringIO()
    items = [("warning", "w", f"warning {i}") for i in range(13)] + [("error", "e", "one error")]
    counts = gha.annotate(items, out)
    lines = out.getvalue().splitlines()
    warnings = [line for line in lines if line.startswith("::warning")]
    assert counts == {"warning": 13, "error": 1}
    assert len(warnings) == 10
    assert warnings[8].endswith("::warning 8")
    assert warnings[9] == "::warning title=more::… and 4 more warnings"
    assert lines[-1] == "::error title=e::one error"


def test_run_annotations_turn_failures_and_alerts_into_errors_and_warnings() -> None:
    record = {
        "providers": {
            "shopify": {"status": "failed", "error": "401 from shopify products page 1"},
            "ebay": {"status": "ok", "warnings": ["ebay: fetched 0 rows, earlier up to 60"]},
        },
        "anomaly": {
            "verdicts": [
                {"provider": "amazon", "metric": "new", "value": 3, "verdict": "alert",
                 "median": 40.0, "z": -6.25},
                {"provider": "total", "metric": "fetched", "value": 150, "verdict": "warn",
                 "median": 180.0, "z": -3.1},
                {"provider": "ebay", "metric": "new", "value": 9, "verdict": "ok"},
            ]
        },
    }  # fmt: skip
    assert gha.run_annotations(record) == [
        ("error", "shopify", "shopify failed: 401 from shopify products page 1"),
        ("warning", "ebay", "ebay: fetched 0 rows, earlier up to 60"),
        ("error", "volume alert", "amazon new 3 vs median 40 (z -6.2)"),
        ("warning", "volume warn", "total fetched 150 vs median 180 (z -3.1)"),
    ]


def test_outputs_use_a_random_delimiter_for_multiline_values() -> None:
    text = gha.format_outputs({"count": 3, "ok": True, "report": "line 1\nline 2"})
    lines = text.splitlines()
    assert lines[:2] == ["count=3", "ok=true"]
    assert lines[2].startswith("report<<EOF_")
    assert lines[3:5] == ["line 1", "line 2"]
    assert lines[5] == lines[2].removeprefix("report<<")


def test_summary_and_outputs_append_to_the_runner_files(tmp_path: Path) -> None:
    env = {"GITHUB_STEP_SUMMARY": str(tmp_path / "summary"), "GITHUB_OUTPUT": str(tmp_path / "out")}
    assert gha.append_summary("# one", env)
    assert gha.append_summary("two\n", env)
    assert gha.set_outputs({"a": 1}, env)
    assert gha.set_outputs({"b": "x"}, env)
    assert (tmp_path / "summary").read_text() == "# one\n\ntwo\n\n"
    assert (tmp_path / "out").read_text() == "a=1\nb=x\n"
    assert not gha.append_summary("lost", {})
    assert not gha.set_outputs({"a": 1}, {})


def test_register_secret_announces_a_mask_only_inside_actions(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    register_secret("minted-token-0123%")
    register_secret("minted-token-0123%")  # once per value
    register_secret("multi\nline-secret")
    monkeypatch.setenv("GITHUB_ACTIONS", "false")
    register_secret("local-token-4567")
    assert capsys.readouterr().out.splitlines() == [
        "::add-mask::minted-token-0123%25",
        "::add-mask::multi",
        "::add-mask::line-secret",
    ]
    assert mask("token local-token-4567") == "token ***"


def test_a_minted_token_is_masked_before_the_cli_prints_anything(tmp_path: Path) -> None:
    """In Actions, the add-mask line for a secret setting comes before any other output."""
    env = {
        "PATH": "/usr/bin:/bin",
        "GITHUB_ACTIONS": "true",
        "CI": "true",
        "SHOPIFY_SHOP_DOMAIN": "x.myshopify.com",
        "SHOPIFY_ACCESS_TOKEN": "shpat_abc123",
    }
    result = subprocess.run(
        [sys.executable, str(REPO / "pipelines/run_pipeline.py"), "--list-providers"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "::add-mask::shpat_abc123"
    assert "shpat_abc123" not in result.stdout.split("\n", 1)[1] + result.stderr


def test_run_links_point_at_the_run_and_its_attempt() -> None:
    env = {"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "o/r",
           "GITHUB_RUN_ID": "42", "GITHUB_RUN_ATTEMPT": "2"}  # fmt: skip
    assert run_links(env) == {
        "run_url": "https://github.com/o/r/actions/runs/42/attempts/2",
        "artifacts_url": "https://github.com/o/r/actions/runs/42/attempts/2#artifacts",
    }
    assert run_links({}) == {}


def test_outputs_flag_alerts_and_scheduled_failures_for_the_issues_job() -> None:
    record = {
        "run_id": "r1", "exit_code": 1, "bootstrap": False,
        "providers": {"shopify": {"status": "failed"}, "ebay": {"status": "ok"}},
        "anomaly": {"worst": "warn", "verdicts": []},
        "totals": {"fetched": 10, "new": 4, "changed": 1, "quarantined": 0, "written": 5},
    }  # fmt: skip
    scheduled = outputs(record, True, {"GITHUB_EVENT_NAME": "schedule"})
    assert scheduled["notify"] is True
    assert scheduled["failed_providers"] == "shopify"
    assert (scheduled["fetched"], scheduled["written"]) == (10, 5)
    assert outputs(record, True, {"GITHUB_EVENT_NAME": "workflow_dispatch"})["notify"] is False


def test_publish_after_a_dry_run_says_nothing_was_committed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary"))
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "out"))
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs/runs.jsonl").write_text('{"run_id": "earlier", "providers": {}}\n')
    args = ["gha-publish", "--exit-code", "0", "--runs-before", "1",
            "--products-dir", "products", "--state-dir", "state"]  # fmt: skip
    assert main(args) == 0
    assert "No run was recorded (exit code 0)" in (tmp_path / "summary").read_text()
    assert (tmp_path / "out").read_text() == "committed=false\nexit_code=0\nnotify=false\n"
    assert not (tmp_path / "products").exists()
    assert not (tmp_path / "state").exists()
