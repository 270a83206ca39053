"""What a ``--replay`` run feeds to normalize: one version of each product, from one world.

A replay folder may hold the raw files of many runs (``raw/`` of a lake, everything ever
landed). The files are read in landing order (the run id in their names, else their
modification time), and for each ``source_id`` only the record landed last is kept, so an
identical record landed twice is one record and a product that changed between runs comes
back once, as it was last seen: replaying everything rebuilds the lake's current rows.

Records an ``--offline`` run lands carry ``"__demo": true`` (``DEMO_MARKER``): a replay into the
real lake refuses them, and a replay into the demo lake (``--replay … --offline``) refuses
records without it. Raw files landed before the marker existed are recognised by their place,
a ``demo/raw/`` folder.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from pipelines.errors import ConfigError
from pipelines.lake.lake import read_raw
from providers.base import Provider

DEMO_MARKER = "__demo"
_RUN_ID = re.compile(r"(\d{8}T\d{6}Z)-[0-9a-f]{6}")
_CHUNK = 65_536  # ids gathered in Python before they go to Arrow


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


def _demo_place(path: Path) -> bool:
    parts = path.resolve().parts
    return any(a == "demo" and b == "raw" for a, b in pairwise(parts))


def check_world(
    record: dict[str, Any], path: Path, demo: bool, in_demo_place: bool | None = None
) -> None:
    """Refuse a demo record in a replay into the real lake, and the reverse.

    ``in_demo_place`` is ``path``'s place when the caller already knows it (resolving a path
    is a dozen system calls: once per file, not once per record).
    """
    place = _demo_place(path) if in_demo_place is None else in_demo_place
    is_demo = bool(record.get(DEMO_MARKER)) or place
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


def replay_records(provider: Provider, files: Iterable[Path], demo: bool) -> Iterator[dict]:
    """The records to re-normalize: per ``source_id``, the one landed last (see the module).

    Two passes over the files: the first normalizes each record only to learn which ids it
    holds, the second yields the records that are the latest for any of them (a record that
    cannot be normalized is yielded too, so normalize counts it as dropped, once).
    """
    ordered = landing_order(files)
    keep = _kept_positions(provider, ordered, demo)
    wanted, position = 0, 0
    for path in ordered:
        for record in read_raw(path):
            if wanted < len(keep) and keep[wanted] == position:
                wanted += 1
                yield record
            position += 1


def _kept_positions(provider: Provider, ordered: list[Path], demo: bool) -> np.ndarray:
    """Sorted positions (records counted across ``ordered``) of the records to keep.

    The ids and positions are gathered into Arrow arrays and the last position of every id
    taken by a hash aggregation, so memory holds no Python object per id or record.
    """
    ids: list[str] = []
    positions: list[int] = []
    unmapped: list[int] = []
    chunks: list[pa.Table] = []
    position = 0
    for path in ordered:
        place = _demo_place(path)
        for record in read_raw(path):
            check_world(record, path, demo, place)
            found = _ids(provider, record)
            if not found:
                unmapped.append(position)
            ids += found
            positions += [position] * len(found)
            position += 1
            if len(ids) >= _CHUNK:
                chunks.append(_id_positions(ids, positions))
                ids, positions = [], []
    chunks.append(_id_positions(ids, positions))
    table = pa.concat_tables(chunks)
    latest = table.group_by("id").aggregate([("position", "max")])["position_max"]
    return np.union1d(latest.to_numpy(), np.array(unmapped, np.int64))


def _id_positions(ids: list[str], positions: list[int]) -> pa.Table:
    return pa.table({"id": pa.array(ids, pa.string()), "position": pa.array(positions, pa.int64())})


def _ids(provider: Provider, record: dict[str, Any]) -> list[str]:
    try:
        return [str(row.get("source_id")) for row in provider.normalize(record)]
    except Exception:  # the second pass drops and counts it, as normalize does
        return []
