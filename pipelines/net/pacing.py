"""Pacing calls to a vendor's published rate limit: a token bucket per operation.

Some APIs publish a rate (requests a second) and a burst per operation and refuse anything
beyond with 429 (Amazon's Selling Partner API: getOrders one request a minute after a burst
of 20). A ``RatePacer`` holds ``burst`` tokens that refill at ``rate`` a second; ``wait``
takes one, sleeping first until one is there, so a run stays within the limit instead of
collecting 429s. ``observe`` lowers the rate to the one the server states (a rate-limit
header), and ``drain`` empties the bucket after a 429, so the next call waits a full period.
Waits are counted as throttle waits in the provider's stats.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from pipelines.net.stats import ProviderStats


class RatePacer:
    """A token bucket of ``burst`` tokens refilled at ``rate`` a second."""

    def __init__(
        self,
        rate: float,
        burst: int,
        stats: ProviderStats,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"rate {rate} and burst {burst} must be positive")
        self.rate = rate
        self.burst = burst
        self.stats = stats
        self.clock = clock
        self.sleep = sleep
        self.tokens = float(burst)
        self.at = clock()

    def _refill(self) -> None:
        now = self.clock()
        self.tokens = min(float(self.burst), self.tokens + (now - self.at) * self.rate)
        self.at = now

    def wait(self) -> float:
        """Take one token, sleeping until there is one; the seconds slept."""
        self._refill()
        delay = 0.0
        if self.tokens < 1:
            delay = (1 - self.tokens) / self.rate
            self.stats.throttle_waits += 1
            self.stats.throttle_wait_seconds += delay
            self.sleep(delay)
            self._refill()
            self.tokens = max(self.tokens, 1.0)  # a sleep that did not advance the clock
        self.tokens -= 1
        return delay

    def observe(self, stated: str | None) -> None:
        """Lower the rate to ``stated`` (requests a second, as a header gives it); ignores
        an absent, broken or higher value (the bucket never paces faster than documented)."""
        try:
            rate = float(stated or "")
        except ValueError:
            return
        if 0 < rate < self.rate:
            self.rate = rate

    def drain(self) -> None:
        """Empty the bucket (the server refused a call): the next call waits a full period."""
        self._refill()
        self.tokens = 0.0
