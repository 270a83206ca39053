"""Repairing the dedup state from the lake itself.

Two cases, both decided from the committed manifests and their normalized parts:

* the state is unreadable (``state.json`` truncated, garbage or empty, its Parquet file
  truncated or gone): it is rebuilt, each key taking the last row committed for it (a
  ``deleted`` row removes it), and the run says so in a warning. Provider watermarks were
  only in the lost file, so each incremental provider makes one full pull. When a part a
  manifest names is missing (a lake restored from state alone), nothing is guessed: the run
  stops before any work with one line naming the file and the command that fixes it;
* the state's content hashes were made with an older definition of ``content_hash``
  (``CONTENT_HASH_VERSION`` in ``schema.py``): they are recomputed from the committed rows, so
  upgrading writes no ``changed`` row that is not a real change. Committed rows keep the hash
  they were written with: history is never rewritten.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipelines.errors import ConfigError
from pipelines.lake.datasets import DATASETS, PRODUCTS, Table
from pipelines.lake.dedup import (
    META_PATH,
    STATE_DIR,
    DedupState,
    StateUnreadableError,
    load_state,
    read_state_meta,
    row_keys,
)
from pipelines.lake.lake import Lake
from pipelines.lake.schema import CONTENT_HASH_VERSION
from pipelines.lake.state_files import is_single_file, stored_names
from pipelines.lake.state_index import hashed_columns
from pipelines.lake.storage import Storage

if TYPE_CHECKING:
    import pyarrow.dataset as ds

log = logging.getLogger("pipeline.state")
PRODUCT_TABLE = DATASETS[PRODUCTS].home

FIX_HINT = (
    "restore it (run_pipeline.py restore-state in GitHub Actions, or a backup of state/), "
    "or move state/ aside to start from an empty state (every product then counts as new)"
)


def load_or_rebuild_state(
    storage: Storage, table: Table = PRODUCT_TABLE
) -> tuple[DedupState, bool]:
    """The state of ``table``'s lake at ``storage``, and whether it had to be repaired (and
    so must be saved)."""
    try:
        state = load_state(storage)
    except StateUnreadableError as exc:
        state = rebuild_state(storage, exc, table)
        return state, True
    state.recover = lambda exc: rebuild_state(storage, exc, table)  # a bucket found unreadable
    if state.hash_version < CONTENT_HASH_VERSION and len(state):
        recompute_content_hashes(storage, state, table)
        return state, True
    state.hash_version = CONTENT_HASH_VERSION
    return state, False


def read_whole_state(storage: Storage) -> DedupState:
    """The state with every file it names read through (a run reads only the parts it looks
    up): ``StateUnreadableError`` names the first that cannot be read. For verify and repair."""
    state = load_state(storage)
    state.load_buckets(range(256))
    state.ids_for(state.index.entries()["key"])
    return state


def check_state(storage: Storage) -> None:
    """Before any work: the state is readable, or can be rebuilt; else a ``ConfigError``."""
    try:
        meta = read_state_meta(storage)
        if meta is not None and is_single_file(meta):
            _check_parquet(storage, f"{STATE_DIR}/{meta.get('products', 'products.parquet')}")
        elif meta is not None:
            _check_buckets(storage, meta)
    except StateUnreadableError as exc:
        missing = _missing_parts(storage, exc)
        if missing:
            raise ConfigError(
                f"{exc}; it cannot be rebuilt from the manifests ({len(missing)} committed "
                f"part(s) missing, first {missing[0]}): {FIX_HINT}"
            ) from None
        log.warning("%s: it will be rebuilt from the committed manifests", exc)


def readable_state_meta(storage: Storage) -> dict | None:
    """``read_state_meta``, with ``{}`` for an unreadable state (which the write step rebuilds):
    no watermarks, and not a bootstrap run."""
    try:
        return read_state_meta(storage)
    except StateUnreadableError:
        return {}


def _check_parquet(storage: Storage, rel: str) -> None:
    try:
        pq.read_metadata(str(storage.location(rel)), filesystem=storage.filesystem)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise StateUnreadableError(f"{storage.uri}/{rel}", type(exc).__name__) from None


def _check_buckets(storage: Storage, meta: dict) -> None:
    """Every bucket file and log ``state.json`` names is there (one listing; a truncated one
    is found when read, and the state then rebuilt)."""
    present = {rel.rsplit("/", 1)[-1] for rel in storage.list_files(STATE_DIR)}
    missing = sorted(stored_names(meta) - present)
    if missing:
        raise StateUnreadableError(f"{storage.uri}/{STATE_DIR}/{missing[0]}", "missing")


def rebuild_state(
    storage: Storage, cause: StateUnreadableError, table: Table = PRODUCT_TABLE
) -> DedupState:
    """A state made again from every committed manifest of ``table``'s lake at ``storage``
    (watermarks cannot be recovered)."""
    missing = _missing_parts(storage, cause)
    if missing:
        raise ConfigError(f"{cause}; {len(missing)} committed part(s) missing: {FIX_HINT}")
    state = DedupState()
    lake = Lake(storage)
    for rows in _last_committed(lake, table):
        deleted = np.asarray(pc.equal(rows.column("change_type"), "deleted").fill_null(False))
        cuts = np.flatnonzero(np.diff(deleted.astype(np.int8))) + 1
        for start, stop in zip(np.r_[0, cuts], np.r_[cuts, len(deleted)], strict=True):
            segment = rows.slice(start, stop - start)
            if deleted[start]:
                state.forget(row_keys(segment))
            else:
                state.apply_table(segment)
    state.applied_runs = set(lake.manifest_ids())
    log.warning(
        "%s: rebuilt from %d committed manifest(s), %d %s key(s); provider watermarks were "
        "lost, so incremental providers pull their whole catalog once",
        cause, len(state.applied_runs), len(state), table.name,
    )  # fmt: skip
    return state


def recompute_content_hashes(
    storage: Storage, state: DedupState, table: Table = PRODUCT_TABLE
) -> None:
    """Give every held key the content hash of its last committed row, current definition.

    Keys whose rows the lake no longer holds keep their old hash (a product among them
    whose only change is its ``updatedAt`` is written as changed once).
    """
    redone: set[bytes] = set()
    for committed in _last_committed(Lake(storage), table):
        change = committed.column("change_type")
        rows = committed.filter(pc.not_equal(change, "deleted").fill_null(True))
        keys, content = hashed_columns(rows, "content_hash")
        _, first = np.unique(keys[::-1], return_index=True)
        last = len(keys) - 1 - first
        if state.set_content(keys[last], content[last]):
            redone.update(keys[last].tolist())
    log.warning(
        "%s: content hashes of version %d recomputed to version %d for %d of %d product(s)",
        f"{storage.uri}/{META_PATH}", state.hash_version, CONTENT_HASH_VERSION, len(redone),
        len(state),
    )  # fmt: skip
    state.hash_version = CONTENT_HASH_VERSION


def _last_committed(lake: Lake, table: Table) -> Iterator[pa.Table]:
    """Every committed row of ``table`` in batches, oldest run first, ``content_hash`` made
    again with the current definition. Parts the lake no longer holds are skipped."""
    for dataset in _runs_in_order(lake, table.schema):
        for batch in dataset.to_batches(batch_size=5000):
            rows = pa.Table.from_batches([batch])
            content = [table.hash_content(row) for row in rows.to_pylist()]
            index = rows.schema.get_field_index("content_hash")
            yield rows.set_column(index, "content_hash", pa.array(content, pa.string()))


def _runs_in_order(lake: Lake, schema: pa.Schema) -> list[ds.Dataset]:
    """The normalized parts of each committed run, oldest first: by the run's start time
    (``fetched_at``, to the microsecond), so two runs of the same second keep their order."""
    present = set(lake.storage.list_files("normalized"))
    runs = []
    for run_id in lake.manifest_ids():
        manifest = lake.read_manifest(run_id) or {"files": []}
        files = [
            lake.storage.location(f["path"])
            for f in manifest["files"]
            if f["zone"] == "normalized" and f["path"] in present
        ]
        if files:
            dataset = lake.parts("normalized", files, schema)
            first = dataset.head(1, columns=["fetched_at"]).column(0).to_pylist()
            runs.append((first[0] if first else None, run_id, dataset))
    runs.sort(key=lambda run: (run[0] is not None, run[0] or 0, run[1]))
    return [dataset for _, _, dataset in runs]


def _missing_parts(storage: Storage, cause: StateUnreadableError) -> list[str]:
    """Normalized parts the manifests name that the lake does not hold."""
    lake = Lake(storage)
    present = set(storage.list_files("normalized"))
    try:
        manifests = lake.manifests()
    except ValueError as exc:
        raise ConfigError(f"{cause}; a manifest is unreadable too ({exc}): {FIX_HINT}") from None
    return [
        f["path"]
        for manifest in manifests
        for f in manifest["files"]
        if f["zone"] == "normalized" and f["path"] not in present
    ]
