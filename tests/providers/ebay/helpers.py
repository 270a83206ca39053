"""Shared by the eBay provider tests: the usual search options, and fetching every record."""

from __future__ import annotations

from typing import Any

from providers.ebay import EbayProvider

CAMERA = {"queries": [{"q": "film camera"}], "page_size": 10}


def fetch_all(fetch_context, env, options, provider=None, **kw) -> list[dict[str, Any]]:
    provider = provider or EbayProvider()
    return list(provider.fetch(fetch_context(provider, env, options, **kw)))
