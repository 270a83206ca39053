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
