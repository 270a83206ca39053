"""Shared by the Shopify provider tests: fetching every record, with the context used."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from providers.base import FetchContext
from providers.shopify import ShopifyProvider

BuildContext = Callable[..., FetchContext]


def fetch_all(
    provider: ShopifyProvider, fetch_context: BuildContext, env: dict[str, str], **kwargs: Any
) -> tuple[list[dict[str, Any]], FetchContext]:
    ctx = fetch_context(provider, env, **kwargs)
    return list(provider.fetch(ctx)), ctx


class FakeClock:
    """A monotonic clock the test moves by hand (shared by the provider and the fake)."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds
