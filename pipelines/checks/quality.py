"""Data quality rules: run per batch, before dedup and persist.

Every rule is in ``RULES``: its code, one-line description and default severity (declared
once, as data, in pipelines.checks.quality_rules) and its vectorised check from ``CHECKS``
(``pyarrow.compute``/numpy, no Python loop over rows) that returns the rows failing it.
``[quality]`` in pipeline.toml (read by pipelines.checks.quality_config) can disable a rule
or change its severity. Rows failing any *error* rule are rejected (quarantined) with all
their failing error-rule codes in ``reasons``; *warn* rules are only counted.

One ``QualityChecker`` per provider per run: it keeps the (source, source_id) keys it
has seen so that ``duplicate_source_id`` works across the batches of one run, and
running totals for the provider's quality gate (``gate_verdict``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.checks.currencies import ISO_4217_CODES
from pipelines.checks.quality_rules import RULE_INFO, Severity
from pipelines.checks.run_keys import RunKeys
from pipelines.checks.schema_drift import check_columns
from pipelines.lake.schema import AVAILABILITIES, CONDITIONS
from pipelines.lake.state_index import SEP, hash_keys

MAX_EXAMPLE_ID_LENGTH = 80

# Scheme http or https (any case, as RFC 3986 allows) followed by a non-empty host.
URL_PATTERN = r"^https?://[^\s/?#]+"
REASONS_FIELD = pa.field("reasons", pa.list_(pa.string()), nullable=False)

_CURRENCIES = pa.array(sorted(ISO_4217_CODES), pa.string())
_CONDITIONS = pa.array(CONDITIONS, pa.string())
_AVAILABILITIES = pa.array(AVAILABILITIES, pa.string())


class ConfigView(Protocol):
    """What the rules, the checker and the gate read of a ``QualityConfig``.

    QualityConfig (pipelines.checks.quality_config) checks rule codes against
    pipelines.checks.quality_rules, not this module; this view names what the rules read of
    it, so any object with these members (a test's stub) will do.
    """

    @property
    def reject_threshold(self) -> float: ...
    @property
    def max_title_length(self) -> int: ...
    @property
    def max_description_length(self) -> int: ...
    def is_enabled(self, code: str) -> bool: ...
    def severity(self, code: str) -> Severity: ...


# --- rules -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleContext:
    """What a rule may read besides the batch: the config and the run's seen keys."""

    config: ConfigView
    run_keys: RunKeys


# A boolean Array or ChunkedArray, one value per row, True where the row fails; never null.
Mask = pa.BooleanArray | pa.ChunkedArray
Check = Callable[[pa.Table, RuleContext], Mask]


@dataclass(frozen=True)
class Rule:
    """A quality rule: ``check`` flags the failing rows of a batch, vectorised."""

    code: str
    description: str
    severity: Severity
    check: Check


def _blank(values: pa.ChunkedArray) -> pa.BooleanArray:
    """Null, or empty after trimming Unicode whitespace (told without trimming a copy)."""
    return pc.or_(pc.equal(pc.binary_length(values), 0), pc.utf8_is_space(values)).fill_null(True)


def _not_in(values: pa.ChunkedArray, allowed: pa.Array) -> pa.BooleanArray:
    """Not one of ``allowed``; null counts as not in."""
    return pc.invert(pc.is_in(values, value_set=allowed))


def _present_and(values: pa.ChunkedArray, failing: pa.BooleanArray) -> pa.BooleanArray:
    return pc.and_(pc.is_valid(values), failing).fill_null(False)


def _bad_url(values: pa.Array | pa.ChunkedArray) -> pa.BooleanArray:
    """Present and not an http(s) URL with a host."""
    matches = pc.match_substring_regex(values, URL_PATTERN, ignore_case=True)
    return pc.invert(matches).fill_null(False)


def _bad_url_items(column: pa.ChunkedArray) -> np.ndarray:
    """Rows of a list<string> column holding at least one present, non-http(s) item."""
    lists = column.combine_chunks()
    bad_items = _bad_url(pc.list_flatten(lists)).to_numpy(zero_copy_only=False)
    parents = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
    rows = np.zeros(len(lists), dtype=bool)
    rows[parents[bad_items]] = True
    return rows


def check_source_required(table: pa.Table, ctx: RuleContext) -> Mask:
    return _blank(table["source"])


def check_source_id_required(table: pa.Table, ctx: RuleContext) -> Mask:
    return _blank(table["source_id"])


def check_title_required(table: pa.Table, ctx: RuleContext) -> Mask:
    return _blank(table["title"])


def check_price_positive(table: pa.Table, ctx: RuleContext) -> Mask:
    return pc.less_equal(table["price_amount"], 0).fill_null(False)


def check_list_price_not_below_price(table: pa.Table, ctx: RuleContext) -> Mask:
    return pc.less(table["list_price_amount"], table["price_amount"]).fill_null(False)


def check_currency_iso4217(table: pa.Table, ctx: RuleContext) -> Mask:
    currency = table["currency"]
    return _present_and(currency, _not_in(currency, _CURRENCIES))


def check_url_scheme(table: pa.Table, ctx: RuleContext) -> Mask:
    single = pc.or_(_bad_url(table["url"]), _bad_url(table["image_url"]))
    items = _bad_url_items(table["additional_image_urls"])
    return pa.array(single.to_numpy(zero_copy_only=False) | items)


def check_condition_vocabulary(table: pa.Table, ctx: RuleContext) -> Mask:
    return _not_in(table["condition"], _CONDITIONS)


def check_availability_vocabulary(table: pa.Table, ctx: RuleContext) -> Mask:
    return _not_in(table["availability"], _AVAILABILITIES)


def check_title_length(table: pa.Table, ctx: RuleContext) -> Mask:
    empty = pc.equal(pc.binary_length(table["title"]), 0).fill_null(False)
    return pc.or_(empty, _longer_than(table["title"], ctx.config.max_title_length))


def check_description_length(table: pa.Table, ctx: RuleContext) -> Mask:
    return _longer_than(table["description"], ctx.config.max_description_length)


def _longer_than(values: pa.ChunkedArray, limit: int) -> pa.BooleanArray:
    """More than ``limit`` characters; counted only when a value has more than ``limit`` bytes
    (a character is at least one byte)."""
    over = pc.greater(pc.binary_length(values), limit).fill_null(False)
    if not pc.any(over).as_py():
        return over
    return pc.greater(pc.utf8_length(values), limit).fill_null(False)


def check_duplicate_source_id(table: pa.Table, ctx: RuleContext) -> Mask:
    """Later occurrences of a (source, source_id) already seen in this run, in any batch."""
    return ctx.run_keys.flag_repeats(_run_keys(table["source"], table["source_id"]))


def _run_keys(
    source: pa.Array | pa.ChunkedArray, source_id: pa.Array | pa.ChunkedArray
) -> np.ndarray:
    """The key hash of each (source, source_id) (``RunKeys``); zeros when either is blank."""
    keys = pc.binary_join_element_wise(source, source_id, SEP)
    blank = pc.or_(_blank(source), _blank(source_id))
    return hash_keys(pc.if_else(blank, pa.scalar(None, pa.string()), keys).to_pylist())


def check_gtin_check_digit(table: pa.Table, ctx: RuleContext) -> Mask:
    """A gtin given but no gtin14 made of it (the normalize stage's GS1 check failed).

    A table without the ``gtin14`` column (schema version 1) is not judged.
    """
    if "gtin14" not in table.column_names:
        return pa.array(np.zeros(table.num_rows, dtype=bool))
    return pc.and_(pc.invert(_blank(table["gtin"])), pc.is_null(table["gtin14"]))


# Each rule's check, by code; its description and default severity are in quality_rules.
CHECKS: Mapping[str, Check] = MappingProxyType({
    "source_required": check_source_required,
    "source_id_required": check_source_id_required,
    "title_required": check_title_required,
    "price_positive": check_price_positive,
    "list_price_not_below_price": check_list_price_not_below_price,
    "currency_iso4217": check_currency_iso4217,
    "url_scheme": check_url_scheme,
    "condition_vocabulary": check_condition_vocabulary,
    "availability_vocabulary": check_availability_vocabulary,
    "title_length": check_title_length,
    "description_length": check_description_length,
    "gtin_check_digit": check_gtin_check_digit,
    "duplicate_source_id": check_duplicate_source_id,
})  # fmt: skip
RULES: tuple[Rule, ...] = tuple(
    Rule(info.code, info.description, info.severity, CHECKS[info.code]) for info in RULE_INFO
)
RULES_BY_CODE: Mapping[str, Rule] = MappingProxyType({rule.code: rule for rule in RULES})


# --- checking ----------------------------------------------------------------------------


@dataclass(frozen=True)
class QualityResult:
    """One batch checked: ``valid`` keeps the input schema; ``rejected`` adds ``reasons``."""

    valid: pa.Table
    rejected: pa.Table
    counts: dict[str, int]  # failing rows per rule code (warn rules too); zeros left out


@dataclass
class QualityTotals:
    """A provider's running totals over the batches of one run, for its quality gate."""

    checked: int = 0
    rejected: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)


class QualityChecker:
    """Checks one provider's batches for one run; keeps the run's seen keys and totals."""

    def __init__(self, config: ConfigView) -> None:
        self.config = config
        self.rules = tuple(rule for rule in RULES if config.is_enabled(rule.code))
        self.totals = QualityTotals()
        self._context = RuleContext(config, RunKeys())

    def check(self, table: pa.Table) -> QualityResult:
        """Split a batch into valid and rejected rows; raises SchemaDriftError on bad columns."""
        check_columns(table)
        failing = {r.code: _to_numpy(r.check(table, self._context)) for r in self.rules}
        errors = {c: m for c, m in failing.items() if self.config.severity(c) == "error"}
        matrix = np.array(list(errors.values()), dtype=bool).reshape(len(errors), table.num_rows)
        reject = matrix.any(axis=0)
        rejected = table.filter(pa.array(reject))
        reasons = _reasons(list(errors), matrix[:, reject])
        result = QualityResult(
            valid=table.filter(pa.array(~reject)) if rejected.num_rows else table,
            rejected=rejected.append_column(REASONS_FIELD, reasons),
            counts={c: int(m.sum()) for c, m in failing.items() if m.any()},
        )
        self._tally(table.num_rows, result)
        return result

    def seen_in_run(self, keys: np.ndarray) -> np.ndarray:
        """Which key hashes (``RunKeys``) this run has seen already (nothing remembered)."""
        return self._context.run_keys.known(keys)

    def expect_keys(self, count: int) -> None:
        """The run will likely see about ``count`` keys (``RunKeys.expect``)."""
        self._context.run_keys.expect(count)

    def pass_unchecked(self, keys: np.ndarray) -> None:
        """Key hashes of rows that pass without a check (unchanged raw), each new to the run
        (distinct, not ``seen_in_run``): seen, for the rule."""
        self._context.run_keys.add(keys)

    def verdict(self, provider: str) -> str | None:
        """``gate_verdict`` over everything this checker has seen."""
        t = self.totals
        return gate_verdict(provider, t.checked, t.rejected, t.counts, t.examples, self.config)

    def _tally(self, rows: int, result: QualityResult) -> None:
        totals = self.totals
        totals.checked += rows
        totals.rejected += result.rejected.num_rows
        totals.counts.update(result.counts)
        wanted = 3 - len(totals.examples)
        if wanted > 0:
            totals.examples += example_ids(result.rejected, wanted)


def _to_numpy(mask: pa.BooleanArray | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)


def _reasons(codes: list[str], matrix: np.ndarray) -> pa.ListArray:
    """One list of failing codes per rejected row, in rule order; matrix is rules x rows."""
    _, rules = np.nonzero(matrix.T)  # row-major: sorted by row, then by rule
    offsets = np.concatenate([[0], np.cumsum(matrix.sum(axis=0))]).astype(np.int32)
    values = pc.take(pa.array(codes, pa.string()), pa.array(rules, pa.int64()))
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values)


# --- the gate ----------------------------------------------------------------------------


def example_ids(rejected: pa.Table, n: int = 3) -> list[str]:
    """Up to ``n`` distinct, non-blank source ids of rejected rows, shortened for messages."""
    ids = rejected["source_id"]
    present = pc.filter(ids, pc.invert(_blank(ids)))
    unique = pc.unique(present)[:n].to_pylist()
    return [
        i if len(i) <= MAX_EXAMPLE_ID_LENGTH else i[:MAX_EXAMPLE_ID_LENGTH] + "…" for i in unique
    ]


def gate_verdict(
    provider: str,
    fetched_rows: int,
    rejected_rows: int,
    counts: Mapping[str, int],
    examples: list[str],
    config: ConfigView,
) -> str | None:
    """None when the rejected share is within ``reject_threshold``, else why the gate failed.

    For example: "quality gate failed for ebay: 2 of 10 rows rejected (20.0% > 5.0%);
    top rules: price_positive 2; examples: v1, v2" (one line). ``counts`` may hold warn
    rules too: only error-severity rules are named, as only they reject rows.
    """
    if fetched_rows <= 0 or rejected_rows / fetched_rows <= config.reject_threshold:
        return None
    share = rejected_rows / fetched_rows
    message = (
        f"quality gate failed for {provider}: {rejected_rows} of {fetched_rows} rows rejected "
        f"({share:.1%} > {config.reject_threshold:.1%}); top rules: {_top_rules(counts, config)}"
    )
    if examples:
        message += f"; examples: {', '.join(examples[:3])}"
    return message


def _top_rules(counts: Mapping[str, int], config: ConfigView, n: int = 3) -> str:
    """The n error-severity rules that failed most rows, most first (warn rules never reject)."""
    errors = [
        (code, count)
        for code, count in counts.items()
        if count > 0 and code in RULES_BY_CODE and config.severity(code) == "error"
    ]
    errors.sort(key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{code} {count}" for code, count in errors[:n]) or "none"
