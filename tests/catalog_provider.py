"""A tiny in-memory provider for runner tests: raw records in, one row each out."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any, ClassVar

from pipelines.errors import FatalProviderError, SkippableRecordError
from pipelines.lake.schema import BUSINESS_COLUMNS
from providers.base import FetchContext, Provider, Setting


def make_record(number: int, price: str = "10.00", **extra: Any) -> dict[str, Any]:
    """A raw catalog record as the fake API would return it."""
    return {"id": f"item-{number}", "title": f"Item {number}", "price": price, **extra}


class CatalogProvider(Provider):
    """Serves ``records``; raises ``fail_with`` after ``fail_after`` records when set."""

    name = "catalog"
    title = "Test catalog"
    settings: ClassVar = (Setting("CATALOG_TOKEN", "token for the test catalog", secret=True),)

    def __init__(self, records: list[dict[str, Any]] | None = None, name: str = "catalog") -> None:
        self.records = records or []
        self.name = name
        self.fail_after: int | None = None
        self.complete = False

    def fetch(self, ctx: FetchContext) -> Iterator[dict[str, Any]]:
        for index, record in enumerate(self.records):
            if self.fail_after is not None and index == self.fail_after:
                raise FatalProviderError(f"{self.name} page 2: 500 Internal Server Error")
            yield record
        ctx.page_done(len(self.records))
        ctx.next_state["runs_seen"] = ctx.state.get("runs_seen", 0) + 1
        if self.complete:
            ctx.mark_complete()

    def normalize(self, raw: dict[str, Any]) -> list[dict[str, Any]]:
        if "id" not in raw:
            raise SkippableRecordError(f"{self.name} record without id")
        row = dict.fromkeys(BUSINESS_COLUMNS)
        row.update(
            source=self.name,
            source_id=raw["id"],
            gtin=raw.get("gtin"),
            title=raw["title"],
            condition="new",
            availability="in_stock",
            price_amount=Decimal(raw["price"]),
            currency="EUR",
        )
        return [row]
