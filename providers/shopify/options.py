"""The validated ``[providers.shopify]`` options, each error naming its key.

The bounds and allowed values are the declared ones (``settings.OPTIONS``), which
``pipeline.toml`` is already checked against when it loads; this check covers options handed
to the provider by other means (tests, recordings).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipelines.errors import ConfigError
from providers.shopify import queries
from providers.shopify.settings import BULK_MODES, MAX_QUERY_COST, OPTIONS, ORDERS_BULK_MODES

PREFIX = "providers.shopify"
DECLARED = {option.name: option for option in OPTIONS}


@dataclass(frozen=True)
class FetchOptions:
    """How to page, filter, look back and when to run a bulk operation (products, orders)."""

    page_size: int
    variants_per_product: int
    query: str
    lookback_hours: int
    bulk: str
    orders_bulk: str
    bulk_threshold: int
    bulk_poll_seconds: float
    bulk_timeout_seconds: int

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> FetchOptions:
        """Validate the options, naming the key of the first bad one."""
        query = options.get("query") or ""
        if not isinstance(query, str):
            raise ConfigError(f"{PREFIX}.query: must be a string, got {query!r}")
        return cls(
            page_size=_bounded_int(options, "page_size"),
            variants_per_product=_bounded_int(options, "variants_per_product"),
            query=query,
            lookback_hours=_bounded_int(options, "lookback_hours"),
            bulk=_choice(options, "bulk", BULK_MODES),
            orders_bulk=_choice(options, "orders_bulk", ORDERS_BULK_MODES),
            bulk_threshold=_bounded_int(options, "bulk_threshold"),
            bulk_poll_seconds=_positive_number(options, "bulk_poll_seconds"),
            bulk_timeout_seconds=_bounded_int(options, "bulk_timeout_seconds"),
        )

    def products_per_page(self) -> int:
        """``page_size``, lowered so that one query stays under Shopify's cost limit."""
        return min(
            self.page_size,
            queries.max_products_per_page(self.variants_per_product, MAX_QUERY_COST),
        )


def _choice(options: Mapping[str, Any], name: str, modes: tuple[str, ...]) -> str:
    value = options.get(name)
    if value not in modes:
        raise ConfigError(f"{PREFIX}.{name}: must be one of {', '.join(modes)}, got {value!r}")
    return value


def _bounded_int(options: Mapping[str, Any], name: str) -> int:
    declared = DECLARED[name]
    minimum, maximum = int(declared.minimum or 0), int(declared.maximum or 0)
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
