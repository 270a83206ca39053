"""Quality rules on generated bad rows: each row is rejected with exactly the rules it breaks."""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.checks.quality import RULES, RULES_BY_CODE, QualityChecker
from pipelines.checks.quality_config import QualityConfig
from pipelines.lake.schema import AVAILABILITIES, CONDITIONS
from tests.pipelines.quality_helpers import numbered, rejected_reasons
from tests.strategies import product_rows

RULE_ORDER = {rule.code: i for i, rule in enumerate(RULES)}

Corruption = tuple[Callable[[dict[str, Any]], dict[str, Any]], frozenset[str]]
blanks = st.sampled_from([None, "", "   ", "\t\n"])
bad_urls = st.sampled_from(
    ["ftp://example.com/a", "javascript:alert(1)", "www.example.com", "https://", "", "//x.io/a"]
)


def corrupt(codes: set[str], **values: Any) -> Corruption:
    return (lambda row: values), frozenset(codes)


@st.composite
def key_corruptions(draw: st.DrawFn) -> Corruption:
    """Blank the key, or copy row 0's key (the run's first occurrence) into this row."""
    kind = draw(st.sampled_from(["source", "source_id", "both", "duplicate"]))
    if kind == "duplicate":
        return (
            lambda row: {"source": row["_anchor"][0], "source_id": row["_anchor"][1]},
            frozenset({"duplicate_source_id"}),
        )
    source, source_id = draw(blanks), draw(blanks)
    if kind == "source":
        return corrupt({"source_required"}, source=source)
    if kind == "source_id":
        return corrupt({"source_id_required"}, source_id=source_id)
    return corrupt({"source_required", "source_id_required"}, source=source, source_id=source_id)


def list_below_price(delta: Decimal) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def apply(row: dict[str, Any]) -> dict[str, Any]:
        price = row["price_amount"] if row["price_amount"] is not None else Decimal(10)
        return {"price_amount": price, "list_price_amount": price - delta}

    return apply


def title_corruption(title: str | None) -> Corruption:
    if title and len(title) > 500:
        return corrupt({"title_length"}, title=title)
    codes = {"title_required", "title_length"} if title == "" else {"title_required"}
    return corrupt(codes, title=title)


nonpositive = st.decimals(max_value=0, min_value=-(10**6), places=4, allow_nan=False)
positive_delta = st.decimals(min_value=Decimal("0.0001"), max_value=100, places=4, allow_nan=False)


def not_in(values: tuple[str, ...]) -> st.SearchStrategy[str | None]:
    return st.none() | st.text(max_size=12).filter(lambda s: s not in values)


# One group per field, applied in this order (price before the list price derived from it).
CORRUPTION_GROUPS: tuple[st.SearchStrategy[Corruption], ...] = (
    key_corruptions(),
    st.one_of(blanks, st.just("t" * 501)).map(title_corruption),
    nonpositive.map(lambda p: corrupt({"price_positive"}, price_amount=p)),
    positive_delta.map(lambda d: (list_below_price(d), frozenset({"list_price_not_below_price"}))),
    st.one_of(
        st.text(string.ascii_lowercase, min_size=3, max_size=3),
        st.text(string.ascii_uppercase, max_size=2),
        st.text(string.ascii_uppercase, min_size=4, max_size=5),
    ).map(lambda c: corrupt({"currency_iso4217"}, currency=c)),
    st.fixed_dictionaries(
        {},
        optional={"url": bad_urls, "image_url": bad_urls, "additional_image_urls": bad_urls},
    )
    .filter(bool)
    .map(
        lambda bad: corrupt(
            {"url_scheme"},
            **{
                k: (["https://ok.example/a", v] if k == "additional_image_urls" else v)
                for k, v in bad.items()
            },
        )
    ),
    not_in(CONDITIONS).map(lambda c: corrupt({"condition_vocabulary"}, condition=c)),
    not_in(AVAILABILITIES).map(lambda a: corrupt({"availability_vocabulary"}, availability=a)),
    st.integers(10_001, 10_050).map(lambda n: corrupt({"description_length"}, description="d" * n)),
)


@st.composite
def corrupted_rows(
    draw: st.DrawFn, source_id: str, anchor: tuple[str, str]
) -> tuple[dict[str, Any], set[str]]:
    """A valid row with a random subset of corruptions, and the rule codes it must fail."""
    row = {**draw(product_rows()), "source_id": source_id, "_anchor": anchor}
    expected: set[str] = set()
    for group in CORRUPTION_GROUPS:
        if draw(st.booleans()):
            change, codes = draw(group)
            row.update(change(row))
            expected |= codes
    del row["_anchor"]
    return row, expected


@st.composite
def batches(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[set[str]], int]:
    """Rows with distinct ids, about half corrupted, and where to split them into 2 batches.

    Row 0 is never corrupted: the ``duplicate`` corruption copies its key.
    """
    first = {**draw(product_rows()), "source_id": "row-0"}
    anchor = (first["source"], first["source_id"])
    rows, expected = [first], [set()]
    for i in range(1, draw(st.integers(1, 10))):
        if draw(st.booleans()):
            row, codes = draw(corrupted_rows(f"row-{i}", anchor))
        else:
            row, codes = {**draw(product_rows()), "source_id": f"row-{i}"}, set()
        rows.append(row)
        expected.append(codes)
    return rows, expected, draw(st.integers(0, len(rows)))


@settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_generated_bad_rows_are_rejected_with_exactly_their_reasons(
    case: tuple[list[dict[str, Any]], list[set[str]], int],
) -> None:
    rows, expected, split = case
    config = QualityConfig()
    errors = {code for code in RULES_BY_CODE if config.severity(code) == "error"}
    checker = QualityChecker(config)
    results = [
        checker.check(numbered(rows[:split])),
        checker.check(numbered(rows[split:], start=split)),
    ]
    reasons = {k: v for result in results for k, v in rejected_reasons(result).items()}
    valid = [n for result in results for n in result.valid["row_no"].to_pylist()]
    want = {
        i: sorted(codes & errors, key=RULE_ORDER.__getitem__)
        for i, codes in enumerate(expected)
        if codes & errors
    }
    assert reasons == want
    assert valid == [i for i in range(len(rows)) if i not in want]
    counts = Counter(code for codes in expected for code in codes)
    assert sum((Counter(r.counts) for r in results), Counter()) == counts
