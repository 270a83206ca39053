"""Shared by the Amazon provider tests: quick options, ASINs, the recorded items, fetching."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from providers.amazon import AmazonProvider
from providers.base import FetchContext
from tests.fakes.amazon import FakeCreatorsApi

FIXTURES = Path(__file__).parents[2] / "fixtures" / "amazon"
FAST = {"throttling_seconds": 0.0}

BuildContext = Callable[..., FetchContext]
Serve = Callable[..., FakeCreatorsApi]


def asins(count: int) -> list[str]:
    return [f"B0TEST{n:04d}" for n in range(1, count + 1)]


def fetch_all(provider: AmazonProvider, ctx: FetchContext) -> list[dict[str, Any]]:
    return list(provider.fetch(ctx))


def fixture_items() -> list[dict[str, Any]]:
    return json.loads((FIXTURES / "get_items_response.json").read_text())["itemsResult"]["items"]
