"""The validated ``[providers.shopify]`` options, each error naming its key."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipelines.errors import ConfigError
from providers.shopify import queries
from providers.shopify.settings import (
    BULK_MODES,
    MAX_BULK_THRESHOLD,
    MAX_BULK_TIMEOUT_SECONDS,
    MAX_LOOKBACK_HOURS,
    MAX_PAGE_SIZE,
    MAX_QUERY_COST,
    MAX_VARIANTS_PER_PRODUCT,
)

PREFIX = "providers.shopify"


@dataclass(frozen=True)
class FetchOptions:
    """How to page, filter, look back and when to run a bulk operation."""

    page_size: int
    variants_per_product: int
    query: str
    lookback_hours: int
    bulk: str
    bulk_threshold: int
    bulk_poll_seconds: float
    bulk_timeout_seconds: int

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> FetchOptions:
        """Validate the options, naming the key of the first bad one."""
        query = options.get("query") or ""
        if not isinstance(query, str):
            raise ConfigError(f"{PREFIX}.query: must be a string, got {query!r}")
        bulk = options.get("bulk")
        if bulk not in BULK_MODES:
            raise ConfigError(
                f"{PREFIX}.bulk: must be one of {', '.join(BULK_MODES)}, got {bulk!r}"
            )
        return cls(
            page_size=_bounded_int(options, "page_size", 1, MAX_PAGE_SIZE),
            variants_per_product=_bounded_int(
                options, "variants_per_product", 1, MAX_VARIANTS_PER_PRODUCT
            ),
            query=query,
            lookback_hours=_bounded_int(options, "lookback_hours", 0, MAX_LOOKBACK_HOURS),
            bulk=bulk,
            bulk_threshold=_bounded_int(options, "bulk_threshold", 1, MAX_BULK_THRESHOLD),
            bulk_poll_seconds=_positive_number(options, "bulk_poll_seconds"),
            bulk_timeout_seconds=_bounded_int(
                options, "bulk_timeout_seconds", 1, MAX_BULK_TIMEOUT_SECONDS
            ),
        )

    def products_per_page(self) -> int:
        """``page_size``, lowered so that one query stays under Shopify's cost limit."""
        return min(
            self.page_size,
            queries.max_products_per_page(self.variants_per_product, MAX_QUERY_COST),
        )


def _bounded_int(options: Mapping[str, Any], name: str, minimum: int, maximum: int) -> int:
    value = options.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise ConfigError(
            f"{PREFIX}.{name}: must be an integer from {minimum} to {maximum}, got {value!r}"
        )
    return value


def _positive_number(options: Mapping[str, Any], name: str) -> float:
    value = options.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"{PREFIX}.{name}: must be a number above 0, got {value!r}")
    return float(value)
