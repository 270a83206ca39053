"""Volume anomalies of the orders dataset: orders fetched per run, revenue per UTC day and
currency, judged from the run log's ``datasets`` section like the products' counters."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from pipelines.checks.anomaly import Verdict
from pipelines.checks.dataset_anomaly import detect_dataset_anomalies
from pipelines.lake.volumes import DaySums, Volume
from pipelines.ops.incidents import Incident, alerting, incident_of
from pipelines.run.detect import describe_alerts, judge_volumes
from tests.pipelines.anomaly_helpers import CONFIG, NOW, make_run

PULL = "orders.shopify"


def order_run(at: datetime, records: int = 50, revenue: dict[str, dict[str, str]] | None = None,
              *, status: str = "ok", **extra: Any) -> dict[str, Any]:  # fmt: skip
    """A run record whose orders pull fetched ``records`` and booked ``revenue`` (by
    currency, by day) in its new orders."""
    entry: dict[str, Any] = {"status": status, "records": records}
    if revenue is not None:
        entry["volumes"] = {"revenue": revenue}
    return make_run(at, datasets={PULL: entry}, **extra)


def days_of(values: list[float], currency: str = "CAD") -> list[dict[str, Any]]:
    """One run at 06:00 UTC each day before NOW, newest first, booking ``values[i]`` on the
    day before the run (its orders of yesterday)."""
    runs = []
    for i, value in enumerate(values):
        at = NOW.replace(hour=6) - timedelta(days=i + 1)
        day = (at - timedelta(days=1)).date().isoformat()
        runs.append(order_run(at, revenue={currency: {day: str(value)}}))
    return runs


def verdicts(history: list[dict[str, Any]], current: dict[str, Any], **kw: Any) -> dict:
    found = detect_dataset_anomalies(history, current, CONFIG, **kw)
    assert all(v.dataset == "orders" and v.provider == "shopify" for v in found)
    return {v.metric: v for v in found}


def test_orders_fetched_per_run_alerts_on_a_drop() -> None:
    history = [order_run(NOW - timedelta(hours=6 * i), 50 + i % 3) for i in range(1, 20)]
    assert verdicts(history, order_run(NOW, 51))["orders_fetched"].verdict == "ok"
    dropped = verdicts(history, order_run(NOW, 0))["orders_fetched"]
    assert dropped.verdict == "alert"
    assert dropped.to_dict()["dataset"] == "orders"
    assert "day" not in dropped.to_dict()


def test_a_failed_pull_is_not_judged_and_does_not_train() -> None:
    history = [order_run(NOW - timedelta(hours=6 * i), 50) for i in range(1, 20)]
    assert verdicts(history, order_run(NOW, 0, status="failed")) == {}
    failed = [order_run(NOW - timedelta(hours=6 * i + 3), 0, status="failed") for i in range(9)]
    assert verdicts(history + failed, order_run(NOW, 50))["orders_fetched"].verdict == "ok"


def test_yesterdays_revenue_is_judged_per_currency_against_the_days_before() -> None:
    history = days_of([1000, 1040, 980, 1010, 995, 1020, 1005, 990, 1015, 1000])
    usual = order_run(NOW, revenue={"CAD": {"2026-11-20": "1003.50"}})
    found = verdicts(history, usual)
    assert found["revenue_CAD"].verdict == "ok"
    assert found["revenue_CAD"].day == "2026-11-20"
    assert found["revenue_CAD"].training_points == 10
    assert not found["revenue_CAD"].seasonal
    slump = order_run(NOW, revenue={"CAD": {"2026-11-20": "40"}})
    assert verdicts(history, slump)["revenue_CAD"].verdict == "alert"
    silent = order_run(NOW, revenue={})  # no order at all yesterday: a zero
    assert verdicts(history, silent)["revenue_CAD"].value == 0


def test_a_day_sums_every_runs_new_orders() -> None:
    """Late orders of a day, first seen by a later run, add to that day."""
    history = days_of([1000] * 10)
    early = order_run(
        NOW.replace(hour=1) - timedelta(days=1), revenue={"CAD": {"2026-11-20": "600"}}
    )
    late = order_run(NOW, revenue={"CAD": {"2026-11-20": "400"}})
    found = verdicts([*history, early], late)
    assert found["revenue_CAD"].value == 1000
    assert found["revenue_CAD"].verdict == "ok"


def test_revenue_is_judged_once_a_day_by_the_first_run() -> None:
    history = days_of([1000] * 10)
    first = order_run(NOW.replace(hour=1), revenue={"CAD": {"2026-11-20": "10"}})
    assert "revenue_CAD" in verdicts(history, first)
    again = order_run(NOW, revenue={})
    assert "revenue_CAD" not in verdicts([*history, first], again)


def test_currencies_are_separate_series() -> None:
    history = days_of([1000] * 10) + days_of([200] * 10, currency="EUR")
    current = order_run(NOW, revenue={"CAD": {"2026-11-20": "1000"}, "EUR": {"2026-11-20": "5"}})
    found = verdicts(history, current)
    assert (found["revenue_CAD"].verdict, found["revenue_EUR"].verdict) == ("ok", "alert")


def test_an_alerted_day_leaves_the_training_unless_acknowledged() -> None:
    history = days_of([1000] * 10)
    flagged = history[0]
    flagged["anomaly"] = {"verdicts": [{"dataset": "orders", "provider": "shopify",
                                        "metric": "revenue_CAD", "day": "2026-11-19",
                                        "verdict": "alert"}]}  # fmt: skip
    current = order_run(NOW, revenue={"CAD": {"2026-11-20": "1000"}})
    assert verdicts(history, current)["revenue_CAD"].training_points == 9
    acknowledged = frozenset({flagged["run_id"]})
    assert (
        verdicts(history, current, acknowledged=acknowledged)["revenue_CAD"].training_points == 10
    )


def test_dry_runs_do_not_count_twice() -> None:
    history = days_of([1000] * 10)
    dry = order_run(NOW.replace(hour=1), revenue={"CAD": {"2026-11-20": "5000"}}, mode="dry_run")
    current = order_run(NOW, revenue={"CAD": {"2026-11-20": "1000"}})
    assert verdicts([*history, dry], current)["revenue_CAD"].value == 1000


def test_the_detect_step_adds_dataset_verdicts_next_to_the_products() -> None:
    history = [order_run(NOW - timedelta(hours=6 * i), 50) for i in range(1, 20)]
    report = judge_volumes(history, order_run(NOW, 0), CONFIG, frozenset(), [])
    kinds = {(v.dataset, v.provider, v.metric): v.verdict for v in report.verdicts}
    assert kinds[("orders", "shopify", "orders_fetched")] == "alert"
    assert kinds[(None, "shopify", "fetched")] in {"ok", "warn", "alert", "insufficient_history"}
    assert report.worst == "alert"
    assert describe_alerts(report)[-1].startswith("orders shopify orders_fetched 0 vs median 50")


def test_day_sums_count_new_rows_only() -> None:
    sums = DaySums([Volume("revenue", table="orders", amount="total_amount",
                           day="created_at", by="currency")])  # fmt: skip
    keys = ("currency", "created_at", "total_amount", "change_type")
    yesterday = NOW - timedelta(days=1)
    rows = pa.Table.from_pylist([
        dict(zip(keys, ("CAD", NOW, Decimal(10), "new"), strict=True)),
        dict(zip(keys, ("CAD", NOW, Decimal(5), "new"), strict=True)),
        dict(zip(keys, ("CAD", NOW, Decimal(99), "changed"), strict=True)),
        dict(zip(keys, ("EUR", yesterday, Decimal(7), "new"), strict=True)),
    ])  # fmt: skip
    sums.add("orders", rows)
    sums.add("order_lines", rows)  # not this volume's table
    assert sums.to_dict() == {"revenue": {"CAD": {"2026-11-21": "15"}, "EUR": {"2026-11-20": "7"}}}
    assert DaySums([]).to_dict() == {}


@pytest.mark.parametrize("garbage", [{"revenue": "x"}, {"revenue": {"CAD": {"nope": "1"}}}])
def test_a_hand_edited_record_is_read_around(garbage: dict[str, Any]) -> None:
    history = days_of([1000] * 10)
    history[0]["datasets"][PULL]["volumes"] = garbage
    current = order_run(NOW, revenue={"CAD": {"2026-11-20": "1000"}})
    assert isinstance(verdicts(history, current)["revenue_CAD"], Verdict)


def test_a_revenue_alert_opens_its_own_incident() -> None:
    history = days_of([1000] * 10)
    current = order_run(NOW, revenue={"CAD": {"2026-11-20": "3"}})
    report = judge_volumes(history, current, CONFIG, frozenset(), [])
    current["anomaly"] = report.to_dict()
    incidents = alerting(current)
    incident = Incident("shopify", "revenue_CAD", "orders")  # the dataset's, not the products'
    assert list(incidents) == [incident]
    assert incidents[incident]["day"] == "2026-11-20"
    assert "volume-anomaly/orders/shopify/revenue_CAD" in incident.marker
    assert incident_of(incident.marker) == incident
    assert incident.title == "Volume anomaly (orders): shopify revenue_CAD"
