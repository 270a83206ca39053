"""Incremental pulls: which products to ask for, and the watermark the next run starts from.

The watermark is the newest ``updatedAt`` among the products a run returned, kept in the
pipeline state (``ctx.next_state``, saved only when the run's data is committed). The next
run asks for ``updated_at:>='<watermark - lookback>'``: the lookback covers clock skew and
products saved while the last pull was running. Deletions never show up in such a pull, so
only a full pull (first run, ``--full-refresh``) without a user filter marks the catalog
complete, and the runner then writes a ``deleted`` row for every product that vanished.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from providers.base import FetchContext
from providers.shopify.options import FetchOptions
from providers.timestamps import parse_utc

PROVIDER = "shopify"
WATERMARK_KEY = "watermark"


@dataclass(frozen=True)
class PullPlan:
    """The search filter of this pull, and whether it returns the whole catalog."""

    search: str | None
    complete: bool
    since: datetime | None


def plan_pull(ctx: FetchContext, options: FetchOptions) -> PullPlan:
    """A full pull on the first run and with ``--full-refresh``; otherwise an incremental one."""
    user_query = options.query.strip()
    watermark = None if ctx.full_refresh else read_watermark(ctx.state)
    if watermark is None:
        reason = "--full-refresh" if ctx.full_refresh else "no watermark yet"
        ctx.log.info("%s: full pull (%s)", PROVIDER, reason)
        return PullPlan(user_query or None, complete=not user_query, since=None)
    since = watermark - timedelta(hours=options.lookback_hours)
    search = f"updated_at:>='{format_time(since)}'"
    if user_query:
        search = f"{search} AND ({user_query})"
    ctx.log.info(
        "%s: incremental pull of products updated since %s (watermark %s minus %d h lookback)",
        PROVIDER,
        format_time(since),
        format_time(watermark),
        options.lookback_hours,
    )
    return PullPlan(search, complete=False, since=since)


def read_watermark(state: Mapping[str, Any]) -> datetime | None:
    """The saved watermark, or None when there is none (or it cannot be read)."""
    return parse_utc(state.get(WATERMARK_KEY))


def format_time(moment: datetime) -> str:
    """``2026-10-03T08:15:00Z``: the form Shopify's search syntax and the state use."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Watermark:
    """Tracks the newest ``updatedAt`` seen, writing it to ``next_state`` as it moves.

    Starts from the previous watermark, so a pull that returns nothing keeps it.
    """

    def __init__(self, previous: datetime | None, next_state: MutableMapping[str, Any]) -> None:
        self.value = previous
        self.next_state = next_state
        if previous is not None:
            next_state[WATERMARK_KEY] = format_time(previous)

    def see(self, updated_at: Any) -> None:
        """Move the watermark forward to ``updated_at`` when it is newer."""
        moment = parse_utc(updated_at)
        if moment is not None and (self.value is None or moment > self.value):
            self.value = moment
            self.next_state[WATERMARK_KEY] = format_time(moment)
