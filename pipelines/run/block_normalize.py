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

import pyarrow as pa
import pyarrow.compute as pc

from pipelines.errors import SkippableRecordError
from pipelines.lake.schema import PRODUCT_SCHEMA, SCHEMA_VERSION, hash_content
from pipelines.net.strict_json import InvalidNumberRecord, loads_record
from pipelines.run.block_rows import BLOCK_SCHEMA, RunContext, typed_rows
from pipelines.run.counts import ProviderCounts
from pipelines.run.raw_arrow import arrow_records
from providers.batch import NormalizedBlock
from providers.identifiers import gtin14


class Normalizer(Protocol):
    """What the row stage needs of a provider: its name and its pure ``normalize``.

    A provider may also have ``normalize_batch`` and ``raw_table`` (``providers.base``); the
    stage uses them when present and ``normalize`` for what they leave.
    """

    name: str

    def normalize(self, raw: dict[str, Any]) -> list[dict[str, Any]]: ...


class BlockRows:
    """Turns blocks of landed lines of one provider into typed rows (``BLOCK_SCHEMA``)."""

    def __init__(self, provider: Normalizer, run: RunContext, counts: ProviderCounts) -> None:
        self.provider, self.run, self.counts = provider, run, counts
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
            result, mapped, rest = self._arrow(lines)
        else:
            result, mapped, rest = self._dicts([record(i) for i in range(len(lines))])
        tables = [self._reference(record, hashes, ordinals, rest)]
        if result.rows is not None and result.rows.num_rows:
            tables.append(typed_rows(result.rows, [hashes[i] for i in mapped], mapped, self.run))
        table = pa.concat_tables([t for t in tables if t.num_rows] or tables[:1])
        if len(tables) == 2 and tables[0].num_rows:  # both paths gave rows: back in record order
            table = table.take(pc.sort_indices(table.column("__record")))  # a stable sort
        return table

    def _arrow(self, lines: list[bytes]) -> tuple[NormalizedBlock, list[int], list[int]]:
        """The lines read into Arrow and normalized there; the indices of the lines behind the
        result's records, and of the lines left to the reference."""
        table, read, refused = arrow_records(lines, self.spec.schema)
        if table is None:
            return NormalizedBlock(None, []), [], refused
        result = self.spec.normalize(table)
        return result, read, sorted(refused + [read[i] for i in result.rest])

    def _dicts(self, raws: list[Any]) -> tuple[NormalizedBlock, list[int], list[int]]:
        """The parsed records through ``normalize_batch`` (when the provider has one)."""
        invalid = [i for i, raw in enumerate(raws) if isinstance(raw, InvalidNumberRecord)]
        valid = [i for i, raw in enumerate(raws) if not isinstance(raw, InvalidNumberRecord)]
        normalize_batch = getattr(self.provider, "normalize_batch", None)
        if normalize_batch is None or not valid:
            return NormalizedBlock(None, []), [], sorted(invalid + valid)
        result = normalize_batch([raws[i] for i in valid])
        return result, valid, sorted(invalid + [valid[i] for i in result.rest])

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
