"""``--shard K/N``: a deterministic split of the work, and N processes sharing one S3 lake."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.config import load_config
from pipelines.errors import ConfigError
from pipelines.lake.dedup import load_state
from pipelines.lake.lake import Lake
from pipelines.lake.storage import open_storage
from pipelines.run.options import RunOptions
from pipelines.run.runner import Runner
from pipelines.run.shard import Shard, shard_options, split_lists
from providers.registry import load_providers
from tests.catalog_provider import CatalogProvider
from tests.fakes import s3 as fake_s3
from tests.fakes.s3 import FakeS3
from tests.pipelines.test_cli import SCRIPT, clean_env, cli

PROVIDERS = load_providers()
COLUMNS = ["source", "source_id", "change_type", "content_hash"]

s3_server, s3_env = fake_s3.s3_server, fake_s3.s3_env  # the fake S3 server's fixtures


@pytest.mark.parametrize(
    ("text", "message"),
    [("3", "expected K/N such as 2/3"), ("0/3", "between 1 and N"), ("4/3", "between 1 and N"),
     ("a/b", "expected K/N")],
)  # fmt: skip
def test_bad_shard_specs_are_refused(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Shard.parse(text)


def test_a_bad_shard_flag_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = cli("--offline", "--shard", "4/3", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "run_pipeline.py: error: argument --shard: K must be between 1 and N, got '4/3'"
    ]


def test_shards_split_list_items_disjointly_and_completely() -> None:
    queries = [{"q": f"query {i}"} for i in range(40)]
    options = {"marketplace": "EBAY_US", "queries": queries}
    shares = [shard_options(PROVIDERS["ebay"], options, Shard(k, 4)) for k in range(1, 5)]
    kept = [q["q"] for share in shares if share for q in share["queries"]]
    assert sorted(kept) == sorted(q["q"] for q in queries)  # each query once, none lost
    assert all(share and share["marketplace"] == "EBAY_US" for share in shares)
    again = [shard_options(PROVIDERS["ebay"], options, Shard(k, 4)) for k in range(1, 5)]
    assert again == shares  # deterministic: every process computes the same split


def test_amazon_asins_go_in_whole_getitems_batches_and_providers_go_whole() -> None:
    asins = [f"B0{i:08d}" for i in range(35)]
    options = {"country": "US", "asins": asins, "searches": []}
    batches = [shard_options(PROVIDERS["amazon"], options, Shard(k, 3)) for k in (1, 2, 3)]
    for share in filter(None, batches):
        starts = [asins.index(a) for a in share["asins"]]
        assert all(start % 10 == 0 for start in starts[::10])  # chunks of 10 stay together
    assert sorted(a for share in filter(None, batches) for a in share["asins"]) == asins
    shares = [shard_options(PROVIDERS["shopify"], {"page_size": 5}, Shard(k, 3)) for k in (1, 2, 3)]
    owners = [share for share in shares if share is not None]
    assert owners == [{"page_size": 5}]


def test_a_provider_hook_decides_its_own_split() -> None:
    class Regions(CatalogProvider):
        def shard_options(self, options, k, n):
            return split_lists(self.name, options, [("regions", 1)], Shard(k, n))

    provider = Regions(name="regions")
    options = {"regions": ["eu", "us", "apac", "latam"]}
    shares = [shard_options(provider, options, Shard(k, 2)) for k in (1, 2)]
    assert sorted(r for s in shares if s for r in s["regions"]) == sorted(options["regions"])
    nothing = (
        shard_options(provider, {"regions": []}, Shard(1, 2)),
        shard_options(provider, {"regions": []}, Shard(2, 2)),
    )
    assert sum(share is not None for share in nothing) == 1  # empty: one unit, one shard


def test_each_shard_plans_only_the_providers_it_has_work_for() -> None:
    config = load_config(None, PROVIDERS)
    plans = [
        Runner(config, PROVIDERS, {}, RunOptions(offline=True, shard=f"{k}/3")).planned_providers()
        for k in (1, 2, 3)
    ]
    assert sum(plan.count("shopify") for plan in plans) == 1  # not split: one shard
    offering = {name for name, p in PROVIDERS.items() if "products" in p.datasets}
    assert {name for plan in plans for name in plan} == offering  # amazon_sp: orders only
    with pytest.raises(ConfigError, match="--shard: a --replay run is not sharded"):
        Runner(config, PROVIDERS, {}, RunOptions(replay=Path("raw"), shard="1/2"))


def lake_rows(uri: str, endpoint: str) -> list[tuple]:
    lake = Lake(open_storage(uri, endpoint_url=endpoint))
    return sorted(tuple(r.values()) for r in lake.dataset().to_table(columns=COLUMNS).to_pylist())


def test_three_shards_in_parallel_equal_one_process(
    s3_server: FakeS3, s3_env: dict, tmp_path: Path
) -> None:
    """~15 s: three CLI processes at once on two cores, and one single run (imports ~2 s each).

    The quality gate applies per run, so per shard: a shard holding part of amazon's items
    with the recording's two rejects would cross the default 5% alone. Both sides get 20%.
    """
    env = clean_env(**s3_server.env())
    (tmp_path / "pipeline.toml").write_text("[quality]\nreject_threshold = 0.2\n")
    single, sharded = (f"s3://{s3_server.new_bucket()}/lake" for _ in range(2))
    assert cli("--offline", "--lake-uri", single, cwd=tmp_path, env=env).returncode == 0

    processes = []
    for k in (1, 2, 3):
        machine = tmp_path / f"machine-{k}"  # each shard its own work folder, as on 3 hosts
        machine.mkdir()
        (machine / "pipeline.toml").write_text((tmp_path / "pipeline.toml").read_text())
        command = [sys.executable, str(SCRIPT), "--offline", "--lake-uri", sharded,
                   "--shard", f"{k}/3"]  # fmt: skip
        pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
        processes.append(subprocess.Popen(command, cwd=machine, env=env, text=True, **pipes))
    for process in processes:
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
    storage = open_storage(f"{sharded}/demo", endpoint_url=s3_server.url)
    runs = [json.loads(line) for line in storage.read_bytes("_log/runs.jsonl").splitlines()]
    assert sorted(run["shard"] for run in runs) == ["1/3", "2/3", "3/3"]
    ran = [name for run in runs for name in run["providers"]]
    assert set(ran) == {"shopify", "amazon", "ebay"}
    assert len(ran) > 3, "some provider's list items were split over several shards"
    assert lake_rows(f"{sharded}/demo", s3_server.url) == lake_rows(f"{single}/demo", s3_server.url)
    state = load_state(open_storage(f"{sharded}/demo", endpoint_url=s3_server.url))
    reference = load_state(open_storage(f"{single}/demo", endpoint_url=s3_server.url))
    assert state.to_dict() == reference.to_dict()  # no shard's state update was lost
    assert len(state.applied_runs) == 3
