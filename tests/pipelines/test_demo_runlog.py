"""The offline demo keeps its own run log (``<log_dir>/demo``): real runs' readers never see it.

``PipelineConfig.run_log_dir(offline)`` is the one rule; the run writes by it and every reader
(status, report, query, acknowledge, the anomaly history) reads by it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from pipelines.cli.main import main
from pipelines.config import load_config
from pipelines.lake.runlog import read_runs
from pipelines.run import runner as runner_module
from pipelines.run.options import RunOptions
from pipelines.run.runner import Runner
from providers.amazon import AmazonProvider
from providers.ebay import EbayProvider
from providers.shopify import ShopifyProvider
from tests.pipelines.fault_runs import Fakes, run

DEMO = ["--offline", "--providers", "shopify", "--limit", "10"]  # the README's example
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def work(workdir: Path) -> Path:
    """A working folder with the repository's ``pipeline.toml`` (as a fresh clone has it)."""
    shutil.copy(REPO / "pipeline.toml", workdir / "pipeline.toml")
    return workdir


def status_runs(capsys: pytest.CaptureFixture, *flags: str) -> list[str]:
    capsys.readouterr()
    assert main(["status", "--json", *flags]) == 0
    return [r["run_id"] for r in json.loads(capsys.readouterr().out)["runs"]]


def test_a_demo_run_is_shown_with_offline_only(work: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(DEMO) == 0
    [record] = read_runs(work / "logs" / "demo")
    run_id = record["run_id"]
    assert not (work / "logs" / "runs.jsonl").exists()
    assert {p.name for p in (work / "logs" / "demo").glob("report-*")} == {
        f"report-{run_id}.md", f"report-{run_id}.html",
    }  # fmt: skip
    assert status_runs(capsys) == []
    assert main(["status"]) == 0  # the table says where the demo's runs are
    assert "The offline demo's 1 run(s) are in logs/demo/runs.jsonl: status --offline" in (
        capsys.readouterr().out
    )
    assert status_runs(capsys, "--offline") == [run_id]
    capsys.readouterr()
    assert main(["--status", "--offline", "--json"]) == 0  # the older flag form too
    assert [r["run_id"] for r in json.loads(capsys.readouterr().out)["runs"]] == [run_id]


def test_report_query_and_acknowledge_read_the_demo_log_with_offline(
    work: Path, capsys: pytest.CaptureFixture
) -> None:
    assert main(DEMO) == 0
    [record] = read_runs(work / "logs" / "demo")
    capsys.readouterr()
    assert main(["report"]) == 2  # no real run recorded
    assert "no runs recorded in logs/runs.jsonl" in capsys.readouterr().err
    assert main(["report", "--offline"]) == 0
    assert capsys.readouterr().out.startswith(f"logs/demo/report-{record['run_id']}.md")
    sql = "SELECT run_id FROM runs"
    assert main(["query", sql, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["query", sql, "--format", "json", "--offline"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"run_id": record["run_id"]}]
    # Acknowledgements are one file for both modes; --offline checks the ids in the demo's log.
    capsys.readouterr()
    assert main(["acknowledge", "--offline", record["run_id"]]) == 0
    assert "note:" not in capsys.readouterr().out
    assert (work / "logs/acknowledged_runs.txt").read_text() == record["run_id"] + "\n"
    assert main(["acknowledge", "20261101T000000Z-aaaaaa"]) == 0
    assert "not in logs/runs.jsonl" in capsys.readouterr().out


def test_real_and_demo_runs_each_keep_their_own_log_and_history(
    tmp_path: Path, fakes: Fakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real run (on the fake APIs), a demo run, a real run: each log holds its own runs,
    and the second real run's anomaly history holds the first real run and no demo run."""
    histories: list[list[dict[str, Any]]] = []
    detect = runner_module.judge_volumes

    def spy(history: list[dict[str, Any]], *args: Any) -> Any:
        histories.append(history)
        return detect(history, *args)

    monkeypatch.setattr(runner_module, "judge_volumes", spy)
    first = run(tmp_path, fakes, only=("shopify",))
    registry = {p.name: p for p in (ShopifyProvider(), AmazonProvider(), EbayProvider())}
    config = load_config(tmp_path / "pipeline.toml", registry).with_pipeline(
        data_dir=str(tmp_path / "data"), log_dir=str(tmp_path / "logs")
    )
    options = RunOptions(providers=("shopify",), limit=5, offline=True)
    demo = Runner(config, registry, {}, options).run().record
    second = run(tmp_path, fakes, only=("shopify",))
    real_ids = [r["run_id"] for r in read_runs(tmp_path / "logs")]
    assert real_ids == [first["run_id"], second["run_id"]]
    assert [r["run_id"] for r in read_runs(tmp_path / "logs" / "demo")] == [demo["run_id"]]
    assert [[r["run_id"] for r in h] for h in histories] == [[], [], [first["run_id"]]]
    assert demo["data_dir"].endswith("demo")


def test_a_log_from_before_keeps_its_demo_runs_and_new_ones_go_to_demo(
    work: Path, capsys: pytest.CaptureFixture
) -> None:
    """Demo runs already in ``logs/runs.jsonl`` stay there; the next demo run goes to
    ``logs/demo``, and ``query``'s runs view of the real lake still leaves the old ones out."""
    (work / "logs").mkdir()
    old = {"run_id": "20261101T000000Z-aaaaaa", "mode": "offline", "exit_code": 0,
           "data_dir": str(work / "data" / "demo"), "providers": {}, "totals": {}}  # fmt: skip
    (work / "logs" / "runs.jsonl").write_text(json.dumps(old) + "\n")
    assert main(DEMO) == 0
    assert [r["run_id"] for r in read_runs(work / "logs")] == [old["run_id"]]
    assert len(read_runs(work / "logs" / "demo")) == 1
    capsys.readouterr()
    assert main(["query", "SELECT run_id FROM runs", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
