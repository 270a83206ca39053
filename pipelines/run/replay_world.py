"""Which lake a raw record belongs to, and the order raw files landed in (every replay).

Records an ``--offline`` run lands carry ``"__demo": true`` (``DEMO_MARKER``): a replay into the
real lake refuses them, and a replay into the demo lake (``--replay … --offline``) refuses
records without it. Raw files landed before the marker existed are recognised by their place,
a ``demo/raw/`` folder. Raw files are replayed oldest landed first (``landing_order``). The
products replay (``replay.py``) and the replay of other datasets (``dataset_replay.py``) both
read their files this way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

from pipelines.errors import ConfigError
from pipelines.lake.lake import read_raw

DEMO_MARKER = "__demo"
_RUN_ID = re.compile(r"(\d{8}T\d{6}Z)-[0-9a-f]{6}")


def mark_demo(record: dict[str, Any]) -> dict[str, Any]:
    """The record as an offline run lands it."""
    return {**record, DEMO_MARKER: True}


def landing_order(files: Iterable[Path]) -> list[Path]:
    """Oldest landed first: by the time in the run id of the file name (else the file's
    modification time), then by modification time (two runs of the same second)."""

    def landed(path: Path) -> tuple[float, float, str]:
        modified = path.stat().st_mtime
        match = _RUN_ID.search(path.name)
        if match:
            when = datetime.strptime(match[1], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
            return when.timestamp(), modified, str(path)
        return modified, modified, str(path)

    return sorted(files, key=landed)


def demo_place(path: Path) -> bool:
    """Whether ``path`` sits in a ``demo/raw/`` folder (a demo file landed before the marker)."""
    parts = path.resolve().parts
    return any(a == "demo" and b == "raw" for a, b in pairwise(parts))


def check_world(
    record: dict[str, Any], path: Path, demo: bool, in_demo_place: bool | None = None
) -> None:
    """Refuse a demo record in a replay into the real lake, and the reverse.

    ``in_demo_place`` is ``path``'s place when the caller already knows it (resolving a path
    is a dozen system calls: once per file, not once per record).
    """
    place = demo_place(path) if in_demo_place is None else in_demo_place
    check_marked(bool(record.get(DEMO_MARKER)) if isinstance(record, dict) else False,
                 path, demo, place)  # fmt: skip


def check_marked(marked: bool, path: Path, demo: bool, place: bool) -> None:
    """``check_world`` given whether the record carries ``DEMO_MARKER``."""
    is_demo = marked or place
    if is_demo and not demo:
        raise ConfigError(
            f"--replay: {path} holds demo records (landed by --offline); they never go into "
            "the real lake: replay them with --offline, into the demo lake"
        )
    if demo and not is_demo:
        raise ConfigError(
            f"--replay: {path} holds real records; the demo lake (--offline) takes only demo "
            "records: replay them without --offline"
        )


def check_replay_files(files: Iterable[Path], demo: bool) -> None:
    """Before any work: the first record of every file belongs to the lake replayed into."""
    for path in files:
        first = next(iter(read_raw(path)), None)
        if first is not None:
            check_world(first, path, demo)
