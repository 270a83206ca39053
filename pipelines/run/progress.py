"""Progress of long fetches: a live rich display on a terminal, periodic log lines otherwise.

On a terminal every provider still fetching has a line (spinner, pages, records, time) in one
live display on stderr; it redirects stderr while it runs, so log lines print above it instead
of garbling it, and it leaves nothing behind when the last provider is done. Off a terminal
(a log file, CI, a pipe) nothing is drawn: one log line every ``LOG_EVERY_SECONDS``. Nothing
ever goes to stdout.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")
LOG_EVERY_SECONDS = 10.0
log = logging.getLogger("pipeline.progress")


class _Board:
    """The process's one live display: a task per provider still fetching (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._display: Any = None
        self._tasks = 0

    def add(self, provider: str) -> int:
        from rich.console import Console
        from rich.markup import escape
        from rich.progress import Progress as Display
        from rich.progress import SpinnerColumn, TextColumn, TimeElapsedColumn

        with self._lock:
            if self._display is None:
                self._display = Display(
                    SpinnerColumn(), TextColumn("{task.description}"),
                    TextColumn("{task.fields[counts]}", markup=False), TimeElapsedColumn(),
                    console=Console(stderr=True), transient=True, redirect_stdout=False,
                )  # fmt: skip
                self._display.start()
            self._tasks += 1
            return self._display.add_task(escape(provider), total=None, counts="starting")

    def update(self, task: int, counts: str) -> None:
        self._display.update(task, counts=counts)

    def remove(self, task: int) -> None:
        with self._lock:
            self._display.remove_task(task)
            self._tasks -= 1
            if not self._tasks:
                self._display.stop()
                self._display = None


BOARD = _Board()


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
        self._task = BOARD.add(provider) if self.interactive else None
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
        counts = f"{self.pages} pages, {self.records} {self.noun}"
        if self._task is not None:
            BOARD.update(self._task, counts)
            return
        now = time.monotonic()
        if now - self._last_report >= LOG_EVERY_SECONDS:
            log.info("%s: %s", self.provider, counts)
            self._last_report = now

    def done(self) -> None:
        """Take the provider's line off the display and log the totals."""
        if self._task is not None:
            BOARD.remove(self._task)
            self._task = None
        elapsed = time.monotonic() - self._started
        log.info(
            "%s: %d pages, %d %s in %.1fs",
            self.provider,
            self.pages,
            self.records,
            self.noun,
            elapsed,
        )
