"""The quality rules as data: each rule's code, description and default severity.

Apart from ``quality`` (the vectorised checks, which load pyarrow and numpy) so that the
``[quality]`` model (``quality_config``), the docs and ``status`` know the rules without
loading them. ``quality.RULES`` pairs each entry here with its check, in this order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Literal

from pipelines.lake.vocabularies import AVAILABILITIES, CONDITIONS

Severity = Literal["error", "warn"]


@dataclass(frozen=True)
class RuleInfo:
    """What a rule is called, what it asks and how grave a failure is by default."""

    code: str
    description: str
    severity: Severity


RULE_INFO: tuple[RuleInfo, ...] = (
    RuleInfo("source_required", "source is present and not blank.", "error"),
    RuleInfo("source_id_required", "source_id is present and not blank.", "error"),
    RuleInfo("title_required", "title is present and not blank.", "error"),
    RuleInfo("price_positive", "price_amount, when present, is > 0.", "error"),
    RuleInfo(
        "list_price_not_below_price",
        "list_price_amount >= price_amount when both are present.",
        "error",
    ),
    RuleInfo(
        "currency_iso4217", "currency, when present, is an upper-case ISO 4217 code.", "error"
    ),
    RuleInfo(
        "url_scheme",
        "url, image_url and each additional_image_urls item, when present, are http(s) URLs.",
        "error",
    ),
    RuleInfo("condition_vocabulary", f"condition is one of {', '.join(CONDITIONS)}.", "error"),
    RuleInfo(
        "availability_vocabulary", f"availability is one of {', '.join(AVAILABILITIES)}.", "error"
    ),
    RuleInfo(
        "title_length", "title, when present, is 1 to quality.max_title_length characters.", "error"
    ),
    # warn by default: a verbose listing is still a sellable product; count it, keep it.
    RuleInfo(
        "description_length",
        "description, when present, is at most quality.max_description_length characters.",
        "warn",
    ),
    # warn by default: the row is good, only the cross-marketplace key is missing.
    RuleInfo(
        "gtin_check_digit",
        "gtin, when present, is a GTIN-8/12/13/14 with a valid GS1 check digit (else gtin14 null).",
        "warn",
    ),
    RuleInfo(
        "duplicate_source_id",
        "(source, source_id) is not repeated within a run: the first occurrence passes.",
        "error",
    ),
)
RULE_INFO_BY_CODE: Mapping[str, RuleInfo] = MappingProxyType({r.code: r for r in RULE_INFO})


def describe_rules() -> list[dict[str, str]]:
    """The rules for docs: code, description and default severity, in evaluation order."""
    return [
        {"code": r.code, "description": r.description, "severity": r.severity} for r in RULE_INFO
    ]
