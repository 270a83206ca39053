"""The daily API budget: a run stops calling a provider before its budget is spent, commits
what it fetched as partial data (no deletions, the watermark as far as it got), and the next
day's runs go on from there to the lake one unlimited run makes. Shopify's budget counts the
GraphQL cost points its answers report; eBay's and Amazon's count calls."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from pipelines.config import load_config
from pipelines.errors import BudgetExhaustedError, ConfigError
from pipelines.lake.budget_usage import add_usage, read_usage, utc_day
from pipelines.lake.state_repair import readable_state_meta
from pipelines.lake.storage import LocalStorage
from pipelines.net.budget import CallBudget
from pipelines.run.options import RunOptions
from pipelines.run.runner import Runner
from providers.amazon import AmazonProvider
from providers.ebay import EbayProvider
from providers.shopify import ShopifyProvider
from providers.shopify.throttle import actual_cost
from tests.pipelines.fault_runs import Fakes, committed, write_config
from tests.pipelines.lake_compare import assert_same_lake

REGISTRY = {p.name: p for p in (ShopifyProvider(), AmazonProvider(), EbayProvider())}


class CallCountedShopify(ShopifyProvider):
    """Shopify with a budget in calls: the paging and watermark of a cut pull, one unit a call."""

    budget_unit = "calls"


CALLS_REGISTRY = {**REGISTRY, "shopify": CallCountedShopify()}


def budget_run(
    root: Path,
    fakes: Fakes,
    only: str,
    budget: int,
    day: str,
    monkeypatch: pytest.MonkeyPatch,
    registry: dict[str, Any] = REGISTRY,
) -> dict[str, Any]:
    """One run of ``only`` into ``root`` on UTC ``day`` with ``[budget] <only> = budget``."""
    monkeypatch.setattr("pipelines.run.extract.utc_day", lambda: day)
    root.mkdir(exist_ok=True)
    path = write_config(root / "pipeline.toml", 10)
    text = path.read_text() + "[providers.shopify]\npage_size = 2\n"
    path.write_text(text + f"[budget]\n{only} = {budget}\n")
    config = load_config(path, registry)
    config = config.with_pipeline(data_dir=str(root / "data"), log_dir=str(root / "logs"))
    options = RunOptions(providers=(only,), no_cache=True)
    result = Runner(config, registry, fakes.env(), options).run()
    record = json.loads((root / "logs" / "runs.jsonl").read_text().splitlines()[-1])
    assert record["exit_code"] == result.exit_code == 0, record["providers"]
    return record["providers"][only]


def watermark(root: Path) -> str | None:
    meta = readable_state_meta(LocalStorage(root / "data")) or {}
    return meta.get("extra", {}).get("providers", {}).get("shopify", {}).get("watermark")


def test_a_budget_cut_pull_commits_a_partial_lake_and_resumes_to_the_unlimited_one(
    tmp_path: Path, fakes: Fakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    def run(root: Path, budget: int, day: str) -> dict[str, Any]:
        return budget_run(root, fakes, "shopify", budget, day, monkeypatch, CALLS_REGISTRY)

    clean = run(tmp_path / "clean", 0, "2026-12-01")
    assert (clean["status"], clean["new"]) == ("ok", 6)
    root = tmp_path / "cut"
    first = run(root, 4, "2026-12-01")
    assert first["status"] == "budget_exhausted"
    assert "daily API budget of 4 calls is spent" in first["reason"]
    assert first["budget"] == {
        "day": "2026-12-01", "unit": "calls", "limit": 4, "used": 4, "remaining": 0
    }  # fmt: skip
    assert 0 < first["written"] < 6
    assert first["deleted"] == 0
    held = committed(root)
    assert len(held) == first["written"]
    assert set(held) < set(committed(tmp_path / "clean"))
    newest = max(p["updatedAt"] for p in fakes.shopify.products[: first["written"]])
    assert watermark(root) == newest  # only as far as what was committed
    again = run(root, 4, "2026-12-01")
    assert (again["status"], again["api_calls"], again["written"]) == ("budget_exhausted", 0, 0)
    assert read_usage(LocalStorage(root / "data"), "2026-12-01") == {"shopify": 4}
    for day in range(2, 10):  # each next day goes on from the watermark
        entry = run(root, 4, f"2026-12-{day:02d}")
        assert entry["deleted"] == 0
        if entry["status"] == "ok":
            break
        assert entry["status"] == "budget_exhausted"
    assert entry["status"] == "ok"
    assert_same_lake(root / "data", tmp_path / "clean" / "data")


def test_a_points_budget_stops_a_shopify_pull_before_the_query_that_would_pass_it(
    tmp_path: Path, fakes: Fakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A products page of 2 asks for 216 points and costs Shopify far less: 240 points pay
    # for the first pages, then refuse the next one on its requested cost.
    clean = budget_run(tmp_path / "clean", fakes, "shopify", 0, "2026-12-01", monkeypatch)
    root = tmp_path / "cut"
    charged = fakes.shopify.charged
    first = budget_run(root, fakes, "shopify", 240, "2026-12-01", monkeypatch)
    assert first["status"] == "budget_exhausted"
    assert re.search(r"products page \d+: not sent, it would cost 216 points and the daily API "
                     r"budget of 240 points has \d+ left", first["reason"])  # fmt: skip
    budget = first["budget"]
    assert (budget["unit"], budget["limit"]) == ("points", 240)
    assert budget["used"] + 216 > 240 >= budget["used"]
    assert budget["used"] == fakes.shopify.charged - charged  # the actual costs, nothing unsent
    assert 0 < first["written"] < clean["new"] == 6
    assert first["deleted"] == 0
    assert set(committed(root)) < set(committed(tmp_path / "clean"))
    assert read_usage(LocalStorage(root / "data"), "2026-12-01") == {"shopify": budget["used"]}
    for day in range(2, 10):  # each next day goes on from the watermark
        entry = budget_run(root, fakes, "shopify", 240, f"2026-12-{day:02d}", monkeypatch)
        assert (entry["deleted"], entry["budget"]["unit"]) == (0, "points")
        if entry["status"] == "ok":
            break
        assert entry["status"] == "budget_exhausted"
    assert entry["status"] == "ok"
    assert_same_lake(root / "data", tmp_path / "clean" / "data")


def test_a_points_budget_checks_the_requested_cost_and_charges_the_actual_one() -> None:
    budget = CallBudget("shopify", limit=100, used=10, unit="points")
    budget.charge("token request")  # calls are not what a points budget counts
    budget.afford("products page 1", 80)  # 10 + 80 <= 100
    budget.spend(actual_cost({"extensions": {"cost": {"actualQueryCost": 7}}}, 80))
    assert (budget.spent, budget.remaining) == (7, 83)
    budget.afford("products page 2", 83)
    budget.spend(actual_cost({"data": {}}, 3))  # no cost reported: the requested one
    assert budget.spent == 10
    with pytest.raises(BudgetExhaustedError) as refused:
        budget.afford("products page 3", 81)
    assert str(refused.value) == (
        "shopify products page 3: not sent, it would cost 81 points and the daily API budget "
        "of 100 points has 80 left (10 used by earlier runs today, 10 by this one)"
    )
    assert budget.to_dict() == {
        "day": "", "unit": "points", "limit": 100, "used": 20, "remaining": 80
    }  # fmt: skip
    broken = {"extensions": {"cost": {"actualQueryCost": None, "requestedQueryCost": 9}}}
    assert actual_cost(broken, 9) == 9


def test_a_complete_pull_cut_by_the_budget_writes_no_deletions(
    tmp_path: Path, fakes: Fakes, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = budget_run(tmp_path, fakes, "ebay", 0, "2026-12-01", monkeypatch)
    assert (first["status"], first["new"]) == ("ok", 25)
    cut = budget_run(tmp_path, fakes, "ebay", 2, "2026-12-02", monkeypatch)
    assert cut["status"] == "budget_exhausted"
    assert (cut["api_calls"], cut["deleted"]) == (2, 0)
    assert len(committed(tmp_path)) == 25  # nothing vanished, nothing marked deleted


def test_the_budget_refuses_the_call_that_would_pass_it() -> None:
    budget = CallBudget("ebay", limit=3, used=1)
    budget.charge("search page 1")
    budget.charge("search page 2")
    assert budget.remaining == 0
    with pytest.raises(BudgetExhaustedError, match="ebay search page 3: not sent"):
        budget.charge("search page 3")
    assert budget.spent == 2
    unlimited = CallBudget("shopify", limit=0)
    for _ in range(10):
        unlimited.charge("products page")
    assert unlimited.remaining is None


def test_budget_defaults_and_bad_values(tmp_path: Path) -> None:
    assert load_config(None, REGISTRY).budgets == {"shopify": 0, "amazon": 8640, "ebay": 5000}
    path = tmp_path / "pipeline.toml"
    path.write_text("[budget]\nebay = 100\n")
    assert load_config(path, REGISTRY).budgets["ebay"] == 100
    path.write_text('[budget]\nebay = "lots"\netsy = 5\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, REGISTRY)
    assert "budget.ebay: expected a whole number of calls (0: no limit), got 'lots'" in str(
        caught.value
    )
    assert "budget.etsy: no such provider" in str(caught.value)


def test_status_and_doctor_show_what_is_left_today(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from pipelines.cli.main import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "pipeline.toml").write_text("[budget]\nebay = 10\namazon = 50\n")
    lake, day = LocalStorage(tmp_path / "data"), utc_day()
    add_usage(lake, day, "run-a", "ebay", 7)  # two runs (or shards) of the same day
    add_usage(lake, day, "run-b", "ebay", 3)
    add_usage(lake, "2000-01-01", "run-old", "amazon", 50)  # another day: not counted
    assert main(["--status"]) == 0
    budgets = capsys.readouterr().out.split("Daily API budgets:\n")[1].splitlines()
    assert budgets == [
        f"  amazon: 0 of 50 API calls used on {day} (UTC), 50 left",
        f"  ebay: 10 of 10 API calls used on {day} (UTC), SPENT: runs fetch nothing more today",
    ]
    main(["doctor"])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("budget:")]
    assert lines == [f"budget: {budgets[1].strip()}"]  # only budgets drawn on today


def test_status_and_doctor_count_shopify_in_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    from pipelines.cli.main import main

    monkeypatch.chdir(tmp_path)
    (tmp_path / "pipeline.toml").write_text("[budget]\nshopify = 50000\n")
    day = utc_day()
    add_usage(LocalStorage(tmp_path / "data"), day, "run-a", "shopify", 1234)
    assert main(["--status"]) == 0
    line = f"shopify: 1234 of 50000 API points used on {day} (UTC), 48766 left"
    assert f"  {line}" in capsys.readouterr().out.split("Daily API budgets:\n")[1].splitlines()
    main(["doctor"])
    assert f"budget: {line}" in capsys.readouterr().out.splitlines()
    (tmp_path / "pipeline.toml").write_text('[budget]\nshopify = "lots"\n')
    with pytest.raises(ConfigError, match=r"budget\.shopify: expected a whole number of points"):
        load_config(tmp_path / "pipeline.toml", REGISTRY)


def test_the_report_has_the_budget_table() -> None:
    from pipelines.checks.report import render_html, render_markdown

    budget = {"day": "2026-12-05", "limit": 5000, "used": 5000, "remaining": 0}
    points = {"day": "2026-12-05", "unit": "points", "limit": 9000, "used": 57, "remaining": 8943}
    record = {"run_id": "r1", "mode": "live", "providers": {
        "ebay": {"status": "budget_exhausted", "budget": budget, "written": 40},
        "shopify": {"status": "ok", "budget": points, "written": 3},
        "amazon": {"status": "ok", "written": 3},
    }}  # fmt: skip
    markdown = render_markdown(record, [], None)
    assert "## API budget" in markdown
    row = (
        "| ebay | 2026-12-05 | calls | 5000 | 5000 | 0 | SPENT: partial pull, the next run goes on"
    )
    assert row in markdown  # a record from before budgets had units counts calls
    assert "| shopify | 2026-12-05 | points | 9000 | 57 | 8943 | ok |" in markdown
    assert "amazon | 2026-12-05" not in markdown  # no budget, no row
    assert "<h2>API budget</h2>" in render_html(record, [], None)
    assert "No daily API budget applies." in render_markdown({"providers": {}}, [], None)
