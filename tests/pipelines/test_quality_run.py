"""Quality, quarantine, drift, reconciliation and anomaly verdicts in a whole run."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipelines.lake.lake import Lake
from pipelines.run.process import QUARANTINE_SCHEMA
from tests.catalog_provider import CatalogProvider, make_record
from tests.pipelines.test_runner import normalized_rows, run


def quarantined_rows(root: Path) -> list[dict]:
    return Lake(root).dataset("quarantine", QUARANTINE_SCHEMA).to_table().to_pylist()


def test_rejected_rows_go_to_quarantine_with_every_reason(workdir: Path) -> None:
    records = [make_record(i) for i in range(40)]
    records.append({"id": "bad-1", "title": " ", "price": "-1.00"})
    result = run([CatalogProvider(records)])
    assert result.exit_code == 0
    entry = result.record["providers"]["catalog"]
    assert entry["quarantined"] == 1
    assert entry["quality"] == {"title_required": 1, "price_positive": 1}
    [bad] = quarantined_rows(workdir / "data")
    assert bad["source_id"] == "bad-1"
    assert sorted(bad["reasons"]) == ["price_positive", "title_required"]
    assert "bad-1" not in {r["source_id"] for r in normalized_rows(workdir / "data")}
    manifest = Lake(workdir / "data").manifests()[-1]
    assert {f["zone"] for f in manifest["files"]} == {"raw", "normalized", "quarantine"}


def test_too_many_rejected_rows_commit_nothing_and_exit_3(workdir: Path) -> None:
    records = [make_record(i) for i in range(10)] + [make_record(i, price="0") for i in (90, 91)]
    good = CatalogProvider([make_record(i) for i in range(3)], name="good")
    result = run([CatalogProvider(records), good])
    assert result.exit_code == 3
    entry = result.record["providers"]["catalog"]
    assert entry["status"] == "quality_failed"
    assert "price_positive 2" in entry["error"]
    assert "item-90" in entry["error"]
    assert {r["source"] for r in normalized_rows(workdir / "data")} == {"good"}
    assert quarantined_rows(workdir / "data") == []


def test_replay_of_a_fixed_record_brings_it_into_the_lake(workdir: Path) -> None:
    records = [make_record(i) for i in range(40)] + [{"id": "late", "title": "", "price": "5"}]
    run([CatalogProvider(records)])
    raw = next((workdir / "data/raw").rglob("*.jsonl.zst"))
    fixed = workdir / "fixed/raw/dt=2026-01-01/source=catalog/fix.jsonl"
    fixed.parent.mkdir(parents=True)
    fixed.write_text(json.dumps({"id": "late", "title": "Late but fine", "price": "5"}) + "\n")
    result = run([CatalogProvider([])], env={}, replay=fixed)
    assert result.record["providers"]["catalog"]["new"] == 1
    assert "late" in {r["source_id"] for r in normalized_rows(workdir / "data")}
    again = run([CatalogProvider([])], env={}, replay=raw)
    assert again.record["providers"]["catalog"]["written"] == 0


def test_a_broken_upstream_field_is_reported_once_as_drift(workdir: Path) -> None:
    records = [make_record(i) for i in range(3)] + [
        {"id": f"x-{i}", "title": "T", "price": {"amount": "1"}} for i in range(30)
    ]
    result = run([CatalogProvider(records)])
    entry = result.record["providers"]["catalog"]
    assert entry["dropped"] == 30
    assert len(entry["errors"]) == 3
    [drift] = entry["drift"]
    assert drift["records"] == 30
    assert entry["fetched"] == entry["new"] + entry["dropped"]


def seed_history(log_dir: Path, fetched: int, runs: int = 12) -> None:
    log_dir.mkdir(parents=True, exist_ok=True)
    start = datetime.now(UTC) - timedelta(days=3)
    with (log_dir / "runs.jsonl").open("w") as handle:
        for i in range(runs):
            when = start + timedelta(hours=6 * i)
            entry = {"status": "ok", "fetched": fetched, "new": 0, "changed": 0}
            handle.write(json.dumps({
                "run_id": f"{when:%Y%m%dT%H%M%SZ}-00000{i % 10}", "started_at": when.isoformat(),
                "mode": "live", "bootstrap": False, "backfill": False,
                "providers": {"catalog": entry},
            }) + "\n")  # fmt: skip


def test_volume_drop_alerts_and_fail_on_anomaly_exits_5(workdir: Path) -> None:
    seed_history(workdir / "logs", fetched=200)
    provider = CatalogProvider([make_record(i) for i in range(5)])
    plain = run([provider])
    assert plain.exit_code == 0
    assert plain.record["anomaly"]["worst"] == "alert"
    strict = run([provider], fail_on_anomaly=True)
    assert strict.exit_code == 5
    report = (workdir / "logs" / f"report-{strict.record['run_id']}.md").read_text()
    assert "alert" in report
    assert (workdir / "logs" / f"report-{strict.record['run_id']}.html").exists()


def test_report_subcommand_rerenders_the_last_run(workdir: Path) -> None:
    from pipelines.run_pipeline import main

    first = run([CatalogProvider([make_record(1)])])
    report = workdir / "logs" / f"report-{first.record['run_id']}.md"
    report.unlink()
    assert main(["report"]) == 0
    assert report.exists()
    assert main(["report", "--run", "nope"]) == 2
