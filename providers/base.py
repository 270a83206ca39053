"""The provider contract and the paging helpers (discovery lives in ``providers.registry``).

A provider declares facts (its name, the environment settings and the `pipeline.toml` options
it reads) and two behaviours:

* ``fetch(ctx)`` yields raw records, each the JSON object exactly as the API returned it. When
  a record needs context from elsewhere in the response to stand alone (the shop's currency, the
  marketplace asked for), the provider adds it under a key starting with ``__``, as Shopify's
  bulk JSONL does with ``__parentId``. A file of such records is all ``--replay`` needs.
* ``normalize(raw)`` is pure: one raw record in, canonical rows out.

A provider may add ``normalize_batch(raws)``: a block of raw records in, an Arrow table of
canonical rows out, computed column by column (``NormalizedBlock``). ``normalize`` stays the
reference: what the batch form does not map is left to it, record by record. ``raw_keys(raw)``
names the ids a record gives without normalizing it (a replay's cheap first look). Optional too,
``raw_table()`` (``providers.batch.RawTable``): landed lines read straight into Arrow, no dicts.
The shared HTTP layer (``ctx.http``) does timeouts, retries, caching and call counting.
"""

from __future__ import annotations

import inspect
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from pipelines.errors import FatalProviderError
from pipelines.net.budget import BudgetUnit
from pipelines.net.stats import ProviderStats

if TYPE_CHECKING:
    from pipelines.net.cache import ResponseCache
    from pipelines.net.http import HttpClient
    from providers.batch import NormalizedBlock


@dataclass(frozen=True)
class Setting:
    """An environment variable a provider reads (secrets live only here)."""

    env: str
    description: str
    secret: bool = False
    required: bool = True
    default: str | None = None
    datasets: tuple[str, ...] = ()  # the datasets that need it (empty: all the provider's)


@dataclass(frozen=True)
class Option:
    """A non-secret `pipeline.toml` option under ``[providers.<name>]`` (or ``[pipeline]``).

    The declaration is the whole rule: ``pipelines.config`` builds the section's validating
    model from it and ``pipelines.cli.docs`` the settings tables. ``choices``: the allowed
    values; ``minimum``/``maximum``: inclusive bounds of a number (numbers are never negative
    unless ``minimum`` says so); ``above``: an exclusive lower bound; ``item``: a pydantic
    model every element of a ``list`` option must fit (a table of known keys).
    """

    name: str
    type: type
    default: Any
    description: str
    choices: tuple[Any, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None
    item: type | None = None

    def allowed(self) -> str:
        """The allowed values in words, for errors and the settings tables ("" for any)."""
        if self.choices:
            return "one of " + ", ".join(str(c) for c in self.choices)
        if self.above is not None:
            return f"more than {self.above:g}" + (
                f", at most {self.maximum:g}" if self.maximum is not None else ""
            )
        low = self.minimum if self.minimum is not None else 0
        if self.maximum is not None:
            return f"from {low:g} to {self.maximum:g}"
        if self.type in (int, float) and self.minimum is not None:
            return f"{low:g} or more"
        return ""


@dataclass(frozen=True)
class SourceCount:
    """What the source says it holds against what this fetch read, for one kind of object.

    ``expected`` is what the fetch could read: the ``source`` count, or less when an API cap
    (eBay's 10,000 results) or a configured maximum stops it first (``note`` then says so).
    The fetch is short (or long) when ``read`` differs from ``expected`` by more than
    ``tolerance``; a ``source`` that is only a lower bound (``at_least``) fails only short.
    """

    what: str
    source: int
    read: int
    expected: int
    tolerance: int = 0
    at_least: bool = False
    note: str | None = None

    def problem(self) -> str | None:
        """``"products: the source holds 12, 9 read"`` when the counts disagree, else None."""
        missing = self.expected - self.read
        if missing <= self.tolerance and (self.at_least or -missing <= self.tolerance):
            return None
        held = f"at least {self.source}" if self.at_least else str(self.source)
        limit = f", {self.expected} readable" if self.expected != self.source else ""
        notes = [f"tolerance {self.tolerance}"] if self.tolerance else []
        if self.note:
            notes.append(self.note)
        extra = f" ({'; '.join(notes)})" if notes else ""
        return f"{self.what}: the source holds {held}{limit}, {self.read} read{extra}"

    def as_dict(self) -> dict[str, Any]:
        """The run log's form."""
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass(frozen=True)
class PagingLimits:
    """Where a paged listing stops with an error instead of paging on (``[pipeline]``).

    ``max_pages`` 0: no cap. ``max_empty_pages``: empty pages in a row that still point to a
    next one (a cursor that changes on every empty page never repeats, so only this stops it).
    """

    max_pages: int = 10000
    max_empty_pages: int = 3


@dataclass(frozen=True)
class ProbeResult:
    """What ``probe`` learned: a one-line ``detail``, and ``facts`` printed one per line."""

    detail: str
    facts: tuple[str, ...] = ()


@dataclass
class FetchContext:
    """Everything ``fetch`` may use; built by the runner for one provider and run.

    ``state`` is what this provider saved in ``next_state`` during its last committed run (a
    watermark, say); ``next_state`` is saved only when this run's data is committed, so a
    failed run never moves a watermark. ``scrub(record, connection)``, set for a dataset holding
    buyer data (``pipelines/net/pii.py``), is applied by the runner to what ``fetch`` yields and
    by a provider to records it writes to disk first (a spooled bulk result)."""

    settings: Mapping[str, str]
    options: Mapping[str, Any]
    http: HttpClient
    stats: ProviderStats
    log: logging.Logger | logging.LoggerAdapter
    limit: int | None = None
    cache: ResponseCache | None = None
    on_page: Callable[[int], None] = lambda records: None
    full_refresh: bool = False
    state: Mapping[str, Any] = field(default_factory=dict)
    next_state: dict[str, Any] = field(default_factory=dict)
    complete: bool = False
    counts: list[SourceCount] = field(default_factory=list)
    paging: PagingLimits = field(default_factory=PagingLimits)
    offline: bool = False  # replaying recorded exchanges (--offline): no live API behind them
    datasets: tuple[str, ...] = ("products",)  # what the run (or doctor) asks of the provider
    scrub: Callable[[dict[str, Any], str | None], dict[str, Any]] | None = None

    def expect(
        self,
        what: str,
        *,
        source_count: int,
        read: int,
        expected: int | None = None,
        tolerance: int = 0,
        at_least: bool = False,
        note: str | None = None,
    ) -> SourceCount:
        """Record what the source says it holds (``source_count``) and what was ``read``.

        Called once a pull has run to the end, for the counts a ``--limit`` does not cut.
        The runner compares every count after the fetch and fails the provider, moving no
        watermark and writing no deletion, when one disagrees beyond its tolerance
        (``SourceCount.problem``).
        """
        count = SourceCount(
            what,
            source_count,
            read,
            source_count if expected is None else expected,
            tolerance,
            at_least,
            note,
        )
        self.counts.append(count)
        if note:
            self.log.warning("%s (%s)", what, note)
        return count

    def count_problems(self) -> list[str]:
        """The recorded counts that disagree, each naming both numbers."""
        return [problem for count in self.counts if (problem := count.problem()) is not None]

    def mark_complete(self) -> None:
        """Say this fetch returned the provider's whole catalog (not a filtered or limited pull).

        The runner then writes a ``change_type=deleted`` row for every product it
        held that this fetch did not return.
        """
        self.complete = True

    def page_done(self, records: int) -> None:
        """Count one fetched page of ``records`` records and report progress."""
        self.stats.pages += 1
        self.on_page(records)


class Provider(ABC):
    """One data source. Subclasses set the class attributes and the two methods."""

    name: ClassVar[str]
    title: ClassVar[str]
    settings: ClassVar[tuple[Setting, ...]] = ()
    options: ClassVar[tuple[Option, ...]] = ()
    # What one raw record and one canonical row are, for logs and the run summary.
    record_noun: ClassVar[str] = "records"
    row_noun: ClassVar[str] = "rows"
    # API calls per UTC day the vendor allows by default ([budget] overrides it); 0: no quota.
    daily_budget: ClassVar[int] = 0
    # What the daily budget counts: API calls, or (Shopify) the query cost points answers report.
    budget_unit: ClassVar[BudgetUnit] = "calls"
    # The datasets it offers (pipelines/lake/datasets.py); products through fetch/normalize.
    datasets: ClassVar[tuple[str, ...]] = ("products",)

    @abstractmethod
    def fetch(self, ctx: FetchContext) -> Iterator[dict[str, Any]]:
        """Yield raw records, exactly as the API returned them (plus ``__`` context keys)."""

    @abstractmethod
    def normalize(self, raw: dict[str, Any]) -> list[dict[str, Any]]:
        """Map one raw record to canonical rows (business columns only, no I/O).

        Raise ``SkippableRecordError`` naming the field when the record cannot be mapped.
        """

    def fetch_dataset(self, dataset: str, ctx: FetchContext) -> Iterator[dict[str, Any]]:
        """Raw records of ``dataset`` (one of ``datasets``); products are ``fetch``'s."""
        if dataset == "products":
            return self.fetch(ctx)
        raise FatalProviderError(f"{self.name} does not offer the {dataset} dataset")

    def normalize_dataset(self, dataset: str, raw: dict[str, Any]) -> dict[str, list[dict]]:
        """One raw record of ``dataset`` to rows per table (``{"orders": [...], ...}``)."""
        if dataset == "products":
            return {"products": self.normalize(raw)}
        raise FatalProviderError(f"{self.name} does not offer the {dataset} dataset")

    def normalize_batch(self, raws: list[dict[str, Any]]) -> NormalizedBlock:
        """Canonical rows of a block of raw records, column by column (``NormalizedBlock``).

        The default maps nothing itself: every record goes to ``normalize``, one by one, so a
        provider written per record works unchanged. A batch form must give exactly the rows
        ``normalize`` gives for the records it maps.
        """
        from providers.batch import NormalizedBlock  # pyarrow: not imported by --help

        return NormalizedBlock(None, list(range(len(raws))))

    def raw_keys(self, raw: dict[str, Any]) -> list[str] | None:
        """The ``source_id`` of every row ``normalize(raw)`` gives, read without normalizing.

        Exact for every record ``normalize`` maps; for one it refuses, any list (a replay
        uses the keys only to see that no two records share an id). None: this provider
        cannot tell cheaply (the default), and a replay normalizes to learn the ids.
        """
        return None

    def probe(self, ctx: FetchContext) -> str | ProbeResult:
        """One cheap authenticated call for ``doctor``; returns what it learned ("shop X, CAD").

        Raises a ``ProviderError`` (with ``status`` when there was a response) on failure;
        warnings it finds go to ``ctx.stats.warnings``."""
        raise NotImplementedError(f"{self.name} has no doctor check")

    def check_environment(self, env: Mapping[str, str]) -> list[str]:
        """Return problems with the environment beyond missing settings (e.g. retired names)."""
        return []

    def conflicting_settings(self, env: Mapping[str, str]) -> list[str]:
        """Settings that exclude each other: a usage error (exit 2) before a run starts."""
        return []

    def is_configured(self, env: Mapping[str, str]) -> bool:
        """True when every required setting without a default is present."""
        return not self.missing_settings(env)

    def missing_settings(self, env: Mapping[str, str]) -> list[str]:
        """Names of the required settings absent from ``env``."""
        return [
            s.env for s in self.settings if s.required and s.default is None and not env.get(s.env)
        ]

    def resolve_settings(self, env: Mapping[str, str]) -> dict[str, str]:
        """This provider's settings from ``env``, defaults filled in."""
        values = {}
        for setting in self.settings:
            value = env.get(setting.env) or setting.default
            if value is not None:
                values[setting.env] = value
        return values

    @classmethod
    def recording_path(cls) -> Path:
        """Recorded exchanges that ``--offline`` replays: ``offline/recording.json``."""
        return Path(inspect.getfile(cls)).parent / "offline" / "recording.json"


# --- paging helpers --------------------------------------------------------------------------


class CursorPaginator:
    """Follows a cursor (Shopify ``pageInfo.endCursor``); refuses a cursor seen before, a run
    of empty pages and a page past the cap (``limits``)."""

    def __init__(self, what: str, limits: PagingLimits | None = None) -> None:
        self.what = what
        self.limits = limits or PagingLimits()
        self.cursor: str | None = None
        self.has_more = True
        self.pages = 0
        self.empty_in_a_row = 0
        self._seen: set[str] = set()

    def update(self, has_next_page: bool, end_cursor: str | None, records: int = -1) -> None:
        """Record what the last page (of ``records`` records, -1: not said) said of the next."""
        if has_next_page and not end_cursor:
            raise FatalProviderError(f"{self.what}: hasNextPage is true but endCursor is empty")
        if has_next_page and end_cursor in self._seen:
            raise FatalProviderError(f"{self.what}: loop detected in pagination (cursor repeated)")
        self.pages += 1
        self.empty_in_a_row = self.empty_in_a_row + 1 if records == 0 else 0
        if has_next_page:
            self._check_limits()
        self.has_more = bool(has_next_page)
        self.cursor = end_cursor if has_next_page else None
        if end_cursor:
            self._seen.add(end_cursor)

    def _check_limits(self) -> None:
        limits = self.limits
        if 0 < limits.max_empty_pages <= self.empty_in_a_row:
            raise FatalProviderError(
                f"{self.what}: {self.empty_in_a_row} empty pages in a row, each pointing to "
                f"another (pipeline.max_empty_pages = {limits.max_empty_pages}); stopped"
            )
        if 0 < limits.max_pages <= self.pages:
            raise FatalProviderError(
                f"{self.what}: more pages after {self.pages} (pipeline.max_pages = "
                f"{limits.max_pages}); stopped"
            )


class OffsetPaginator:
    """Walks ``offset``/``limit`` pages up to ``total`` or a hard ``max_results`` cap; a page
    past ``limits.max_pages`` is an error (an empty page ends the walk by itself)."""

    def __init__(
        self,
        what: str,
        page_size: int,
        max_results: int | None = None,
        limits: PagingLimits | None = None,
    ) -> None:
        self.what = what
        self.page_size = page_size
        self.max_results = max_results
        self.max_pages = (limits or PagingLimits()).max_pages
        self.offset = 0
        self.pages = 0
        self.has_more = True

    def update(self, returned: int, total: int | None) -> None:
        """Advance past a page of ``returned`` records out of ``total``."""
        if returned < 0:
            raise FatalProviderError(f"{self.what}: negative page size")
        self.offset += self.page_size
        reached_end = returned < self.page_size or (total is not None and self.offset >= total)
        capped = self.max_results is not None and self.offset >= self.max_results
        self.has_more = not (reached_end or capped)
        self.pages += 1
        if self.has_more and 0 < self.max_pages <= self.pages:
            raise FatalProviderError(
                f"{self.what}: more pages after {self.pages} (pipeline.max_pages = "
                f"{self.max_pages}); stopped"
            )
