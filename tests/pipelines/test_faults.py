"""Fault injection, end to end: whole runs through ``Runner`` against the three fake APIs.

Each case breaks one provider in one way and checks the run's outcome (exit code, every
provider's status), the counters and error in the run log (``logs/runs.jsonl``), and that
no committed row was lost or duplicated: providers that succeeded committed exactly the rows
of a clean run, a failed one committed nothing (not even raw landing files), and a clean run
after it completes the lake without a duplicate.

The file takes 10-20 s: every case is a whole run of three providers (~0.4 s, most of it
the runner's own checkpoint, Parquet and run-log writes), and the read time-out cases wait
for their (0.5 s) time-outs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.fakes import ebay as fake_ebay
from tests.fakes.ebay import reset_connection, slow, truncated_body
from tests.pipelines.fault_runs import ASINS, EBAY_ITEMS, Fakes, committed, run

SLOW = 0.8  # past the 0.5 s read timeout
EBAY_PAGE_2 = "ebay search 'film camera' (EBAY_US) page 2"
AMAZON_THROTTLED = {"type": "ThrottlingException", "message": "Rate exceeded"}
AMAZON_UNAVAILABLE = {"type": "ServiceUnavailableException", "message": "Service unavailable"}


@dataclass(frozen=True)
class Case:
    """One fault: how to inject it, the run's expected outcome and run-log counters."""

    inject: Callable[[Fakes], None]
    statuses: dict[str, str]
    counts: dict[str, dict[str, Any]] = field(default_factory=dict)
    error: tuple[str, str] | None = None  # (provider, text its error must contain)
    pipeline: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        failed = sum(status == "failed" for status in self.statuses.values())
        return 0 if not failed else 4 if failed == len(self.statuses) else 1


OK = {"shopify": "ok", "amazon": "ok", "ebay": "ok"}
EBAY_FAILED = {**OK, "ebay": "failed"}


def ebay_faults(*faults: fake_ebay.Fault) -> Callable[[Fakes], None]:
    def inject(fakes: Fakes) -> None:
        fakes.ebay.search_faults = list(faults)

    return inject


def amazon_faults(
    status: int, body: Any, headers: dict[str, str] | None = None, times: int = 1, after: int = 0
) -> Callable[[Fakes], None]:
    def inject(fakes: Fakes) -> None:
        fakes.amazon.fail_next(status, body, headers, times=times, after=after)

    return inject


def both(*injections: Callable[[Fakes], None]) -> Callable[[Fakes], None]:
    def inject(fakes: Fakes) -> None:
        for injection in injections:
            injection(fakes)

    return inject


E429 = (429, fake_ebay.TOO_MANY_REQUESTS)
E500, E502 = (500, fake_ebay.INTERNAL_ERROR), (502, fake_ebay.INTERNAL_ERROR)
E503 = (503, fake_ebay.INTERNAL_ERROR)

CASES = {
    "ebay-429-with-retry-after": Case(
        ebay_faults((*E429, {"Retry-After": "0.05"})),
        OK,
        {"ebay": {"retries": 1, "throttle_waits": 1, "throttle_wait_seconds": 0.05}},
    ),
    "ebay-429-without-retry-after": Case(
        ebay_faults(E429), OK, {"ebay": {"retries": 1, "throttle_waits": 1}}
    ),
    "ebay-500-502-503-burst": Case(
        ebay_faults(None, E500, E502, E503),
        OK,
        {"ebay": {"retries": 3, "throttle_waits": 0, "api_calls": 4, "pages": 3}},
    ),
    "ebay-503-past-the-retries": Case(
        ebay_faults(None, E503, E503, E503, E503),
        EBAY_FAILED,
        {"ebay": {"retries": 3, "written": 0}},
        ("ebay", f"503 Service Unavailable from {EBAY_PAGE_2}: There was a problem"),
    ),
    "ebay-breaker-opens": Case(
        ebay_faults(None, E503, E503, E503),
        EBAY_FAILED,
        {"ebay": {"retries": 1, "breaker_trips": 1}},
        ("ebay", "circuit breaker open after 2 consecutive failures (last: HTTP 503 on search"),
        {"http_breaker_threshold": 2},
    ),
    "retry-budget-shared-by-the-run": Case(
        both(amazon_faults(503, AMAZON_UNAVAILABLE), ebay_faults(E503)),
        EBAY_FAILED,
        {"amazon": {"retries": 1}, "ebay": {"retries": 0}},
        ("ebay", "the run's retry budget of 1 is spent"),
        {"http_retry_budget": 1},
    ),
    "ebay-slow-once": Case(
        ebay_faults(None, slow(SLOW, E500)), OK, {"ebay": {"retries": 1, "pages": 3}}
    ),
    "ebay-slow-every-time": Case(
        ebay_faults(None, *[slow(SLOW, E500)] * 2),
        EBAY_FAILED,
        {"ebay": {"retries": 1}},
        ("ebay", f"{EBAY_PAGE_2}: 127.0.0.1 unreachable (read timeout)"),
        {"http_max_retries": 1},
    ),
    "ebay-connection-reset": Case(
        ebay_faults(None, reset_connection), OK, {"ebay": {"retries": 1, "pages": 3}}
    ),
    "ebay-truncated-body": Case(
        ebay_faults(None, truncated_body), OK, {"ebay": {"retries": 1, "pages": 3}}
    ),
    "ebay-non-json-body": Case(
        ebay_faults(None, (200, b"<html>maintenance</html>")),
        EBAY_FAILED,
        {"ebay": {"retries": 0}},
        ("ebay", f"{EBAY_PAGE_2}: response is not valid JSON (Expecting value at byte 0)"),
    ),
    "ebay-truncated-json": Case(
        ebay_faults(None, (200, b'{"total": 25, "itemSummaries": [{"itemId": "v1|1')),
        EBAY_FAILED,
        {},
        ("ebay", f"{EBAY_PAGE_2}: response is not valid JSON (Unterminated string"),
    ),
    "ebay-unexpected-type": Case(
        ebay_faults(None, (200, {"total": 25, "itemSummaries": "none"})),
        EBAY_FAILED,
        {},
        ("ebay", f"{EBAY_PAGE_2}: itemSummaries is not a list of objects"),
    ),
    "ebay-token-expires-mid-run": Case(
        lambda fakes: fakes.ebay.expire_tokens_after(1),
        OK,
        {"ebay": {"retries": 0, "pages": 3, "api_calls": 6}},  # 2 tokens, 3 pages, 1 refused
    ),
    "amazon-429-with-retry-after": Case(
        amazon_faults(429, AMAZON_THROTTLED, {"Retry-After": "0.05"}, after=1),
        OK,
        {"amazon": {"retries": 1, "throttle_waits": 1, "throttle_wait_seconds": 0.05}},
    ),
    "amazon-429-without-retry-after": Case(
        amazon_faults(429, AMAZON_THROTTLED), OK, {"amazon": {"retries": 1, "throttle_waits": 1}}
    ),
    "amazon-503-burst": Case(
        amazon_faults(503, AMAZON_UNAVAILABLE, times=3, after=1), OK, {"amazon": {"retries": 3}}
    ),
    "amazon-503-past-the-retries": Case(
        amazon_faults(503, AMAZON_UNAVAILABLE, times=4, after=1),
        {**OK, "amazon": "failed"},
        {"amazon": {"retries": 3, "written": 0}},
        ("amazon", "amazon getItems batch 2 (2 ASINs): request failed after retries"),
    ),
    "amazon-non-json-body": Case(
        amazon_faults(200, b"<html>maintenance</html>", after=1),
        {**OK, "amazon": "failed"},
        {},
        ("amazon", "getItems batch 2 (2 ASINs): the response does not match the Creators API"),
    ),
    "shopify-503-burst": Case(
        lambda fakes: fakes.shopify.fail_next(503, times=2), OK, {"shopify": {"retries": 2}}
    ),
    "shopify-500-past-the-retries": Case(
        lambda fakes: fakes.shopify.fail_next(500, times=4),
        {**OK, "shopify": "failed"},
        {"shopify": {"retries": 3}},
        ("shopify", "from shopify shop: Internal Server Error"),
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_fault(case: Case, fakes: Fakes, clean_rows, tmp_path: Path) -> None:
    case.inject(fakes)
    record = run(tmp_path, fakes, **case.pipeline)

    providers = record["providers"]
    assert {name: entry["status"] for name, entry in providers.items()} == case.statuses
    assert record["exit_code"] == case.exit_code
    assert_counts(providers, case, failed=False)
    if case.error:
        name, text = case.error
        assert text in providers[name]["error"]
    assert_no_row_lost_or_duplicated(tmp_path, case.statuses, clean_rows)


def test_the_run_after_a_failed_one_completes_the_lake_without_duplicates(
    fakes: Fakes, clean_rows, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    CASES["ebay-breaker-opens"].inject(fakes)
    assert run(tmp_path, fakes, http_breaker_threshold=2)["exit_code"] == 1
    fakes.ebay.search_faults.clear()
    caplog.clear()

    second = run(tmp_path, fakes)

    assert "superseded" not in caplog.text  # the failed run ended: nothing of it to supersede

    assert second["exit_code"] == 0
    assert second["providers"]["ebay"]["new"] == EBAY_ITEMS
    assert (second["providers"]["amazon"]["new"], second["providers"]["amazon"]["unchanged"]) == (
        0,
        len(ASINS),
    )
    assert_no_row_lost_or_duplicated(tmp_path, OK, clean_rows)


FAILED_WITH_COUNTS = {
    name: case
    for name, case in CASES.items()
    if any(any(case.counts[p].values()) for p in case.counts if case.statuses[p] != "ok")
}


@pytest.mark.parametrize("case", FAILED_WITH_COUNTS.values(), ids=FAILED_WITH_COUNTS.keys())
def test_a_failed_providers_counters_reach_the_run_log(
    case: Case, fakes: Fakes, tmp_path: Path
) -> None:
    case.inject(fakes)
    assert_counts(run(tmp_path, fakes, **case.pipeline)["providers"], case, failed=True)


def assert_counts(providers: dict[str, Any], case: Case, *, failed: bool) -> None:
    """The run-log counters of ``case``'s providers that failed (or did not)."""
    for name, expected in case.counts.items():
        if (case.statuses[name] != "ok") == failed:
            actual = {key: providers[name][key] for key in expected}
            assert actual == pytest.approx(expected, abs=0.04), name


def assert_no_row_lost_or_duplicated(
    root: Path, statuses: dict[str, str], clean: dict[str, set[tuple[str, str]]]
) -> None:
    rows = committed(root)
    duplicates = [key for key, n in Counter((s, i) for s, i, _ in rows).items() if n > 1]
    assert duplicates == []
    for name, status in statuses.items():
        mine = {(source_id, digest) for source, source_id, digest in rows if source == name}
        assert mine == (clean[name] if status == "ok" else set()), name
        if status != "ok":
            assert not list((root / "data" / "raw").rglob(f"source={name}/*")), name
