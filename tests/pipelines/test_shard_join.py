"""``gha-finalize``: the shards of a run joined, and the deletions of a provider split across
shards decided from every shard's keys, exactly once, and never when a shard failed."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pipelines.checks.times import human_duration, human_time
from pipelines.cli.commands import gha_finalize
from pipelines.cli.main import CommandContext
from pipelines.config import load_config
from pipelines.lake.dedup import load_state
from pipelines.lake.lake import Lake
from pipelines.lake.runlog import read_lake_runs
from pipelines.lake.seen_keys import SEEN_DIR
from pipelines.lake.storage import Storage, open_storage
from pipelines.run.options import RunOptions
from pipelines.run.runner import Runner
from pipelines.run.shard import Shard, split_lists
from pipelines.run.shard_join import WHOLE_RUNLOG, record_leg
from providers.base import FetchContext
from tests.catalog_provider import CatalogProvider, make_record
from tests.fakes import s3 as fake_s3
from tests.pipelines.test_runner import ENV

s3_server, s3_env = fake_s3.s3_server, fake_s3.s3_env  # the fake S3 server's fixtures


class SplitCatalog(CatalogProvider):
    """A catalog whose items are split one by one across shards, each pulled whole."""

    def shard_options(self, options: dict, k: int, n: int) -> dict[str, Any] | None:
        ids = [record["id"] for record in self.records]
        return split_lists(self.name, {"ids": ids}, [("ids", 1)], Shard(k, n))

    def fetch(self, ctx: FetchContext) -> Iterator[dict[str, Any]]:
        wanted = ctx.options.get("ids")
        self.records = [r for r in self.records if wanted is None or r["id"] in wanted]
        yield from super().fetch(ctx)


@pytest.fixture(params=["local", "s3"])
def lake(request: pytest.FixtureRequest, workdir: Path) -> str:
    """The lake the shards share: the local ``data`` folder, or a bucket on moto's S3."""
    if request.param == "local":
        return "data"
    server = request.getfixturevalue("s3_server")
    request.getfixturevalue("s3_env")
    return f"s3://{server.new_bucket()}/lake"


def storage(lake: str) -> Storage:
    return open_storage(lake)


def run_shards(lake: str, group: str, items: list[int], fail_in: int | None = None) -> list[dict]:
    """Both shards of a run over ``items`` (shard ``fail_in`` failing), their legs recorded."""
    records = []
    for k in (1, 2):
        provider = SplitCatalog([make_record(i) for i in items])
        provider.complete = True
        if k == fail_in:
            provider.fail_after = 0
        registry = {provider.name: provider}
        config = load_config(None, registry).with_pipeline(lake_uri=lake)
        record = Runner(config, registry, ENV, RunOptions(shard=f"{k}/2")).run().record
        record_leg(storage(lake), group, Shard(k, 2), record["run_id"], record["exit_code"])
        records.append(record)
    return records


def finalize(
    lake: str, group: str, tmp: Path, env: dict | None = None, allow_mass_delete: bool = False
) -> int:
    registry = {"catalog": SplitCatalog()}
    config = load_config(None, registry).with_pipeline(lake_uri=lake)
    context = CommandContext(config, registry, env or {})
    args = argparse.Namespace(group=group, products_dir=tmp / f"products-{group}", offline=False,
                              allow_mass_delete=allow_mass_delete)  # fmt: skip
    return gha_finalize.execute(args, context)


def deleted_rows(lake: str) -> list[tuple[str, str]]:
    table = Lake(storage(lake)).dataset().to_table(columns=["source_id", "run_id", "change_type"])
    return sorted((r["source_id"], r["run_id"]) for r in table.to_pylist()
                  if r["change_type"] == "deleted")  # fmt: skip


def joined(lake: str, run_id: str | None = None) -> list[dict]:
    runs = read_lake_runs(storage(lake), WHOLE_RUNLOG)
    return [r for r in runs if run_id in (None, r["run_id"])]


def test_a_product_gone_from_a_split_provider_is_deleted_once_after_the_join(
    workdir: Path, lake: str
) -> None:
    first = run_shards(lake, "g1", list(range(10)))
    assert all(r["providers"]["catalog"]["deleted"] == 0 for r in first)  # no shard deletes
    assert sorted(r["providers"]["catalog"]["fetched"] for r in first) != [0, 10]  # split
    assert finalize(lake, "g1", workdir) == 0
    assert deleted_rows(lake) == []  # every held product was seen by one shard or the other

    gone = [i for i in range(10) if i != 3]  # item-3 left the catalog
    second = run_shards(lake, "g2", gone)
    assert deleted_rows(lake) == []  # neither shard can tell gone from the other shard's
    assert finalize(lake, "g2", workdir) == 0
    [record] = joined(lake)[-1:]
    assert deleted_rows(lake) == [("item-3", record["run_id"])]
    assert record["providers"]["catalog"]["deleted"] == 1
    assert record["deletions"] == {"catalog": {"status": "ok", "deleted": 1}}
    assert "catalog\x1fitem-3" not in load_state(storage(lake)).to_dict()
    assert storage(lake).list_files(SEEN_DIR) == []  # the shards' keys go once decided

    state_before = storage(lake).read_bytes("state/state.json")
    assert finalize(lake, "g2", workdir) == 0  # again: nothing new
    assert deleted_rows(lake) == [("item-3", record["run_id"])]
    assert storage(lake).read_bytes("state/state.json") == state_before
    assert len(joined(lake, record["run_id"])) == 1
    report = (workdir / "products-g2/logs" / f"report-{record['run_id']}.md").read_text()
    assert "joined before" in report
    assert f"| 1/2 | `{second[0]['run_id']}` | " in report  # the shards' table
    assert "| 2/2 |" in report


def test_a_failed_shard_means_no_deletions_for_the_provider_with_a_note(
    workdir: Path, lake: str
) -> None:
    run_shards(lake, "g1", list(range(10)))
    finalize(lake, "g1", workdir)
    records = run_shards(lake, "g2", [i for i in range(10) if i != 3], fail_in=2)
    assert records[1]["providers"]["catalog"]["status"] == "failed"
    assert finalize(lake, "g2", workdir) == 0
    assert deleted_rows(lake) == []
    [record] = joined(lake)[-1:]
    assert record["deletions"]["catalog"] == {
        "note": "no deletions for catalog: shard 2/2 ended failed"
    }
    report = (workdir / "products-g2/logs" / f"report-{record['run_id']}.md").read_text()
    assert "no deletions for catalog: shard 2/2 ended failed" in report
    assert record["exit_code"] == 1
    assert "catalog\x1fitem-3" in load_state(storage(lake)).to_dict()  # still held


def test_a_missing_shard_is_named_and_decides_nothing(workdir: Path, lake: str) -> None:
    run_shards(lake, "g1", list(range(10)))
    finalize(lake, "g1", workdir)
    records = run_shards(lake, "g2", [i for i in range(10) if i != 3])
    storage(lake).delete(["_log/legs/g2/2-of-2.json"])  # shard 2 never got to publish
    assert finalize(lake, "g2", workdir) == 0
    assert deleted_rows(lake) == []
    [record] = joined(lake)[-1:]
    assert record["missing_shards"] == ["2/2"]
    assert [leg["run_id"] for leg in record["legs"]] == [records[0]["run_id"]]
    assert "shard 2/2 left no run record" in record["deletions"]["catalog"]["note"]


def test_times_read_as_people_say_them() -> None:
    assert [human_duration(s) for s in (12.3, 48, 59.7, 252, 3780, None)] == [
        "12.3 s", "48 s", "1 min 00 s", "4 min 12 s", "1 h 03 min", "–",
    ]  # fmt: skip
    assert human_time("2026-12-05T23:57:47.123+00:00") == "2026-12-05 23:57 UTC"
