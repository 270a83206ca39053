"""Pacing by Shopify's cost bucket, so that calls wait before the bucket runs dry.

Every GraphQL answer carries ``extensions.cost.throttleStatus`` {maximumAvailable,
currentlyAvailable, restoreRate}: a leaky bucket that refills ``restoreRate`` points a second.
A query runs only when the bucket holds its *requested* cost (the unused part is refunded
afterwards), so before each call the pacer estimates the bucket from the last reading and
sleeps just long enough for it to hold the next query's requested cost
(https://shopify.dev/docs/api/usage/limits#rate-limits). A THROTTLED answer, which should
then be rare, is waited out the same way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from providers.base import ProviderStats
from providers.shopify.settings import MAX_THROTTLE_WAIT_SECONDS, THROTTLE_FALLBACK_SECONDS

PROVIDER = "shopify"


@dataclass(frozen=True)
class BucketReading:
    """One ``throttleStatus``, and when it was received (``time.monotonic``)."""

    available: float
    maximum: float
    restore_rate: float
    at: float

    def available_at(self, now: float) -> float:
        """The bucket's level at ``now``, had no other call spent from it since the reading."""
        return min(self.maximum, self.available + self.restore_rate * max(0.0, now - self.at))


def read_bucket(payload: Mapping[str, Any], now: float) -> BucketReading | None:
    """The ``throttleStatus`` of a GraphQL answer, or None when it has none (or a broken one)."""
    extensions = payload.get("extensions")
    cost = extensions.get("cost") if isinstance(extensions, dict) else None
    status = cost.get("throttleStatus") if isinstance(cost, dict) else None
    if not isinstance(status, dict):
        return None
    try:
        reading = BucketReading(
            available=float(status["currentlyAvailable"]),
            maximum=float(status["maximumAvailable"]),
            restore_rate=float(status["restoreRate"]),
            at=now,
        )
    except (KeyError, TypeError, ValueError):
        return None
    return reading if reading.restore_rate > 0 else None


def actual_cost(payload: Mapping[str, Any], requested: int) -> int:
    """The ``actualQueryCost`` an answer reports, else (absent or broken) the ``requested``."""
    extensions = payload.get("extensions")
    cost = extensions.get("cost") if isinstance(extensions, dict) else None
    actual = cost.get("actualQueryCost") if isinstance(cost, dict) else None
    if isinstance(actual, int | float) and not isinstance(actual, bool) and actual >= 0:
        return round(actual)
    return requested


class CostPacer:
    """Sleeps before calls that the bucket cannot pay for yet; counts and logs every wait."""

    def __init__(
        self,
        stats: ProviderStats,
        log: logging.Logger | logging.LoggerAdapter,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.stats = stats
        self.log = log
        self.clock = clock
        self.sleep = sleep
        self.reading: BucketReading | None = None

    def observe(self, payload: Mapping[str, Any]) -> None:
        """Remember the bucket a live answer reports (cached answers must not be observed)."""
        reading = read_bucket(payload, self.clock())
        if reading is not None:
            self.reading = reading

    def wait_for(self, cost: int, what: str) -> float:
        """Sleep until the bucket should hold ``cost`` points; return the seconds slept.

        A cost above the bucket's size waits for a full bucket and lets Shopify decide.
        """
        reading = self.reading
        if reading is None:
            return 0.0
        needed = min(float(cost), reading.maximum)
        expected = reading.available_at(self.clock())
        if expected >= needed:
            return 0.0
        seconds = (needed - expected) / reading.restore_rate
        self._wait(
            seconds,
            "%s: waiting %.3f s before %s for Shopify's cost bucket (about %.0f of %.0f points, "
            "the query needs %d, restoring %g/s)",
            PROVIDER,
            seconds,
            what,
            expected,
            reading.maximum,
            cost,
            reading.restore_rate,
        )
        return seconds

    def wait_after_throttled(
        self,
        payload: Mapping[str, Any],
        cost: int,
        what: str,
        attempt: int,
        retry_after: float | None = None,
    ) -> None:
        """Wait out a throttled answer: by ``Retry-After``, else by the bucket it reports,
        else by a fallback that doubles with each ``attempt``."""
        self.observe(payload)
        if retry_after is None and self.wait_for(cost, what) > 0:
            return
        fallback = THROTTLE_FALLBACK_SECONDS * 2**attempt
        seconds = min(fallback if retry_after is None else retry_after, MAX_THROTTLE_WAIT_SECONDS)
        self._wait(
            seconds,
            "%s: %s was throttled (%s); waiting %.3f s",
            PROVIDER,
            what,
            "Retry-After" if retry_after is not None else "no usable bucket status",
            seconds,
        )

    def _wait(self, seconds: float, message: str, *args: Any) -> None:
        self.log.info(message, *args)
        self.stats.throttle_waits += 1
        self.stats.throttle_wait_seconds += seconds
        self.sleep(seconds)
