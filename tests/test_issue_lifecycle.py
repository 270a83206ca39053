"""file-issues over several runs on the fake GitHub: one issue per incident, comments, closing
on recovery, reopening, history in the body; through paged listings and rate limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipelines.run_pipeline import main
from tests.fakes.github import FakeGitHub

ANOMALY = "volume-anomaly"
START = datetime(2026, 11, 20, 6, 17, tzinfo=UTC)


def verdict(provider: str, kind: str, value: float = 70) -> dict:
    value = 3 if kind == "alert" else value
    return {"provider": provider, "metric": "fetched", "value": value, "verdict": kind,
            "median": 70.0, "z": -9.5 if kind == "alert" else 0.1,
            "alert_lower": 40.0, "alert_upper": 100.0}  # fmt: skip


def record(n: int, **kinds: str) -> dict:
    """Run ``n`` (6 hours apart), with a verdict per provider keyword (``shopify="alert"``)."""
    verdicts = [verdict(provider, kind) for provider, kind in kinds.items()]
    return {
        "run_id": f"r{n}", "started_at": (START + timedelta(hours=6 * n)).isoformat(),
        "providers": {p: {"status": "ok"} for p in kinds if p != "total"},
        "anomaly": {"worst": "alert", "verdicts": verdicts},
    }  # fmt: skip


def file_run(folder: Path, records: list[dict], *extra: str) -> int:
    """Write what file-issues reads from the products artifact, then run it for the last run."""
    logs = folder / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    (logs / "runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    run_id = records[-1]["run_id"]
    (logs / f"report-{run_id}.md").write_text(f"# Pipeline run `{run_id}`\n")
    return main(["file-issues", "--products-dir", str(folder), *extra])


def by_title(gh: FakeGitHub) -> dict[str, dict]:
    return {issue["title"]: issue for issue in gh.issues(ANOMALY)}


def test_an_incident_opens_once_comments_closes_on_recovery_and_reopens(
    gh: FakeGitHub, github_env: Path
) -> None:
    for n in range(3):  # other issues of the label: listings take several pages (2 per page)
        gh.add_issue(f"unrelated {n}", "no marker", (ANOMALY,))
    runs = [record(1, shopify="alert", ebay="alert", total="alert")]
    assert file_run(github_env, runs, "--recovered-runs", "2") == 0
    issues = by_title(gh)
    # the providers explain the total: two issues, not three
    assert {t for t in issues if t.startswith("Volume")} == {
        "Volume anomaly: shopify fetched", "Volume anomaly: ebay fetched",
    }  # fmt: skip
    body = issues["Volume anomaly: shopify fetched"]["body"]
    assert "xychart-beta" in body
    assert "| 2026-11-20 12:17 | r1 | 3 | 70.0 | 40–100 | alert |" in body

    # 2. shopify still low: a comment and a fresh history; ebay back once (K=2: stays open)
    runs.append(record(2, shopify="alert", ebay="ok", total="alert"))
    gh.secondary_rate_limit(times=1, retry_after=0)  # a 429 on the way is waited out
    assert file_run(github_env, runs, "--recovered-runs", "2") == 0
    assert not gh.faults  # the 429 was answered, and retried
    shopify, ebay = (by_title(gh)[f"Volume anomaly: {p} fetched"] for p in ("shopify", "ebay"))
    [comment] = gh.state.comments[shopify["number"]]
    assert comment["body"].startswith("<!-- pipeline-run: r2 -->")
    assert "| 2026-11-20 18:17 | r2 | 3 |" in shopify["body"]
    assert "<!-- pipeline-run: r1 -->" in shopify["body"]  # earlier runs stay acknowledgeable
    assert (ebay["state"], gh.state.comments.get(ebay["number"])) == ("open", None)
    assert sum(r.args.get("page") == "2" for r in gh.requests) >= 2  # paged every time

    # 3. ebay in its band for 2 runs: closed with a comment; shopify back once: open
    gh.clock = "2026-11-21T00:30:00Z"
    runs.append(record(3, shopify="ok", ebay="ok", total="ok"))
    assert file_run(github_env, runs, "--recovered-runs", "2") == 0
    shopify, ebay = (by_title(gh)[f"Volume anomaly: {p} fetched"] for p in ("shopify", "ebay"))
    assert (ebay["state"], ebay["state_reason"], shopify["state"]) == (
        "closed",
        "completed",
        "open",
    )
    assert "Back in its band for the last 2 runs" in gh.state.comments[ebay["number"]][-1]["body"]

    # 4. ebay breaks again within the window: the same issue is reopened, with a comment
    runs.append(record(4, shopify="ok", ebay="alert", total="ok"))
    assert file_run(github_env, runs, "--recovered-runs", "2") == 0
    ebay_again = by_title(gh)["Volume anomaly: ebay fetched"]
    assert (ebay_again["number"], ebay_again["state"]) == (ebay["number"], "open")
    assert gh.state.comments[ebay["number"]][-1]["body"].startswith("<!-- pipeline-run: r4 -->")
    assert by_title(gh)["Volume anomaly: shopify fetched"]["state"] == "closed"  # 2 runs ok
    assert len([i for i in gh.issues(ANOMALY) if i["title"].startswith("Volume")]) == 2


def test_an_incident_long_after_its_issue_closed_opens_a_new_issue(
    gh: FakeGitHub, github_env: Path
) -> None:
    gh.clock = "2026-11-01T00:00:00Z"  # closed 19 days before the run: past the 7-day window
    marker = "<!-- pipeline-incident: volume-anomaly/shopify/fetched -->"
    old = gh.add_issue("Volume anomaly: shopify fetched", marker, (ANOMALY,), state="closed")
    assert file_run(github_env, [record(1, shopify="alert")]) == 0
    issues = gh.issues(ANOMALY)
    assert [i["state"] for i in issues] == ["closed", "open"]
    assert issues[0]["number"] == old["number"]


def test_total_has_an_issue_when_no_provider_explains_it(gh: FakeGitHub, github_env: Path) -> None:
    assert file_run(github_env, [record(1, shopify="warn", ebay="ok", total="alert")]) == 0
    assert list(by_title(gh)) == ["Volume anomaly: total fetched"]


def test_a_nonsense_recovery_count_is_a_clear_error(github_env: Path) -> None:
    assert file_run(github_env, [record(1, shopify="alert")], "--recovered-runs", "0") == 2


def with_orders(run: dict, kind: str) -> dict:
    """``run`` with a verdict on shopify's orders fetched (the orders dataset's volume)."""
    orders = {**verdict("shopify", kind), "metric": "orders_fetched", "dataset": "orders"}
    run["anomaly"]["verdicts"].append(orders)
    run["datasets"] = {"orders.shopify": {"status": "ok"}}
    return run


def test_an_orders_volume_drop_has_an_issue_of_its_own_until_it_recovers(
    gh: FakeGitHub, github_env: Path
) -> None:
    runs = [with_orders(record(1, shopify="alert"), "alert")]
    assert file_run(github_env, runs, "--recovered-runs", "1") == 0
    orders = by_title(gh)["Volume anomaly (orders): shopify orders_fetched"]
    assert "Volume anomaly: shopify fetched" in by_title(gh)  # the products' incident, apart
    assert {label["name"] for label in orders["labels"]} == {ANOMALY, "dataset:orders"}
    assert (
        "<!-- pipeline-incident: volume-anomaly/orders/shopify/orders_fetched -->"
        in (orders["body"])
    )
    assert "orders.shopify orders_fetched 3 vs median 70" in orders["body"]
    runs.append(with_orders(record(2, shopify="alert"), "alert"))  # still low: one comment
    assert file_run(github_env, runs, "--recovered-runs", "1") == 0
    assert len(gh.state.comments[orders["number"]]) == 1
    runs.append(with_orders(record(3, shopify="alert"), "ok"))  # orders back, products not
    assert file_run(github_env, runs, "--recovered-runs", "1") == 0
    states = {title: issue["state"] for title, issue in by_title(gh).items()}
    assert states == {"Volume anomaly (orders): shopify orders_fetched": "closed",
                      "Volume anomaly: shopify fetched": "open"}  # fmt: skip
