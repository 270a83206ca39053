"""The rows of one block of landed lines: the provider's batch forms, then ``normalize``.

A provider with a ``raw_table()`` has its lines read straight into Arrow (``raw_arrow``) and
normalized column by column; one with only ``normalize_batch`` gets the parsed records; what
either leaves, and every record of a provider written per record, goes to ``normalize`` one
record at a time, the reference. Every row carries its record's ``raw_hash`` (the sha256 of its
landed line) and ``__record``, the record's place in the block, so rows go back in order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.errors import SkippableRecordError
from pipelines.lake.schema import PRODUCT_SCHEMA, SCHEMA_VERSION, hash_content
from pipelines.lake.state_index import source_key_hashes
from pipelines.net.strict_json import InvalidNumberRecord, loads_record
from pipelines.run.block_rows import BLOCK_SCHEMA, RunContext, typed_rows
from pipelines.run.counts import ProviderCounts
from pipelines.run.raw_arrow import arrow_records
from pipelines.run.replay_keys import carried_keys
from providers.batch import NormalizedBlock
from providers.identifiers import gtin14


class Normalizer(Protocol):
    """What the row stage needs of a provider: its name and its pure ``normalize``.

    A provider may also have ``normalize_batch`` and ``raw_table`` (``providers.base``); the
    stage uses them when present and ``normalize`` for what they leave.
    """

    name: str

    def normalize(self, raw: dict[str, Any]) -> list[dict[str, Any]]: ...


# Which of a block's records to skip (``pipelines.run.skip.RawSkip``): given the record count,
# the key hash of every key of the block (``source_key_hashes``), the record giving each, each
# record's raw hash and the ids when they were read (None: the lines carried the key hashes).
Skip = Callable[[int, np.ndarray, np.ndarray, list[str], pa.Array | None], np.ndarray]


class BlockRows:
    """Turns blocks of landed lines of one provider into typed rows (``BLOCK_SCHEMA``);
    ``skip``, when set, picks records counted unchanged without normalizing them."""

    def __init__(self, provider: Normalizer, run: RunContext, counts: ProviderCounts,
                 skip: Skip | None = None) -> None:  # fmt: skip
        self.provider, self.run, self.counts, self.skip = provider, run, counts, skip
        raw_table = getattr(provider, "raw_table", None)
        self.spec = raw_table() if raw_table is not None else None

    def rows(self, lines: list[bytes], hashes: list[str], ordinals: list[int]) -> pa.Table:
        """The rows of ``lines`` (their raw hashes and stream numbers given), in record order."""
        parsed: dict[int, Any] = {}

        def record(index: int) -> Any:
            if index not in parsed:
                parsed[index] = loads_record(lines[index])
            return parsed[index]

        if self.spec is not None:
            result, mapped, rest = self._arrow(lines, hashes, record)
        else:
            result, mapped, rest = self._dicts(lines, hashes, record)
        tables = [self._reference(record, hashes, ordinals, rest)]
        if result.rows is not None and result.rows.num_rows:
            tables.append(typed_rows(result.rows, [hashes[i] for i in mapped], mapped, self.run))
        table = pa.concat_tables([t for t in tables if t.num_rows] or tables[:1])
        if len(tables) == 2 and tables[0].num_rows:  # both paths gave rows: back in record order
            table = table.take(pc.sort_indices(table.column("__record")))  # a stable sort
        return table

    def _arrow(self, lines: list[bytes], hashes: list[str], record: Callable[[int], Any]
               ) -> tuple[NormalizedBlock, list[int], list[int]]:  # fmt: skip
        """The lines read into Arrow and normalized there; the indices of the lines behind the
        result's records, and of the lines left to the reference. With ``skip``, the keys are
        read first and only the lines not skipped are read whole."""
        chosen = list(range(len(lines)))
        if self.skip is not None:
            skipped = self._picked(lines, hashes, record, arrow=True)
            chosen = [i for i in chosen if not skipped[i]]
        table, read, refused = arrow_records([lines[i] for i in chosen], self.spec.schema)
        read, refused = [chosen[i] for i in read], [chosen[i] for i in refused]
        if table is None:
            return NormalizedBlock(None, []), [], refused
        result = self.spec.normalize(table)
        return result, read, sorted(refused + [read[i] for i in result.rest])

    def _picked(self, lines: list[bytes], hashes: list[str], record: Callable[[int], Any],
                arrow: bool) -> np.ndarray:  # fmt: skip
        """Which records ``skip`` picks: by the key hashes the lines carry (a replay's,
        ``replay_keys``), else by the keys read (in Arrow when ``arrow``)."""
        carried = carried_keys(lines)
        if carried is not None:
            return self.skip(len(lines), *carried, hashes, None)
        if arrow:
            return self._skipped_arrow(lines, hashes, record)
        return self._skipped(lines, hashes, record, [], list(range(len(lines))))

    def _skipped_arrow(self, lines: list[bytes], hashes: list[str], record: Callable[[int], Any]
                       ) -> np.ndarray:  # fmt: skip
        """``_skipped`` with the keys read in Arrow (``key_schema``), ``raw_keys`` for the rest."""
        table, read, refused = arrow_records(lines, self.spec.key_schema)
        if table is None:
            return self._skipped(lines, hashes, record, [], refused)
        ids, owners = self.spec.keys(table)
        owners = np.asarray(read, np.int64)[np.asarray(owners, np.int64)]
        return self._skipped(lines, hashes, record, [(ids, owners)], refused)

    def _dicts(self, lines: list[bytes], hashes: list[str], record: Callable[[int], Any]
               ) -> tuple[NormalizedBlock, list[int], list[int]]:  # fmt: skip
        """The parsed records through ``normalize_batch`` (when the provider has one)."""
        raws = [record(i) for i in range(len(lines))]
        chosen = range(len(raws))
        if self.skip is not None:
            skipped = self._picked(lines, hashes, record, arrow=False)
            chosen = [i for i in chosen if not skipped[i]]
        invalid = [i for i in chosen if isinstance(raws[i], InvalidNumberRecord)]
        valid = [i for i in chosen if not isinstance(raws[i], InvalidNumberRecord)]
        normalize_batch = getattr(self.provider, "normalize_batch", None)
        if normalize_batch is None or not valid:
            return NormalizedBlock(None, []), [], sorted(invalid + valid)
        result = normalize_batch([raws[i] for i in valid])
        return result, valid, sorted(invalid + [valid[i] for i in result.rest])

    def _skipped(
        self,
        lines: list[bytes],
        hashes: list[str],
        record: Callable[[int], Any],
        known: list[tuple[pa.Array, np.ndarray]],
        others: list[int],
    ) -> np.ndarray:
        """Which records ``skip`` picks, given the keys ``known`` (ids and the record of each)
        and those ``raw_keys`` gives for the records at ``others``. A record whose keys
        cannot be told cheaply means nothing of the block is skipped (a key of it could repeat
        a skipped one's)."""
        raw_keys = getattr(self.provider, "raw_keys", None)
        found: list[str] = []
        where: list[int] = []
        for index in others:
            raw = record(index)
            keys = raw_keys(raw) if raw_keys is not None and isinstance(raw, dict) else []
            if keys is None:
                return np.zeros(len(lines), dtype=bool)
            found += keys
            where += [index] * len(keys)
        ids = pa.concat_arrays(
            [k.cast(pa.string()) for k, _ in known] + [pa.array(found, pa.string())]
        )
        owners = np.concatenate([o for _, o in known] + [np.asarray(where, np.int64)])
        keys = source_key_hashes(self.provider.name, ids)
        return self.skip(len(lines), keys, owners, hashes, ids)

    def _reference(self, record: Callable[[int], Any], hashes: list[str], ordinals: list[int],
                   rest: list[int]) -> pa.Table:  # fmt: skip
        """The rows ``normalize`` gives for the records at ``rest``, one record at a time."""
        rows: list[dict[str, Any]] = []
        for index in rest:
            for row in self._normalize_one(record(index), hashes[index], ordinals[index]):
                row["__record"] = index
                rows.append(row)
        return self._to_table(rows)

    def _normalize_one(self, raw: Any, raw_hash: str, ordinal: int) -> list[dict[str, Any]]:
        if isinstance(raw, InvalidNumberRecord):
            where = ", ".join(raw.problems[:3])
            self.counts.drop(
                "invalid_json_number",
                f"{self.provider.name} record {ordinal}: number not allowed in JSON ({where})",
            )
            return []
        try:
            rows = self.provider.normalize(raw)
        except SkippableRecordError as exc:
            self.counts.drop("unmappable_record", str(exc))
            return []
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            self.counts.drop("normalizer_error", f"{self.provider.name} record {ordinal}: {exc!r}")
            return []
        for row in rows:
            row["content_hash"] = hash_content(row)
            row["raw_hash"] = raw_hash
            row["gtin14"] = gtin14(row.get("gtin"))
        return rows

    def _to_table(self, rows: list[dict[str, Any]]) -> pa.Table:
        lineage = {
            "fetched_at": self.run.started_at,
            "run_id": self.run.run_id,
            "change_type": "new",
            "schema_version": SCHEMA_VERSION,
        }
        for row in rows:
            row.update(lineage)
        try:
            return pa.Table.from_pylist(rows, schema=BLOCK_SCHEMA)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            return self._to_table_row_by_row(rows)

    def _to_table_row_by_row(self, rows: list[dict[str, Any]]) -> pa.Table:
        """Find the rows a column type rejects, drop them with a reason, keep the rest."""
        good = []
        for row in rows:
            try:
                pa.Table.from_pylist([row], schema=BLOCK_SCHEMA)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                problem = _type_problem(row)
                self.counts.drop(
                    "wrong_type", f"{self.provider.name} {row.get('source_id')}: {problem}"
                )
                continue
            good.append(row)
        return pa.Table.from_pylist(good, schema=BLOCK_SCHEMA)


def _type_problem(row: dict[str, Any]) -> str:
    """Which column of ``row`` its canonical type rejects, and why (no record-specific values)."""
    for schema_field in PRODUCT_SCHEMA:
        value = row.get(schema_field.name)
        try:
            pa.array([value], schema_field.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            got = type(value).__name__
            return f"column {schema_field.name}: expected {schema_field.type}, got {got}"
    return "row does not fit the canonical schema"
