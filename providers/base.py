"""The provider contract and the paging helpers (discovery lives in ``providers.registry``).

A provider declares facts (its name, the environment settings and the
`pipeline.toml` options it reads) and two behaviours:

* ``fetch(ctx)`` yields raw records, each the JSON object exactly as the API
  returned it. When a record needs context from elsewhere in the response to
  stand alone (the shop's currency, the marketplace asked for), the provider
  adds it under a key starting with ``__``, as Shopify's bulk JSONL does with
  ``__parentId``. A file of such records is all ``--replay`` needs.
* ``normalize(raw)`` is pure: one raw record in, canonical rows out.

The shared HTTP layer (``ctx.http``) does timeouts, retries, caching and call
counting, so a provider only says what to ask for and where the records sit.
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
from pipelines.net.stats import ProviderStats

if TYPE_CHECKING:
    from pipelines.net.cache import ResponseCache
    from pipelines.net.http import HttpClient


@dataclass(frozen=True)
class Setting:
    """An environment variable a provider reads (secrets live only here)."""

    env: str
    description: str
    secret: bool = False
    required: bool = True
    default: str | None = None


@dataclass(frozen=True)
class Option:
    """A non-secret `pipeline.toml` option under ``[providers.<name>]``."""

    name: str
    type: type
    default: Any
    description: str


@dataclass(frozen=True)
class ProbeResult:
    """What ``probe`` learned: a one-line ``detail``, and ``facts`` printed one per line."""

    detail: str
    facts: tuple[str, ...] = ()


@dataclass
class FetchContext:
    """Everything ``fetch`` may use; built by the runner for one provider and run.

    ``state`` is what this provider saved in ``next_state`` during its last
    committed run (a watermark, say); ``next_state`` is saved only when this
    run's data is committed, so a failed run never moves a watermark.
    """

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
    offline: bool = False  # replaying recorded exchanges (--offline): no live API behind them

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

    @abstractmethod
    def fetch(self, ctx: FetchContext) -> Iterator[dict[str, Any]]:
        """Yield raw records, exactly as the API returned them (plus ``__`` context keys)."""

    @abstractmethod
    def normalize(self, raw: dict[str, Any]) -> list[dict[str, Any]]:
        """Map one raw record to canonical rows (business columns only, no I/O).

        Raise ``SkippableRecordError`` naming the field when the record cannot be mapped.
        """

    def probe(self, ctx: FetchContext) -> str | ProbeResult:
        """One cheap authenticated call for ``doctor``; returns what it learned ("shop X, CAD").

        Raises a ``ProviderError`` (with ``status`` when there was a response) on failure;
        warnings it finds go to ``ctx.stats.warnings``.
        """
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
    """Follows a cursor (Shopify ``pageInfo.endCursor``); refuses a cursor seen before."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.cursor: str | None = None
        self.has_more = True
        self._seen: set[str] = set()

    def update(self, has_next_page: bool, end_cursor: str | None) -> None:
        """Record what the last page said about the next one."""
        if has_next_page and not end_cursor:
            raise FatalProviderError(f"{self.what}: hasNextPage is true but endCursor is empty")
        if has_next_page and end_cursor in self._seen:
            raise FatalProviderError(f"{self.what}: loop detected in pagination (cursor repeated)")
        self.has_more = bool(has_next_page)
        self.cursor = end_cursor if has_next_page else None
        if end_cursor:
            self._seen.add(end_cursor)


class OffsetPaginator:
    """Walks ``offset``/``limit`` pages up to ``total`` or a hard ``max_results`` cap."""

    def __init__(self, what: str, page_size: int, max_results: int | None = None) -> None:
        self.what = what
        self.page_size = page_size
        self.max_results = max_results
        self.offset = 0
        self.has_more = True

    def update(self, returned: int, total: int | None) -> None:
        """Advance past a page of ``returned`` records out of ``total``."""
        if returned < 0:
            raise FatalProviderError(f"{self.what}: negative page size")
        self.offset += self.page_size
        reached_end = returned < self.page_size or (total is not None and self.offset >= total)
        capped = self.max_results is not None and self.offset >= self.max_results
        self.has_more = not (reached_end or capped)
