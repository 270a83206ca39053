"""What a run leaves behind and says: report retention, effective settings, refused steps,
products against variant rows, whole notes."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from pipelines.checks.report_retention import prune_reports
from pipelines.cli.output import SUMMARY_COLUMNS, print_summary
from pipelines.cli.status import format_status
from pipelines.run_pipeline import main


def test_prune_keeps_the_newest_runs_reports_only(tmp_path: Path) -> None:
    runs = ["20261201T000000Z-aaaaaa", "20261202T000000Z-bbbbbb", "20261203T000000Z-cccccc"]
    for run_id in runs:
        for suffix in ("md", "html"):
            (tmp_path / f"report-{run_id}.{suffix}").write_text("x")
    (tmp_path / "runs.jsonl").write_text("{}\n")
    deleted = prune_reports(tmp_path, keep=2)
    assert sorted(p.name for p in deleted) == [f"report-{runs[0]}.html", f"report-{runs[0]}.md"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"report-{runs[1]}.html", f"report-{runs[1]}.md",
        f"report-{runs[2]}.html", f"report-{runs[2]}.md", "runs.jsonl",
    ]  # fmt: skip


def test_runs_keep_only_keep_reports_runs_reports(workdir: Path) -> None:
    (workdir / "pipeline.toml").write_text("[pipeline]\nkeep_reports = 2\n")
    for _ in range(3):
        assert main(["--offline", "--providers", "ebay", "--limit", "1"]) == 0
    reports = sorted(p.name for p in workdir.rglob("report-*"))
    assert len(reports) == 4  # two runs, .md and .html each


def test_list_providers_shows_the_values_pipeline_toml_sets(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workdir / "pipeline.toml").write_text("[providers.ebay]\npage_size = 50\n")
    assert main(["--list-providers"]) == 0
    out = capsys.readouterr().out
    assert "[providers.ebay] page_size = 50 (pipeline.toml)" in out
    assert "[providers.ebay] marketplace = 'EBAY_US' (default)" in out


def test_an_unknown_step_is_refused_before_any_checkpoint(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["run-step", "extract.walmart", "--run-id", "20261205T000000Z-abcdef", "--offline"]
    assert main(argv) == 2
    assert "run-step: unknown step 'extract.walmart'" in capsys.readouterr().err
    assert not list(workdir.rglob("checkpoint.json"))


def test_shopify_summary_says_products_and_variant_rows(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--offline", "--providers", "shopify", "--limit", "3"]) == 0
    captured = capsys.readouterr()
    assert "shopify: 3 products fetched as 9 variant rows" in captured.out
    assert " 3 products in " in captured.err


def test_the_summary_and_status_show_a_long_note_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    error = (
        "ebay: circuit breaker open after 2 consecutive failures (last: HTTP 503 on search "
        "'vintage film camera' on EBAY_US); the other providers' rows were committed"
    )
    counts = dict.fromkeys(SUMMARY_COLUMNS, 0)
    record = {"run_id": "r1", "mode": "live", "exit_code": 1,
              "providers": {"ebay": {"status": "failed", "error": error, **counts}}}  # fmt: skip
    print_summary(SimpleNamespace(record=record, exit_code=1), tmp_path, dry_run=False)
    assert error in capsys.readouterr().out
    assert error in format_status([record])
