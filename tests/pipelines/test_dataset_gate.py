"""The quality gate per dataset: its verdict, the run's exit code, the incidents it opens."""

from __future__ import annotations

import pytest

from pipelines.checks.datasets import dataset_gate_verdict
from pipelines.run.incidents import healthy, incidents_of
from pipelines.run.record import with_pulls


@pytest.mark.parametrize(
    ("records", "rejected", "threshold", "passes"),
    [(0, 0, 0.05, True), (20, 1, 0.05, True), (20, 2, 0.05, False), (4, 4, 1.0, True),
     (4, 1, 0.0, False)],
)  # fmt: skip
def test_the_gate_compares_the_share_of_records_rejected(
    records: int, rejected: int, threshold: float, passes: bool
) -> None:
    verdict = dataset_gate_verdict("orders", "ebay", records, rejected, {}, threshold)
    assert (verdict is None) == passes


def test_the_gate_names_dataset_provider_share_and_top_reasons_in_one_line() -> None:
    reasons = {"a_rule": 1, "b_rule": 3, "c_rule": 3, "d_rule": 2}
    verdict = dataset_gate_verdict("orders", "amazon_sp", 8, 5, reasons, 0.05)
    assert verdict == (
        "quality gate failed for orders from amazon_sp: 5 of 8 records rejected "
        "(62.5% > 5.0%); top reasons: b_rule 3, c_rule 3, d_rule 2"
    )


@pytest.mark.parametrize(
    ("code", "statuses", "expected"),
    [(0, ["ok"], 0), (0, ["ok", "quality_failed"], 3), (1, ["quality_failed"], 3),
     (4, ["quality_failed"], 4), (0, ["failed"], 1), (3, ["failed"], 3), (0, [], 0)],
)  # fmt: skip
def test_a_pull_over_the_gate_fails_the_run_as_products_do(
    code: int, statuses: list[str], expected: int
) -> None:
    pulls = {f"orders.p{n}": {"status": status} for n, status in enumerate(statuses)}
    assert with_pulls(code, pulls) == expected


def test_a_pull_over_the_gate_is_an_incident_of_its_own_until_it_passes() -> None:
    pull = {"status": "quality_failed", "error": "gate"}
    failed = {"providers": {"shopify": {"status": "ok"}}, "datasets": {"orders.shopify": pull}}
    incidents = incidents_of(failed)
    assert list(incidents) == ["quality/orders.shopify/quality_gate"]
    assert incidents["quality/orders.shopify/quality_gate"].detail == "orders.shopify: gate"
    passed = {"providers": {}, "datasets": {"orders.shopify": {"status": "ok"}}}
    assert healthy(passed, "quality", "orders.shopify", "quality_gate")
    assert not healthy(failed, "quality", "orders.shopify", "quality_gate")


def test_a_datasets_volume_alert_is_the_pulls_incident_not_the_providers() -> None:
    verdict = {"provider": "shopify", "metric": "orders_fetched", "verdict": "alert",
               "value": 3, "median": 50, "z": -6.0, "dataset": "orders"}  # fmt: skip
    record = {"providers": {"shopify": {"status": "ok"}},
              "datasets": {"orders.shopify": {"status": "ok"}},
              "anomaly": {"verdicts": [verdict]}}  # fmt: skip
    assert list(incidents_of(record)) == ["anomaly/orders.shopify/orders_fetched"]
    recovered = {**record, "anomaly": {"verdicts": [{**verdict, "verdict": "ok"}]}}
    assert healthy(recovered, "anomaly", "orders.shopify", "orders_fetched")
