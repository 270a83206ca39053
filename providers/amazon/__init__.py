"""Amazon products through the Creators API (python-amazon-paapi 7.x).

The API cannot list a catalog: a run fetches the configured ASINs with GetItems (10 per
call) and then the configured keyword searches with SearchItems (10 per page), yielding
each ASIN once. A raw record is the item exactly as Amazon sent it (lowerCamelCase wire
form) plus ``"__marketplace": "www.amazon.com"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipelines.errors import ConfigError
from providers.amazon.marketplaces import MARKETPLACES
from providers.amazon.normalize import normalize_item
from providers.amazon.settings import (
    CREDENTIAL_ID_ENV,
    CREDENTIAL_SECRET_ENV,
    DEFAULT_SEARCH_ITEM_COUNT,
    DEFAULT_SEARCH_PAGES,
    MAX_ITEMS_PER_REQUEST,
    MAX_SEARCH_PAGES,
    OPTIONS,
    PAAPI_RETIRED_ON,
    PARTNER_TAG_ENV,
    RETIRED_PAAPI_PREFIX,
    SETTINGS,
    VERSION_ENV,
)
from providers.base import FetchContext, Provider

if TYPE_CHECKING:
    from providers.amazon.client import CreatorsClient, Page
    from providers.batch import NormalizedBlock

__all__ = ["AmazonProvider"]


@dataclass(frozen=True)
class Search:
    """One configured keyword search."""

    keywords: str
    search_index: str | None
    pages: int


class AmazonProvider(Provider):
    """Amazon items by ASIN and by keyword search, one row per ASIN."""

    name = "amazon"
    title = "Amazon (Creators API)"
    settings = SETTINGS
    options = OPTIONS
    # Creators API limits grow with the associate's sales and are not published per day; the
    # starting point PA-API 5.0 documented (1 request/s, 8,640 a day) is the safe default.
    daily_budget = 8640

    def check_environment(self, env: Mapping[str, str]) -> list[str]:
        """Name the retired PA-API 5.0 variables still set (never their values)."""
        found = sorted(k for k in env if k.startswith(RETIRED_PAAPI_PREFIX) and env[k])
        if not found:
            return []
        # The fix comes first: the CLI summary shows only the start of a note.
        return [
            f"amazon: PA-API 5.0 was retired on {PAAPI_RETIRED_ON}; set {CREDENTIAL_ID_ENV}, "
            f"{CREDENTIAL_SECRET_ENV}, {VERSION_ENV} (the version shown with the credentials) "
            f"and {PARTNER_TAG_ENV} (your tracking id, unchanged) from new Creators API "
            f"credentials (Amazon Associates Central), and remove {', '.join(found)}, which "
            f"no longer {'works' if len(found) == 1 else 'work'}."
        ]

    def fetch(self, ctx: FetchContext) -> Iterator[dict[str, Any]]:
        """Yield GetItems results for ``asins``, then new ASINs from ``searches``."""
        marketplace, asins, searches = check_plan(ctx.options)
        ctx.log.info(
            "amazon: fetching %d ASINs, %d searches from %s", len(asins), len(searches), marketplace
        )
        client = _client(ctx, marketplace)
        run = _Run(ctx, client)
        try:
            yield from run.fetch_asins(asins)
            for search in searches:
                yield from run.fetch_search(search)
        finally:
            client.close()

    def probe(self, ctx: FetchContext) -> str:
        """GetItems for the first configured ASIN, else a 1-item search: one call (and a token).

        An answer proves the credentials, the version, the partner tag and the store; the
        item itself may be unavailable.
        """
        marketplace, asins, searches = check_plan(ctx.options)
        client = _client(ctx, marketplace)
        try:
            if asins:
                asked = f"getItems {asins[0]}"
                page = client.get_items(asins[:1], asked)
            else:
                search = searches[0]
                asked = f"searchItems {search.keywords!r}"
                page = client.search_items(search.keywords, search.search_index, 1, asked, 1)
        finally:
            client.close()
        codes = ", ".join(e.get("code") or "error" for e in page.errors)
        found = f"{len(page.items)} item(s)" + (f", {codes}" if codes else "")
        return f"{marketplace}: {asked} answered ({found})"

    def normalize(self, raw: dict[str, Any]) -> list[dict[str, Any]]:
        """One canonical row per item (see ``providers.amazon.normalize``)."""
        return normalize_item(raw)

    def normalize_batch(self, raws: list[dict[str, Any]]) -> NormalizedBlock:
        """The rows of a block of items, computed column by column (``columnar.py``)."""
        from providers.amazon.columnar import normalize_block  # pyarrow: not for --help

        return normalize_block(raws)

    def raw_keys(self, raw: dict[str, Any]) -> list[str]:
        """The item's ASIN (its one row's ``source_id``)."""
        return [str(raw.get("asin"))]


def _client(ctx: FetchContext, marketplace: str) -> CreatorsClient:
    """The Creators API client, whose SDK is imported only when a fetch or probe needs it."""
    from providers.amazon.client import CreatorsClient

    return CreatorsClient(ctx, marketplace)


class _Run:
    """One fetch: the ASINs already yielded, the record count and the limit."""

    def __init__(self, ctx: FetchContext, client: CreatorsClient) -> None:
        self.ctx = ctx
        self.client = client
        self.seen: set[str] = set()
        self.count = 0

    def room(self) -> int | None:
        """Records still allowed by ``ctx.limit`` (None: no limit)."""
        return None if self.ctx.limit is None else max(self.ctx.limit - self.count, 0)

    def fetch_asins(self, asins: list[str]) -> Iterator[dict[str, Any]]:
        """GetItems in batches of 10 (fewer when the limit is closer)."""
        start, batch, answered = 0, 0, 0
        while start < len(asins) and self.room() != 0:
            size = min(MAX_ITEMS_PER_REQUEST, self.room() or MAX_ITEMS_PER_REQUEST)
            chunk, start, batch = asins[start : start + size], start + size, batch + 1
            what = f"getItems batch {batch} ({len(chunk)} ASINs)"
            page = self.client.get_items(chunk, what)
            answered += self.report_errors(chunk, page, what)
            yield from self.emit(page.items)
        if asins:
            self.ctx.expect(
                "ASINs returned or refused with an error",
                source_count=min(start, len(asins)),
                read=answered,
            )

    def fetch_search(self, search: Search) -> Iterator[dict[str, Any]]:
        """SearchItems pages 1..pages, stopping at a short or empty page."""
        for number in range(1, search.pages + 1):
            if self.room() == 0:
                return
            what = f"searchItems {search.keywords!r} page {number}"
            page = self.client.search_items(search.keywords, search.search_index, number, what)
            yield from self.emit(page.items)
            if len(page.items) < DEFAULT_SEARCH_ITEM_COUNT:
                return

    def emit(self, items: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Yield the items not seen yet in this run, up to the limit; then count the page."""
        emitted = 0
        for item in items:
            asin = item.get("asin")
            if asin in self.seen or self.room() == 0:
                continue
            if asin:
                self.seen.add(asin)
            self.count += 1
            emitted += 1
            yield {**item, "__marketplace": self.client.marketplace}
        self.ctx.page_done(emitted)

    def report_errors(self, chunk: list[str], page: Page, what: str) -> int:
        """Log partial errors and list them per ASIN in ``ctx.stats.errors``; the number of
        ASINs of ``chunk`` answered, with an item or an error naming them."""
        returned = {item.get("asin") for item in page.items}
        explained: set[str] = set()
        for error in page.errors:
            code, message = error.get("code") or "Error", error.get("message") or ""
            asins = [asin for asin in chunk if asin in message]
            explained.update(asins)
            for asin in asins:
                self.note(f"ASIN {asin}: {code}", message)
            if not asins:
                self.note(f"{what}: {code}", message)
        unanswered = [asin for asin in chunk if asin not in returned and asin not in explained]
        for asin in unanswered:
            self.note(f"ASIN {asin}: not returned", "no item and no error for it")
        return len(chunk) - len(unanswered)

    def note(self, summary: str, detail: str) -> None:
        self.ctx.stats.errors.append(summary)
        self.ctx.log.warning("amazon: %s (%s)", summary, detail)


# --- options ---------------------------------------------------------------------------------


def check_plan(options: Mapping[str, Any]) -> tuple[str, list[str], list[Search]]:
    """The marketplace, ASINs and searches of ``[providers.amazon]``; at least one to fetch."""
    marketplace = check_country(options["country"])
    asins = check_asins(options["asins"])
    searches = check_searches(options["searches"])
    if not asins and not searches:
        raise ConfigError(
            "amazon: nothing to fetch; set asins and/or searches under [providers.amazon] "
            "in pipeline.toml (the Creators API cannot list a whole catalog)"
        )
    return marketplace, asins, searches


def check_country(country: Any) -> str:
    """The marketplace host of a country code, e.g. ``US`` -> ``www.amazon.com``."""
    code = str(country or "").strip().upper()
    if code not in MARKETPLACES:
        raise ConfigError(
            f"[providers.amazon] country: {country!r} is not one of {', '.join(MARKETPLACES)}"
        )
    return MARKETPLACES[code]


def check_asins(values: Any) -> list[str]:
    """ASINs (or product URLs) as upper-case ASINs, duplicates dropped, order kept."""
    if not isinstance(values, list):
        raise ConfigError("[providers.amazon] asins: expected a list of ASIN strings")
    from amazon_creatorsapi import get_asin  # the SDK: only when asins are checked
    from amazon_creatorsapi.errors import InvalidArgumentError

    asins = []
    for value in values:
        try:
            asins.append(get_asin(str(value).strip()))
        except InvalidArgumentError:
            raise ConfigError(f"[providers.amazon] asins: {value!r} is not an ASIN") from None
    return list(dict.fromkeys(asins))


def check_searches(values: Any) -> list[Search]:
    """The ``searches`` tables, each with keywords and 1..10 pages."""
    if not isinstance(values, list):
        raise ConfigError("[providers.amazon] searches: expected a list of tables")
    return [_check_search(n, value) for n, value in enumerate(values, start=1)]


def _check_search(number: int, value: Any) -> Search:
    where = f"[providers.amazon] searches #{number}"
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a table {{keywords=..., pages=...}}")
    unknown = set(value) - {"keywords", "search_index", "pages"}
    if unknown:
        raise ConfigError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    keywords = str(value.get("keywords") or "").strip()
    if not keywords:
        raise ConfigError(f"{where}: keywords is required")
    pages = value.get("pages", DEFAULT_SEARCH_PAGES)
    if not isinstance(pages, int) or isinstance(pages, bool) or not 1 <= pages <= MAX_SEARCH_PAGES:
        raise ConfigError(f"{where}: pages must be an integer from 1 to {MAX_SEARCH_PAGES}")
    return Search(keywords, value.get("search_index") or None, pages)
