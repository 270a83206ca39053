"""Progress of long fetches: a live line on a terminal, periodic log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")
LOG_EVERY_SECONDS = 10.0
log = logging.getLogger("pipeline.progress")


class Progress:
    """Counts pages and records of one provider and reports them."""

    def __init__(
        self, provider: str, *, interactive: bool | None = None, noun: str = "records"
    ) -> None:
        self.provider = provider
        self.noun = noun  # what one raw record is (Shopify: a product, its variants inside)
        self.pages = 0
        self.records = 0
        self.interactive = sys.stderr.isatty() if interactive is None else interactive
        self._started = time.monotonic()
        self._last_report = self._started

    def page(self, records: int) -> None:
        """One more page of ``records`` records arrived."""
        self.pages += 1
        log.debug("%s: page %d, %d %s", self.provider, self.pages, records, self.noun)
        self._report()

    def count(self, records: Iterable[T]) -> Iterator[T]:
        """Pass ``records`` through, counting them."""
        for record in records:
            self.records += 1
            if self.records % 1000 == 0:
                self._report()
            yield record

    def _report(self) -> None:
        now = time.monotonic()
        line = f"{self.provider}: {self.pages} pages, {self.records} {self.noun}"
        if self.interactive:
            sys.stderr.write(f"\r{line} ({now - self._started:.0f}s)\x1b[K")
            sys.stderr.flush()
        elif now - self._last_report >= LOG_EVERY_SECONDS:
            log.info("%s", line)
            self._last_report = now

    def done(self) -> None:
        """Finish the live line and log the totals."""
        if self.interactive:
            sys.stderr.write("\r\x1b[K")
        elapsed = time.monotonic() - self._started
        log.info(
            "%s: %d pages, %d %s in %.1fs",
            self.provider,
            self.pages,
            self.records,
            self.noun,
            elapsed,
        )
