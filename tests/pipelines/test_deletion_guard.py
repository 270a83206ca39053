"""The deletion guard: a complete pull that would delete all, or more than
``pipeline.max_delete_share``, of a provider's held catalog writes nothing for that provider."""

from __future__ import annotations

from pathlib import Path

from pipelines.config import load_config
from pipelines.lake.dedup import load_state
from pipelines.run.options import RunOptions
from pipelines.run.record import EXIT_ALL_FAILED
from pipelines.run.runner import Runner
from tests.catalog_provider import CatalogProvider, make_record
from tests.pipelines.test_runner import ENV, normalized_rows

COLUMNS = ("source", "source_id", "change_type", "content_hash")


def run(provider: CatalogProvider, data: str = "data", allow: bool = False, **pipeline):
    registry = {provider.name: provider}
    config = load_config(None, registry).with_pipeline(data_dir=data, **pipeline)
    options = RunOptions(allow_mass_delete=allow)
    return Runner(config, registry, ENV, options).run()


def rows(root: Path) -> list[tuple]:
    return sorted(tuple(r[c] for c in COLUMNS) for r in normalized_rows(root))


def complete(count: int) -> CatalogProvider:
    provider = CatalogProvider([make_record(i) for i in range(count)])
    provider.complete = True
    return provider


def test_an_empty_complete_pull_deletes_nothing_and_fails_the_provider(workdir: Path) -> None:
    assert run(complete(9)).exit_code == 0
    clean = workdir / "clean"
    assert run(complete(9), data=str(clean)).exit_code == 0
    result = run(complete(0))
    assert result.exit_code == EXIT_ALL_FAILED
    entry = result.record["providers"]["catalog"]
    assert entry["status"] == "failed"
    assert entry["error"] == (
        "catalog: the complete pull would mark 9 of 9 held products deleted (100%, more than "
        "pipeline.max_delete_share 50%); nothing of it was written. If the catalog really "
        "shrank, run again with --allow-mass-delete"
    )
    assert (entry["deleted"], entry["written"]) == (0, 0)
    (alert,) = [v for v in result.record["anomaly"]["verdicts"] if v["metric"] == "mass_delete"]
    assert (alert["provider"], alert["verdict"], alert["value"]) == ("catalog", "alert", 9)
    assert len(load_state(workdir / "data").keys_of("catalog")) == 9
    assert rows(workdir / "data") == rows(clean)  # 0 rows lost, 0 deleted rows, 0 duplicated


def test_more_than_the_share_is_refused_unless_allowed(workdir: Path) -> None:
    run(complete(9))
    refused = run(complete(3)).record["providers"]["catalog"]
    assert refused["status"] == "failed"
    assert "6 of 9 held products" in refused["error"]
    allowed = run(complete(3), allow=True).record["providers"]["catalog"]
    assert (allowed["status"], allowed["deleted"]) == ("ok", 6)
    deleted = sorted(r[1] for r in rows(workdir / "data") if r[2] == "deleted")
    assert deleted == [f"item-{i}" for i in range(3, 9)]


def test_a_share_within_the_setting_deletes_as_before(workdir: Path) -> None:
    run(complete(9))
    assert run(complete(5)).record["providers"]["catalog"]["deleted"] == 4  # 44% <= 50%
    run(complete(9))
    loose = run(complete(3), max_delete_share=0.8).record["providers"]["catalog"]
    assert (loose["status"], loose["deleted"]) == ("ok", 6)
