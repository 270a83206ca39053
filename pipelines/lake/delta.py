"""The lake as Delta Lake tables: change log, current catalog and SCD2 history.

Three tables under ``<root>/delta/`` (a local folder or ``s3://bucket/prefix``)::

    products_changes   every new/changed/deleted row, partitioned by dt (UTC date of fetched_at)
                       and source; one append per run
    products_current   one row per (source, source_id): its latest version; a deletion removes it
    products_history   SCD2: business columns + valid_from, valid_to (null while open), is_current

Each write is one Delta transaction per table and run, and each is idempotent: the commit carries
the run id twice, as ``custom_metadata`` (``run_id`` in ``DESCRIBE HISTORY``, for people) and as a
Delta *app transaction* ``pipeline-run:<run_id>`` (for the check). The check reads the app
transaction and not the commit history because it is part of the table state: it survives
checkpoints and log clean-up, costs no extra read, and two attempts of one run committing at the
same time conflict, so only one of them lands.

On S3, delta-rs 1.6 commits with a conditional PUT (``If-None-Match: *``): a writer that loses the
race for a log version gets 412, re-reads and retries; no DynamoDB lock table is needed.

Types: Delta has decimal(18,4), timestamp (UTC, microseconds), short and array<string>, so
money, timestamps, schema_version and lists round-trip with no cast. Read back, a list's item
field is named ``element`` where Arrow says ``item``: pyarrow compares the types as equal.
Files are zstd Parquet with row groups of at most 128k rows, like the rest of the lake.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, DeltaTable, Transaction, WriterProperties, write_deltalake
from deltalake.exceptions import CommitFailedError

from pipelines.errors import ConfigError, DataQualityError, SchemaDriftError
from pipelines.lake.schema import (
    BUSINESS_COLUMNS,
    BUSINESS_FIELDS,
    CHANGE_TYPES,
    PRODUCT_SCHEMA,
    SCHEMA_VERSION,
    TIMESTAMP,
)

DELTA_DIR = "delta"
APP_ID_PREFIX = "pipeline-run:"
_MERGE_KEY = "_merge_key"  # history MERGE: null on the copy of a row that opens a new version
_T = TypeVar("_T")
WRITER = WriterProperties(compression="ZSTD", max_row_group_size=128 * 1024)
log = logging.getLogger("pipeline.delta")


@dataclass(frozen=True)
class TableSpec:
    """One Delta table of the lake: its name under ``delta/``, Arrow schema and partitioning."""

    name: str
    schema: pa.Schema
    partition_by: tuple[str, ...]


CHANGES = TableSpec(
    "products_changes",
    pa.schema([*PRODUCT_SCHEMA, pa.field("dt", pa.string(), nullable=False)]),
    ("dt", "source"),
)
CURRENT = TableSpec("products_current", PRODUCT_SCHEMA, ("source",))
HISTORY = TableSpec(
    "products_history",
    pa.schema(
        [
            *BUSINESS_FIELDS,
            pa.field("valid_from", TIMESTAMP, nullable=False),
            pa.field("valid_to", TIMESTAMP),
            pa.field("is_current", pa.bool_(), nullable=False),
        ]
    ),
    ("source",),
)
TABLES = (CHANGES, CURRENT, HISTORY)


class DeltaTables:
    """The three Delta tables of one lake root; each table is created on first use."""

    def __init__(self, root_uri: str, storage_options: dict[str, str] | None = None) -> None:
        self.root_uri = root_uri.rstrip("/")
        self._storage_options = dict(storage_options or {})  # holds secrets: never shown
        self._handles: dict[str, DeltaTable] = {}

    def __repr__(self) -> str:
        return f"DeltaTables({self.root_uri!r})"

    def uri(self, spec: TableSpec) -> str:
        return f"{self.root_uri}/{DELTA_DIR}/{spec.name}"

    def open(self, spec: TableSpec) -> DeltaTable:
        """The table at its latest version, created empty (schema, partitioning) if missing.

        A handle is kept and brought up to date from the log's tail: on S3 that is 2 requests
        instead of the ~13 a fresh open takes.
        """
        delta = self._handles.get(spec.name)
        if delta is not None:
            delta.update_incremental()
            return delta
        delta = DeltaTable.create(
            self.uri(spec),
            spec.schema,
            mode="ignore",
            partition_by=list(spec.partition_by),
            storage_options=self._storage_options,
        )
        self._handles[spec.name] = delta
        return delta

    def append_changes(self, table: pa.Table, run_id: str) -> int:
        """Append the run's rows to the change log; the number of rows (0 if already applied)."""
        rows = conform(table)
        dt = pc.strftime(rows.column("fetched_at"), format="%Y-%m-%d")
        rows = rows.append_column(CHANGES.schema.field("dt"), dt)

        def append(delta: DeltaTable, commit: CommitProperties) -> int:
            write_deltalake(
                delta,
                rows,
                mode="append",
                schema_mode="merge",  # a table made at an older schema_version gains columns
                writer_properties=WRITER,
                commit_properties=commit,
            )
            return rows.num_rows

        return self._once(CHANGES, run_id, rows, append, nothing=0)

    def merge_current(self, table: pa.Table, run_id: str) -> dict[str, int]:
        """Upsert the run's rows into the current catalog; ``deleted`` rows remove theirs."""
        rows = conform(table)

        def merge(delta: DeltaTable, commit: CommitProperties) -> dict[str, int]:
            metrics = (
                _merger(delta, rows, "t.source_id = s.source_id", commit)
                .when_matched_delete(predicate="s.change_type = 'deleted'")
                .when_matched_update_all()
                .when_not_matched_insert_all(predicate="s.change_type <> 'deleted'")
                .execute()
            )
            return _merge_counts(metrics, inserted="inserted", updated="updated", deleted="deleted")

        return self._once(CURRENT, run_id, rows, merge, nothing=_zeros("inserted updated deleted"))

    def update_history(self, table: pa.Table, run_id: str) -> dict[str, int]:
        """Close the open version of every row's product and open a new one (not for deletions).

        One MERGE: each row comes twice in the source, once keyed to match (and close) the open
        version, once with a null key so that it never matches and is inserted as the new one.
        """
        rows = conform(table)
        source = history_source(rows)

        def merge(delta: DeltaTable, commit: CommitProperties) -> dict[str, int]:
            predicate = f"t.source_id = s.{_MERGE_KEY} AND t.is_current"
            metrics = (
                _merger(delta, source, predicate, commit)
                .when_matched_update({"valid_to": "s.valid_from", "is_current": "false"})
                .when_not_matched_insert(
                    {name: f"s.{name}" for name in HISTORY.schema.names},
                    predicate=f"s.{_MERGE_KEY} IS NULL",
                )
                .execute()
            )
            return _merge_counts(metrics, inserted="opened", updated="closed")

        return self._once(HISTORY, run_id, rows, merge, nothing=_zeros("opened closed"))

    def compact(self, retention_hours: int) -> dict[str, dict[str, int]]:
        """Compact small files, then delete files unreferenced for ``retention_hours``.

        The retention is the caller's choice, even below Delta's 7-day default: readers of a
        version older than that (time travel, a long query) may then miss files.
        """
        if retention_hours < 0:
            raise ConfigError(f"Delta compact: retention_hours must be >= 0, got {retention_hours}")
        report = {}
        for spec in TABLES:
            delta = self.open(spec)
            metrics = delta.optimize.compact(writer_properties=WRITER)
            vacuumed = delta.vacuum(
                retention_hours=retention_hours, dry_run=False, enforce_retention_duration=False
            )
            report[spec.name] = {
                "files_added": metrics["numFilesAdded"],
                "files_removed": metrics["numFilesRemoved"],
                "vacuumed_files": len(vacuumed),
            }
        return report

    def _once(
        self,
        spec: TableSpec,
        run_id: str,
        rows: pa.Table,
        action: Callable[[DeltaTable, CommitProperties], _T],
        nothing: _T,
    ) -> _T:
        """Run ``action`` as the run's one commit to ``spec``; ``nothing`` if there is no row or
        the run is in the table already."""
        if rows.num_rows == 0:
            return nothing
        delta = self.open(spec)
        if applied(delta, run_id):
            log.info("%s already holds run %s: nothing to do", spec.name, run_id)
            return nothing
        commit = CommitProperties(
            # userMetadata is the one commitInfo field Spark's DESCRIBE HISTORY shows
            custom_metadata={"run_id": run_id, "userMetadata": f"run_id={run_id}"},
            app_transactions=[Transaction(app_id=APP_ID_PREFIX + run_id, version=0)],
        )
        try:
            return action(delta, commit)
        except CommitFailedError:
            delta.update_incremental()
            if applied(delta, run_id):
                log.info("%s: another attempt of run %s committed first", spec.name, run_id)
                return nothing
            raise


def applied(delta: DeltaTable, run_id: str) -> bool:
    """Whether a commit of ``run_id`` is in ``delta``."""
    return delta.transaction_version(APP_ID_PREFIX + run_id) is not None


def conform(table: pa.Table) -> pa.Table:
    """A run's rows in canonical order and types, or an error naming the column or product."""
    missing = [name for name in PRODUCT_SCHEMA.names if name not in table.column_names]
    if missing:
        raise SchemaDriftError(f"Delta write: rows lack column(s) {', '.join(missing)}")
    rows = table.select(PRODUCT_SCHEMA.names)
    _check_required(rows)
    try:
        rows = rows.cast(PRODUCT_SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
        raise SchemaDriftError(
            f"Delta write: rows do not fit schema_version {SCHEMA_VERSION}: {exc}"
        ) from exc
    _check_values(rows)
    return rows


def _check_required(rows: pa.Table) -> None:
    for field in PRODUCT_SCHEMA:
        column = rows.column(field.name)
        if not field.nullable and column.null_count:
            first = pc.index(pc.is_null(column), True).as_py()
            key = f"{rows['source'][first]} {rows['source_id'][first]}"
            raise SchemaDriftError(f"Delta write: {field.name} is null for product {key}")


def _check_values(rows: pa.Table) -> None:
    unknown = set(pc.unique(rows.column("change_type")).to_pylist()) - set(CHANGE_TYPES)
    if unknown:
        raise DataQualityError(f"Delta write: unknown change_type {sorted(unknown)}")
    counts = rows.group_by(["source", "source_id"]).aggregate([([], "count_all")])
    repeated = counts.filter(pc.greater(counts["count_all"], 1)).sort_by("source_id")
    if repeated.num_rows:
        shown = ", ".join(f"{r['source']} {r['source_id']}" for r in repeated.to_pylist()[:5])
        raise DataQualityError(f"Delta write: a product appears more than once in a run: {shown}")


def history_source(rows: pa.Table) -> pa.Table:
    """The history MERGE's source: every row keyed (to close), non-deletions unkeyed (to open)."""
    count = rows.num_rows
    versions = rows.select(BUSINESS_COLUMNS)
    versions = versions.append_column(HISTORY.schema.field("valid_from"), rows["fetched_at"])
    versions = versions.append_column(HISTORY.schema.field("valid_to"), pa.nulls(count, TIMESTAMP))
    versions = versions.append_column(
        HISTORY.schema.field("is_current"), pa.array([True] * count, pa.bool_())
    )
    closing = versions.append_column(_MERGE_KEY, rows["source_id"])
    opening = versions.filter(pc.not_equal(rows["change_type"], "deleted"))
    opening = opening.append_column(_MERGE_KEY, pa.nulls(opening.num_rows, pa.string()))
    return pa.concat_tables([closing, opening])


def _merger(delta: DeltaTable, source: pa.Table, on_key: str, commit: CommitProperties) -> Any:
    """A MERGE of ``source`` (alias s) into ``delta`` (alias t) on source and ``on_key``."""
    return delta.merge(
        source,
        predicate=f"t.source = s.source AND {on_key}",
        source_alias="s",
        target_alias="t",
        merge_schema=True,  # a table made at an older schema_version gains columns
        writer_properties=WRITER,
        commit_properties=commit,
    )


def _merge_counts(metrics: dict[str, Any], **names: str) -> dict[str, int]:
    """delta-rs MERGE metrics (``num_target_rows_<kind>``) under our names, e.g. updated=closed."""
    return {ours: metrics[f"num_target_rows_{kind}"] for kind, ours in names.items()}


def _zeros(names: str) -> dict[str, int]:
    return dict.fromkeys(names.split(), 0)
