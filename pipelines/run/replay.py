"""What a ``--replay`` run feeds to normalize: one version of each product, from one world.

A replay folder may hold the raw files of many runs (``raw/`` of a lake, everything ever
landed). The files are read in landing order (the run id in their names, else their
modification time), and for each ``source_id`` only the record landed last is kept, so an
identical record landed twice is one record and a product that changed between runs comes
back once, as it was last seen: replaying everything rebuilds the lake's current rows.

Demo records never go into the real lake, nor real ones into the demo lake
(``replay_world.py``). Datasets beyond products are replayed by ``dataset_replay.py``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.lake.lake import read_lines
from pipelines.lake.state_index import nonzero16, source_key_hashes
from pipelines.net.strict_json import loads_record
from pipelines.run.raw_arrow import arrow_records
from pipelines.run.replay_keys import RecordKeys
from pipelines.run.replay_world import (
    DEMO_MARKER,
    check_marked,
    check_world,
    demo_place,
    landing_order,
)
from providers.base import Provider
from providers.batch import NormalizedBlock, RawTable

_BLOCK = 5_000  # records read or normalized together to learn their ids


def replay_records(provider: Provider, files: Iterable[Path], demo: bool) -> Iterator[bytes]:
    """The landed lines to re-normalize: per ``source_id``, the one landed last (the module).

    When the provider's ``raw_keys`` show that no two records share an id, every record is
    kept, each handed on with its key hashes (``replay_keys``: the early skip does not read
    them again). Otherwise two passes over the files: the first normalizes each record (in
    blocks, with the provider's batch normalizer when it has one) only to learn which ids it
    holds, the second yields the records that are the latest for any of them (a record that
    cannot be normalized is yielded too, so normalize counts it as dropped, once).
    """
    ordered = landing_order(files)
    with tempfile.TemporaryFile() as file:
        store = RecordKeys(file)
        if _distinct(provider, ordered, demo, store):
            yield from store.keyed(line for path in ordered for line in read_lines(path))
            return
    keep = _kept_positions(provider, ordered, demo)
    wanted, position = 0, 0
    for path in ordered:
        for line in read_lines(path):
            if wanted < len(keep) and keep[wanted] == position:
                wanted += 1
                yield line
            position += 1


def _distinct(provider: Provider, ordered: list[Path], demo: bool, store: RecordKeys) -> bool:
    """Whether ``raw_keys`` (or ``raw_table``'s keys) names every record's ids and no id
    repeats (then every record is the latest of its ids); ``store`` gets every record's key
    hashes. Ids are compared by 8 bytes of their key hash (8 bytes an id where the ids and a
    hash set of them took about 200: at 5M rows, 1.1 GiB); two equal ones (ids repeating, or
    very rarely two ids sharing them) mean the exact two passes."""
    raw_table = getattr(provider, "raw_table", None)
    spec = raw_table() if raw_table is not None else None
    chunks: list[np.ndarray] = []
    for path in ordered:
        place = demo_place(path)
        lines = read_lines(path)
        while block := list(islice(lines, _BLOCK)):
            found = _keys(provider, spec, block, path, demo, place)
            if found is None:
                return False
            keys = source_key_hashes(provider.name, found[0])
            store.add(keys, found[1], len(block))
            chunks.append(keys[nonzero16(keys)].view(np.uint64)[1::2].copy())
    hashes = np.sort(np.concatenate([np.zeros(0, np.uint64), *chunks]))
    return not (hashes[1:] == hashes[:-1]).any()


def _keys(provider: Provider, spec: RawTable | None, lines: list[bytes], path: Path, demo: bool,
          place: bool) -> tuple[pa.Array, np.ndarray] | None:  # fmt: skip
    """The ids of the records of ``lines`` (their worlds checked) and the line giving each,
    None when the provider cannot tell. With a ``raw_table``, read in Arrow (a null id: a
    record normalize refuses)."""
    table, read, refused = None, [], list(range(len(lines)))
    if spec is not None:
        table, read, refused = arrow_records(lines, _with_marker(spec.key_schema))
    ids: list[pa.Array] = []
    owners: list[np.ndarray] = []
    if table is not None:
        marked = table.column(DEMO_MARKER).fill_null(False)
        if len(marked):  # one record of the other world is enough to refuse
            check_marked(pc.any(marked).as_py(), path, demo, place)
            check_marked(pc.all(marked).as_py(), path, demo, place)
        found_ids, found_in = spec.keys(table)
        ids.append(found_ids.cast(pa.string()))
        owners.append(np.asarray(read, np.int64)[np.asarray(found_in, np.int64)])
    found: list[str] = []
    where: list[int] = []
    for index in refused:
        record = loads_record(lines[index])
        check_world(record, path, demo, place)
        keys = provider.raw_keys(record)
        if keys is None:
            return None
        found += keys
        where += [index] * len(keys)
    ids.append(pa.array(found, pa.string()))
    owners.append(np.asarray(where, np.int64))
    return pa.concat_arrays(ids), np.concatenate(owners)


def _with_marker(schema: pa.Schema) -> pa.Schema:
    """``schema`` reading ``DEMO_MARKER`` too (a marker that is not a boolean: the dict path)."""
    return schema.append(pa.field(DEMO_MARKER, pa.bool_()))


def _kept_positions(provider: Provider, ordered: list[Path], demo: bool) -> np.ndarray:
    """Sorted positions (records counted across ``ordered``) of the records to keep.

    Records go to the provider's batch normalizer in blocks (``normalize`` for what it
    leaves); the ids and positions are gathered into Arrow arrays and the last position of
    every id taken by a hash aggregation, so memory holds no Python object per id or record.
    """
    chunks: list[pa.Table] = []
    unmapped: list[np.ndarray] = []
    block: list[dict[str, Any]] = []
    position = 0
    for path in ordered:
        place = demo_place(path)
        for record in map(loads_record, read_lines(path)):
            check_world(record, path, demo, place)
            block.append(record)
            position += 1
            if len(block) >= _BLOCK:
                _gather(provider, block, position - len(block), chunks, unmapped)
                block = []
    _gather(provider, block, position - len(block), chunks, unmapped)
    table = pa.concat_tables(chunks)
    latest = table.group_by("id").aggregate([("position", "max")])["position_max"]
    return np.union1d(latest.to_numpy(), np.concatenate(unmapped))


def _gather(
    provider: Provider,
    block: list[dict[str, Any]],
    start: int,
    chunks: list[pa.Table],
    unmapped: list[np.ndarray],
) -> None:
    """Add the (id, position) pairs of ``block`` (records from ``start`` on) to ``chunks``, and
    the positions of its records that give no row to ``unmapped``."""
    ids, where = _block_ids(provider, block)
    chunks.append(pa.table({"id": ids, "position": pc.add(where, start)}))
    rowless = np.setdiff1d(np.arange(len(block), dtype=np.int64), where.to_numpy())
    unmapped.append(rowless + start)


def _block_ids(provider: Provider, block: list[dict[str, Any]]) -> tuple[pa.Array, pa.Array]:
    """Every row id of ``block``'s records and the index of the record that gives it."""
    result = provider.normalize_batch(block) if block else NormalizedBlock(None, [])
    ids: list[str] = []
    where: list[int] = []
    for index in result.rest:
        found = _ids(provider, block[index])
        ids += found
        where += [index] * len(found)
    id_arrays, where_arrays = [pa.array(ids, pa.string())], [pa.array(where, pa.int64())]
    if result.rows is not None:
        id_arrays.append(result.rows.column("source_id").combine_chunks().cast(pa.string()))
        where_arrays.append(result.rows.column("__record").combine_chunks().cast(pa.int64()))
    return pa.concat_arrays(id_arrays), pa.concat_arrays(where_arrays)


def _ids(provider: Provider, record: dict[str, Any]) -> list[str]:
    try:
        return [str(row.get("source_id")) for row in provider.normalize(record)]
    except Exception:  # the second pass drops and counts it, as normalize does
        return []
