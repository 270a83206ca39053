"""API calls spent per provider and UTC day, kept in the lake so that every run and shard
writing to it counts against the same daily budget.

Each run writes only its own file, ``_budget/<YYYY-MM-DD>/<run id>.json`` (``{provider:
calls}``), so concurrent shards never overwrite each other; a day's usage is the sum of its
files. Two shards starting at the same moment each see the other's calls only once written
(after each provider's extract), so the daily limit can be passed by at most what one
provider's extract spends in each concurrent shard.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pipelines.lake.storage import Storage

USAGE_DIR = "_budget"


def utc_day(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%d")


def _read(storage: Storage, rel: str) -> dict[str, int]:
    try:
        data: Any = json.loads(storage.read_bytes(rel) or b"{}")
    except ValueError:
        return {}  # a torn file counts as nothing rather than stopping every run
    if not isinstance(data, dict):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, int) and not isinstance(v, bool)}


def read_usage(storage: Storage, day: str, exclude_run: str | None = None) -> dict[str, int]:
    """Calls per provider spent on ``day`` by every run (but ``exclude_run``)."""
    total: dict[str, int] = {}
    for rel in storage.list_files(f"{USAGE_DIR}/{day}"):
        if not rel.endswith(".json") or rel.rsplit("/", 1)[-1] == f"{exclude_run}.json":
            continue
        for provider, calls in _read(storage, rel).items():
            total[provider] = total.get(provider, 0) + calls
    return total


def add_usage(storage: Storage, day: str, run_id: str, provider: str, calls: int) -> None:
    """Add ``calls`` to what run ``run_id`` spent on ``day`` for ``provider``."""
    if calls <= 0:
        return
    rel = f"{USAGE_DIR}/{day}/{run_id}.json"
    usage = _read(storage, rel)
    usage[provider] = usage.get(provider, 0) + calls
    storage.write_bytes(rel, json.dumps(usage, sort_keys=True).encode())
