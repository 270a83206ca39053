"""Quality rules: each rule alone, their combinations, batches of a run, and the gate."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from pipelines.checks.quality import (
    REASONS_FIELD,
    RULES,
    RULES_BY_CODE,
    QualityChecker,
    QualityResult,
    _blank,
    example_ids,
    gate_verdict,
)
from pipelines.checks.quality_config import QualityConfig, RuleSettings
from pipelines.errors import SchemaDriftError
from pipelines.lake.schema import AVAILABILITIES, CONDITIONS
from tests.pipelines.quality_helpers import numbered, rejected_reasons
from tests.strategies import product_row, product_table

ALL_ERRORS = QualityConfig(rules={code: RuleSettings(severity="error") for code in RULES_BY_CODE})


def rows_with_ids(overrides: list[dict[str, Any]], start: int = 0) -> list[dict[str, Any]]:
    """Valid rows with distinct source ids, each with its overrides applied."""
    return [product_row(**{"source_id": f"id-{start + i}", **o}) for i, o in enumerate(overrides)]


def check(rows: list[dict[str, Any]], config: QualityConfig = ALL_ERRORS) -> QualityResult:
    return QualityChecker(config).check(numbered(rows))


# --- each rule alone ---------------------------------------------------------------------

LONG_TITLE = "x" * 501
SINGLE_RULE_CASES: list[tuple[str, list[dict[str, Any]], list[dict[str, Any]]]] = [
    # (code, rows that fail only this rule, edge rows that pass)
    ("source_required", [{"source": None}, {"source": ""}, {"source": " \t"}], [{"source": "x"}]),
    ("source_id_required", [{"source_id": None}, {"source_id": "  "}], [{"source_id": "0"}]),
    ("title_required", [{"title": None}, {"title": " \n"}], [{"title": " a "}]),
    (
        "price_positive",
        [{"price_amount": Decimal(0)}, {"price_amount": Decimal("-1.5")}],
        [{"price_amount": Decimal("0.0001")}, {"price_amount": None}],
    ),
    (
        "list_price_not_below_price",
        [{"price_amount": Decimal(10), "list_price_amount": Decimal("9.9999")}],
        [
            {"price_amount": Decimal(10), "list_price_amount": Decimal(10)},
            {"price_amount": None, "list_price_amount": Decimal(1)},
            {"price_amount": Decimal(10), "list_price_amount": None},
        ],
    ),
    (
        "currency_iso4217",
        [{"currency": c} for c in ("usd", "US", "ZZZ", "XXX", "", " USD")],
        [{"currency": None}, {"currency": "EUR"}, {"currency": "JPY"}, {"currency": "ZWG"}],
    ),
    (
        "url_scheme",
        [
            {"url": "ftp://example.com/a"},
            {"url": "www.example.com/a"},
            {"url": "https://"},
            {"url": ""},
            {"image_url": "javascript:alert(1)"},
            {"additional_image_urls": ["https://ok.example/a", "data:image/png;base64,AA"]},
            {"url": "mailto:a@example.com", "image_url": "file:///etc/passwd"},
        ],
        [
            {"url": None, "image_url": None, "additional_image_urls": None},
            {"url": "HTTP://EXAMPLE.COM/A", "additional_image_urls": []},
            {"additional_image_urls": [None, "http://example.com"]},
        ],
    ),
    (
        "condition_vocabulary",
        [{"condition": "New"}, {"condition": "mint"}, {"condition": None}],
        [{"condition": c} for c in CONDITIONS],
    ),
    (
        "availability_vocabulary",
        [{"availability": "in stock"}, {"availability": None}],
        [{"availability": a} for a in AVAILABILITIES],
    ),
    ("title_length", [{"title": LONG_TITLE}], [{"title": "x" * 500}, {"title": "é" * 500}]),
    (
        "description_length",
        [{"description": "d" * 10_001}],
        [{"description": "d" * 10_000}, {"description": None}, {"description": ""}],
    ),
    (
        "gtin_check_digit",
        [{"gtin": "4006381333932"}, {"gtin": "12345"}, {"gtin": "n/a"}, {"gtin": "0306406152"}],
        [{"gtin": None}, {"gtin": " "}, {"gtin": "4006381333931"}, {"gtin": "978-0-306-40615-7"}],
    ),
]


@pytest.mark.parametrize(
    ("code", "failing", "passing"), SINGLE_RULE_CASES, ids=[c[0] for c in SINGLE_RULE_CASES]
)
def test_each_rule_alone(
    code: str, failing: list[dict[str, Any]], passing: list[dict[str, Any]]
) -> None:
    rows = rows_with_ids([{}, *passing, *failing])
    result = check(rows)
    bad = range(1 + len(passing), len(rows))
    assert rejected_reasons(result) == {i: [code] for i in bad}
    assert result.valid["row_no"].to_pylist() == list(range(1 + len(passing)))
    assert result.counts == {code: len(failing)}


def test_duplicate_source_id_alone() -> None:
    rows = rows_with_ids([{"source_id": "a"}, {"source_id": "b"}, {"source_id": "a"}, {}])
    rows += [product_row(source="ebay", source_id="a"), product_row(source_id="a")]
    result = check(rows)
    assert rejected_reasons(result) == {2: ["duplicate_source_id"], 5: ["duplicate_source_id"]}
    assert result.counts == {"duplicate_source_id": 2}


def test_blank_keys_are_not_duplicates_of_each_other() -> None:
    rows = rows_with_ids([{"source_id": None}, {"source_id": None}, {"source_id": " "}])
    result = check(rows)
    assert rejected_reasons(result) == {i: ["source_id_required"] for i in range(3)}
    assert result.counts == {"source_id_required": 3}


# --- combinations, severities, disabled rules --------------------------------------------


def test_a_row_failing_three_rules_lists_all_three_in_rule_order() -> None:
    bad = {"condition": "mint", "title": None, "price_amount": Decimal(0)}
    result = check(rows_with_ids([{}, bad]))
    assert rejected_reasons(result) == {
        1: ["title_required", "price_positive", "condition_vocabulary"]
    }
    assert result.counts == {"title_required": 1, "price_positive": 1, "condition_vocabulary": 1}


def test_empty_title_fails_required_and_length() -> None:
    result = check(rows_with_ids([{"title": ""}]))
    assert rejected_reasons(result) == {0: ["title_required", "title_length"]}


def test_warn_rules_count_without_rejecting() -> None:
    config = QualityConfig(rules={"price_positive": RuleSettings(severity="warn")})
    rows = rows_with_ids(
        [{"price_amount": Decimal(0)}, {"price_amount": Decimal(0), "title": None}]
    )
    result = check(rows, config)
    assert result.valid["row_no"].to_pylist() == [0]
    assert rejected_reasons(result) == {1: ["title_required"]}
    assert result.counts == {"price_positive": 2, "title_required": 1}


def test_description_length_warns_by_default() -> None:
    result = check(rows_with_ids([{"description": "d" * 10_001}]), QualityConfig())
    assert result.rejected.num_rows == 0
    assert result.counts == {"description_length": 1}


def test_a_bad_gtin_check_digit_warns_by_default_and_keeps_the_row() -> None:
    rows = rows_with_ids([{"gtin": "036000291453"}, {"gtin": "036000291452"}])
    result = check(rows, QualityConfig())
    assert result.rejected.num_rows == 0
    assert result.valid["gtin14"].to_pylist() == [None, "00036000291452"]
    assert result.counts == {"gtin_check_digit": 1}


def test_configured_lengths_apply() -> None:
    config = QualityConfig(max_title_length=5, max_description_length=3)
    result = check(rows_with_ids([{"title": "abcdef", "description": "abcd"}]), config)
    assert rejected_reasons(result) == {0: ["title_length"]}
    assert result.counts == {"title_length": 1, "description_length": 1}


def test_lengths_count_characters_not_bytes() -> None:
    config = QualityConfig(max_title_length=2, max_description_length=3)
    rows = [{"title": "éé", "description": "ééé"}, {"title": "ééé", "description": "éééé"}]
    result = check(rows_with_ids(rows), config)
    assert rejected_reasons(result) == {1: ["title_length"]}
    assert result.counts == {"title_length": 1, "description_length": 1}


def test_disabled_rules_neither_reject_nor_count() -> None:
    off = RuleSettings(enabled=False)
    config = QualityConfig(rules={"currency_iso4217": off, "duplicate_source_id": off})
    rows = rows_with_ids([{"currency": "usd", "source_id": "a"}, {"source_id": "a"}])
    result = check(rows, config)
    assert result.rejected.num_rows == 0
    assert result.counts == {}
    assert [r.code for r in QualityChecker(config).rules] == [
        r.code for r in RULES if r.code not in {"currency_iso4217", "duplicate_source_id"}
    ]


# --- batches and the run -----------------------------------------------------------------


def test_duplicates_are_found_across_batches_of_one_run() -> None:
    checker = QualityChecker(QualityConfig())
    first = checker.check(numbered(rows_with_ids([{"source_id": "a"}, {"source_id": "b"}])))
    second = checker.check(
        numbered(rows_with_ids([{"source_id": s} for s in "acc"], start=2), start=2)
    )
    assert first.rejected.num_rows == 0
    assert rejected_reasons(second) == {2: ["duplicate_source_id"], 4: ["duplicate_source_id"]}
    assert second.valid["row_no"].to_pylist() == [3]
    fresh_run = QualityChecker(QualityConfig()).check(numbered(rows_with_ids([{"source_id": "a"}])))
    assert fresh_run.rejected.num_rows == 0


def test_output_schemas_and_chunked_input() -> None:
    bad_image = {"additional_image_urls": ["https://ok.example/1", "ftp://x/2"]}
    part_one = numbered(rows_with_ids([{}, {}]))
    part_two = numbered(rows_with_ids([{}, bad_image, {}], start=2), start=2)
    table = pa.concat_tables([part_one, part_two.slice(1)])
    assert table.column("additional_image_urls").num_chunks == 2
    result = QualityChecker(QualityConfig()).check(table)
    assert rejected_reasons(result) == {3: ["url_scheme"]}
    assert result.valid.schema == table.schema
    assert result.rejected.schema == table.schema.append(REASONS_FIELD)


def test_an_empty_batch_gives_empty_results() -> None:
    table = numbered([])
    result = QualityChecker(QualityConfig()).check(table)
    assert (result.valid.num_rows, result.rejected.num_rows, result.counts) == (0, 0, {})
    assert result.rejected.schema == table.schema.append(REASONS_FIELD)


def test_schema_drift_names_the_columns() -> None:
    table = product_table(rows_with_ids([{}])).drop_columns(["currency"])
    table = table.set_column(
        table.schema.get_field_index("price_amount"), "price_amount", pa.array([1.5])
    )
    with pytest.raises(SchemaDriftError) as raised:
        QualityChecker(QualityConfig()).check(table)
    assert str(raised.value) == (
        "quality check: price_amount is double, expected decimal128(18, 4); currency is missing"
    )


def test_checker_totals_feed_the_gate() -> None:
    checker = QualityChecker(QualityConfig(reject_threshold=0.25))
    checker.check(numbered(rows_with_ids([{}, {"title": None, "source_id": "t1"}])))
    assert checker.verdict("shopify") is not None
    checker.check(numbered(rows_with_ids([{}, {}], start=2)))
    assert (checker.totals.checked, checker.totals.rejected) == (4, 1)
    assert checker.totals.examples == ["t1"]
    assert checker.verdict("shopify") is None


# --- the gate ----------------------------------------------------------------------------


def test_gate_passes_up_to_the_threshold() -> None:
    config = QualityConfig()
    assert gate_verdict("ebay", 100, 5, {"price_positive": 5}, ["a"], config) is None
    assert gate_verdict("ebay", 0, 0, {}, [], config) is None


def test_gate_message_names_provider_share_top_error_rules_and_examples() -> None:
    config = QualityConfig(rules={"url_scheme": RuleSettings(severity="warn")})
    counts = {"url_scheme": 90, "title_required": 3, "price_positive": 7, "currency_iso4217": 3}
    counts |= {"description_length": 40, "condition_vocabulary": 1}
    verdict = gate_verdict("amazon", 120, 12, counts, ["B01", "B02", "B03", "B04"], config)
    assert verdict == (
        "quality gate failed for amazon: 12 of 120 rows rejected (10.0% > 5.0%); "
        "top rules: price_positive 7, currency_iso4217 3, title_required 3; "
        "examples: B01, B02, B03"
    )


def test_example_ids_skip_blank_and_repeated_ids_and_shorten_long_ones() -> None:
    ids = [None, "", "a", "a", "x" * 100, "b", "c"]
    rejected = product_table(rows_with_ids([{"source_id": i} for i in ids]))
    assert example_ids(rejected) == ["a", "x" * 80 + "…", "b"]
    assert example_ids(rejected, n=1) == ["a"]


def test_blank_is_null_or_empty_once_unicode_whitespace_is_trimmed() -> None:
    points = [chr(c) for c in range(0x3100) if not 0xD800 <= c <= 0xDFFF]
    values = pa.array([*points, *(c * 2 for c in points), *(f"{c}a{c}" for c in points), "", None])
    trimmed = pc.equal(pc.utf8_trim_whitespace(values), "").fill_null(True)
    assert _blank(values).to_pylist() == trimmed.to_pylist()
    assert trimmed.to_pylist().count(True) > 20  # the whitespace characters, "" and None
