"""Unchanged raw skipped early: counted ``unchanged`` without being normalized.

A record whose raw hash (the sha256 of its landed line) is the one the dedup state holds for
every key it gives (``raw_keys``, or a ``raw_table``'s keys) is the very record the lake
already holds: normalizing it would give the rows committed before, which dedup would count
unchanged. Its rows are counted fetched and unchanged without normalizing it; its keys still
count as seen (deletion detection, through the staged ``unchanged`` file the write step reads,
and the run's ``duplicate_source_id`` rule).

It is exact only where the rows the record gave before passed the same checks, so a record is
normalized as usual when:

* any key it gives appears twice in its block or earlier in the run (the duplicate rule);
* the state's ``raw_skip`` entry for the provider is not this run's fingerprint (the quality
  settings, the schema and hash versions): the fingerprint is recorded when a complete pull,
  or the first pull into a state holding none of the provider's keys, commits (every held key
  then passed under it) and dropped when another pull under another one commits; so a run
  whose quality config or schema changed never skips;
* the run is a ``--full-refresh``.

What a skipped row does not show: the ``warning`` rule counts of the quality report cover the
rows normalized, not the skipped ones (they passed every error rule under the same settings).
The write step checks the skipped keys against the state again under the commit lock; a run
that committed those keys in between fails the provider, whose next run normalizes them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.checks.quality import QualityChecker
from pipelines.checks.quality_config import QualityConfig
from pipelines.checks.quality_rules import RULE_INFO_BY_CODE
from pipelines.lake.dedup import DedupState, StateUnreadableError, load_state
from pipelines.lake.lake import StagedFile
from pipelines.lake.schema import CONTENT_HASH_VERSION, RAW_HASH_VERSION, SCHEMA_VERSION
from pipelines.lake.state_index import binary16, fixed16, hex16
from pipelines.lake.storage import Storage

SKIP_ENTRY = "raw_skip"  # state.extra: provider -> the fingerprint its held raw hashes passed
# A skipped row's id (null when not read), its key hash and the first 16 bytes of its raw hash.
UNCHANGED_SCHEMA = pa.schema(
    [("source_id", pa.string()), ("key_hash", pa.binary(16)), ("raw_hash", pa.binary(16))]
)


def fingerprint(quality: QualityConfig) -> str:
    """What decides whether a record's rows pass: the quality settings and the versions."""
    rules = {code: [quality.is_enabled(code), quality.severity(code)] for code in RULE_INFO_BY_CODE}
    facts = {
        "limits": [quality.max_title_length, quality.max_description_length],
        "rules": rules,
        "versions": [SCHEMA_VERSION, CONTENT_HASH_VERSION, RAW_HASH_VERSION],
    }
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()[:16]


def passes_whole(state: DedupState, name: str, mark: str | None, complete: bool) -> bool:
    """Before this run's rows of ``name`` go into ``state``: will every key of it held after
    the run have passed under ``mark`` (a complete pull, a state already so, or one holding none
    of its keys)."""
    marked = mark is not None and state.extra.get(SKIP_ENTRY, {}).get(name) == mark
    return complete or marked or not state.sources().get(name)


def record_fingerprint(state: DedupState, name: str, mark: str | None, whole: bool) -> None:
    """After ``name``'s rows are committed: skipping is exact under ``mark`` when every key
    held passed under it (``whole``: a complete pull, or a first one into an empty state), and
    stays so after any other pull under the same."""
    entries = state.extra.setdefault(SKIP_ENTRY, {})
    if whole and mark is not None:
        entries[name] = mark
    elif entries.get(name) != mark:
        entries.pop(name, None)


def skip_state(storage: Storage, name: str, mark: str) -> DedupState | None:
    """The committed state when ``name``'s records may be skipped under ``mark``, else None."""
    try:
        state = load_state(storage)
    except StateUnreadableError:
        return None  # the write step repairs or reports it
    usable = state.hash_version == CONTENT_HASH_VERSION
    return state if usable and state.extra.get(SKIP_ENTRY, {}).get(name) == mark else None


class RawSkip:
    """Decides, block by block, which records of one provider are skipped; stages their keys."""

    def __init__(self, state: DedupState, source: str, checker: QualityChecker,
                 staged: StagedFile) -> None:  # fmt: skip
        self.state, self.source, self.checker, self.staged = state, source, checker, staged
        checker.expect_keys(state.sources().get(source, 0))  # a re-run sees them all again
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None

    def __call__(self, count: int, keys: np.ndarray, owners: np.ndarray, hashes: list[str],
                 ids: pa.Array | None = None) -> np.ndarray:  # fmt: skip
        """Which of ``count`` records to skip, given the key hash of every key of the block
        (``source_key_hashes``: the state, the run's keys and the staged file all take it),
        the record giving each (``owners``), each record's raw hash and, when read, the ids
        (staged for ``workers.ids_cross``; a replay's lines carry only the key hashes)."""
        if not len(keys):
            return np.zeros(count, dtype=bool)
        raw = hex16(pa.array(hashes, pa.string()))[owners]
        fine = self.state.raw_unchanged(keys, raw)
        fine &= ~self.checker.seen_in_run(keys)
        fine &= ~_repeated(keys)
        bad = np.bincount(owners[~fine], minlength=count) > 0
        skip = (np.bincount(owners, minlength=count) > 0) & ~bad
        if skip.any():
            chosen = skip[owners]
            if ids is None:
                ids = pa.nulls(len(keys), pa.string())
            self._stage(ids.cast(pa.string()).filter(chosen), keys[chosen], raw[chosen])
        return skip

    def _stage(self, ids: pa.Array, keys: np.ndarray, raw: np.ndarray) -> None:
        self.checker.pass_unchecked(keys)
        self.rows += len(keys)
        if self._writer is None:
            self.staged.staged.parent.mkdir(parents=True, exist_ok=True)
            self._writer = pq.ParquetWriter(self.staged.staged, UNCHANGED_SCHEMA)
        columns = [ids, binary16(keys), binary16(raw)]
        self._writer.write_table(pa.table(columns, schema=UNCHANGED_SCHEMA))

    def close(self) -> StagedFile | None:
        """The staged keys and raw hashes of the skipped rows, None when none was skipped."""
        if self._writer is None:
            return None
        self._writer.close()
        self.staged.rows = self.rows
        return self.staged


def read_unchanged(staged: StagedFile, batch_size: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """What ``RawSkip`` staged: the skipped rows' key hashes and raw hashes (``S16``), in
    batches."""
    for batch in pq.ParquetFile(staged.staged).iter_batches(batch_size=batch_size):
        yield fixed16(batch.column("key_hash")), fixed16(batch.column("raw_hash"))


def _repeated(keys: np.ndarray) -> np.ndarray:
    """Which keys appear more than once in ``keys``."""
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    return counts[inverse] > 1
