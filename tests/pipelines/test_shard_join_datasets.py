"""A sharded run's join carries its dataset pulls: their outcome in the exit code, their
volumes judged over the whole run (``gha-finalize``)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from pipelines.cli.shard_finalize import judge
from pipelines.config import load_config
from pipelines.run.shard_join import merge_records
from providers.registry import load_providers
from tests.pipelines.anomaly_helpers import NOW
from tests.pipelines.test_dataset_anomaly import order_run


def shard(index: int, pulls: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Shard ``index`` of 2's record: no products, these dataset pulls."""
    return {
        "run_id": f"20261121T12000{index}Z-abc12{index}", "shard": f"{index}/2",
        "started_at": NOW.isoformat(), "ended_at": (NOW + timedelta(minutes=index)).isoformat(),
        "mode": "live", "providers": {}, "exit_code": 0, "datasets": pulls,
    }  # fmt: skip


def test_the_joined_record_holds_each_shards_pulls_and_their_outcome() -> None:
    ebay = {"status": "ok", "records": 4}
    shopify = {"status": "quality_failed", "error": "quality gate failed for orders from shopify"}
    record = merge_records([shard(2, {"orders.shopify": shopify}), shard(1, {"orders.ebay": ebay})],
                           "data")  # fmt: skip
    assert record["datasets"] == {"orders.ebay": ebay, "orders.shopify": shopify}
    assert record["exit_code"] == 3  # a pull over the gate fails the whole run


def test_the_join_judges_the_datasets_volumes_of_the_whole_run(tmp_path: Path) -> None:
    history = [order_run(NOW - timedelta(hours=6 * n), records=50 + n) for n in range(12, 0, -1)]
    record = order_run(NOW, records=2)
    providers = load_providers()
    judge(record, history, load_config(None, providers), tmp_path)
    [verdict] = [v for v in record["anomaly"]["verdicts"] if v.get("dataset") == "orders"]
    assert (verdict["provider"], verdict["metric"], verdict["verdict"]) == (
        "shopify", "orders_fetched", "alert",
    )  # fmt: skip
