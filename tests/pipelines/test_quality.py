"""Quality rules: each rule alone, their combinations, config, the gate, and generated bad rows."""

from __future__ import annotations

import string
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipelines.checks.quality import (
    REASONS_FIELD,
    RULES,
    RULES_BY_CODE,
    QualityChecker,
    QualityConfig,
    QualityResult,
    RuleSettings,
    describe_rules,
    describe_settings,
    example_ids,
    gate_verdict,
)
from pipelines.errors import ConfigError, SchemaDriftError
from pipelines.lake.schema import AVAILABILITIES, CONDITIONS
from tests.strategies import product_row, product_rows, product_table

ALL_ERRORS = QualityConfig(rules={code: RuleSettings(severity="error") for code in RULES_BY_CODE})
RULE_ORDER = {rule.code: i for i, rule in enumerate(RULES)}


def numbered(rows: list[dict[str, Any]], start: int = 0) -> pa.Table:
    """A product table with an extra ``row_no`` column to follow rows through the checker."""
    table = product_table(rows)
    return table.append_column("row_no", pa.array(range(start, start + len(rows)), pa.int64()))


def rows_with_ids(overrides: list[dict[str, Any]], start: int = 0) -> list[dict[str, Any]]:
    """Valid rows with distinct source ids, each with its overrides applied."""
    return [product_row(**{"source_id": f"id-{start + i}", **o}) for i, o in enumerate(overrides)]


def check(rows: list[dict[str, Any]], config: QualityConfig = ALL_ERRORS) -> QualityResult:
    return QualityChecker(config).check(numbered(rows))


def rejected_reasons(result: QualityResult) -> dict[int, list[str]]:
    rejected = result.rejected
    return dict(zip(rejected["row_no"].to_pylist(), rejected["reasons"].to_pylist(), strict=True))


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


def test_configured_lengths_apply() -> None:
    config = QualityConfig(max_title_length=5, max_description_length=3)
    result = check(rows_with_ids([{"title": "abcdef", "description": "abcd"}]), config)
    assert rejected_reasons(result) == {0: ["title_length"]}
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


# --- config ------------------------------------------------------------------------------


def test_config_defaults_and_a_full_table() -> None:
    assert QualityConfig.from_table({}) == QualityConfig()
    config = QualityConfig.from_table(
        {
            "reject_threshold": 0,
            "max_title_length": 200,
            "max_description_length": 5000,
            "rules": {
                "price_positive": {"severity": "warn"},
                "url_scheme": {"enabled": False},
                "title_length": {"enabled": True, "severity": "error"},
            },
        }
    )
    assert (config.reject_threshold, config.max_title_length) == (0, 200)
    assert config.severity("price_positive") == "warn"
    assert config.severity("description_length") == "warn"
    assert not config.is_enabled("url_scheme")
    assert config.is_enabled("title_length")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            {"rules": {"price_positive": {"severity": "fatal"}}},
            "quality.rules.price_positive.severity: expected 'error' or 'warn', got 'fatal'",
        ),
        (
            {"rules": {"url_scheme": {"enabled": "no"}}},
            "quality.rules.url_scheme.enabled: expected true or false, got 'no'",
        ),
        (
            {"rules": {"url_scheme": {"enable": False}}},
            "quality.rules.url_scheme.enable: unknown key (known: enabled, severity)",
        ),
        ({"rules": {"url_scheme": True}}, "quality.rules.url_scheme: expected a table, got True"),
        ({"rules": []}, "quality.rules: expected a table, got []"),
        (
            {"reject_threshold": 1.5},
            "quality.reject_threshold: expected a number from 0 to 1, got 1.5",
        ),
        (
            {"reject_threshold": "5%"},
            "quality.reject_threshold: expected a number from 0 to 1, got '5%'",
        ),
        ({"max_title_length": 0}, "quality.max_title_length: expected a positive integer, got 0"),
        (
            {"max_title_length": True},
            "quality.max_title_length: expected a positive integer, got True",
        ),
        (
            {"max_description_length": 10.5},
            "quality.max_description_length: expected a positive integer, got 10.5",
        ),
        ("yes", "quality: expected a table, got 'yes'"),
    ],
)
def test_config_errors_name_the_key(table: Any, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        QualityConfig.from_table(table)
    assert str(raised.value) == message


def test_unknown_keys_and_rule_codes_are_reported_together() -> None:
    with pytest.raises(ConfigError) as raised:
        QualityConfig.from_table({"threshold": 0.1, "rules": {"price_negative": {}}})
    first, second = str(raised.value).split("; ", 1)
    assert first == (
        "quality.threshold: unknown key "
        "(known: reject_threshold, max_title_length, max_description_length, rules)"
    )
    assert second.startswith("quality.rules.price_negative: unknown rule code (known: ")
    assert "duplicate_source_id" in second


def test_constructor_rejects_unknown_rule_codes() -> None:
    with pytest.raises(ConfigError, match="price_negative"):
        QualityConfig(rules={"price_negative": RuleSettings()})


def test_describe_rules_and_settings_cover_everything() -> None:
    described = describe_rules()
    assert [d["code"] for d in described] == list(RULES_BY_CODE)
    assert all(d["description"] and d["severity"] in ("error", "warn") for d in described)
    keys = [d["key"] for d in describe_settings()]
    assert keys == [
        "quality.reject_threshold",
        "quality.max_title_length",
        "quality.max_description_length",
        "quality.rules.<code>.enabled",
        "quality.rules.<code>.severity",
    ]


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


# --- generated bad rows ------------------------------------------------------------------

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
