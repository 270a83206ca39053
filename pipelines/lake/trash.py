"""The lake's ``_trash/``: where recovery puts files no manifest claims, for a while.

Recovery never deletes a data file outright: it moves it to
``_trash/<UTC time of the move>/<its lake-relative path>``, and each later recovery deletes
the trash folders older than ``pipeline.trash_retention_days``. ``repair`` looks there too
when a committed run's files are missing from their place.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime

from pipelines.lake.storage import Storage

TRASH_DIR = "_trash"
_STAMP = "%Y%m%dT%H%M%SZ"


def move_to_trash(storage: Storage, rels: Iterable[str], now: float | None = None) -> list[str]:
    """Move each of ``rels`` under one time-stamped trash folder; return the new paths."""
    stamp = datetime.fromtimestamp(time.time() if now is None else now, UTC).strftime(_STAMP)
    moved = []
    for rel in rels:
        target = f"{TRASH_DIR}/{stamp}/{rel}"
        storage.move(rel, target)
        moved.append(target)
    return moved


def purge_trash(storage: Storage, retention_days: float, now: float | None = None) -> list[str]:
    """Delete the trash folders older than ``retention_days``; return what was deleted."""
    cutoff = (time.time() if now is None else now) - retention_days * 86400
    expired = []
    for rel in storage.list_files(TRASH_DIR):
        stamp = rel.split("/", 2)[1]
        try:
            moved_at = datetime.strptime(stamp, _STAMP).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue  # not ours: left alone
        if moved_at < cutoff:
            expired.append(rel)
    storage.delete(expired)
    return expired


def trashed_files(storage: Storage) -> dict[str, str]:
    """Lake-relative path -> where its newest trashed copy is."""
    found: dict[str, str] = {}
    for rel in storage.list_files(TRASH_DIR):
        parts = rel.split("/", 2)
        if len(parts) == 3:
            found[parts[2]] = rel  # sorted listing: a later stamp wins
    return found
