"""The read API's queries: fixed SQL with bound parameters over the lake's views.

No SQL is ever built from what a client sends: each filter a request names adds one constant
fragment with ``?`` placeholders, and the values go to DuckDB as parameters. Every query runs
on its own connection to one locked-down in-memory DuckDB that sees only the views
(``pipelines.lake.views.connect``), and is interrupted after ``timeout`` seconds; page sizes
are capped by the API. Paging is keyset: the cursor is the last key of a page, made opaque
(URL-safe base64 of JSON), so a page never repeats or skips rows when runs commit in between.

The snapshot of the lake (its committed files and run log) is rebuilt only when the lake's
signature changes: one listing of the manifests and one look at the run log per request.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import threading
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from pipelines.lake.storage import Storage
from pipelines.lake.views import (
    LakeSnapshot,
    connect,
    locked_database,
    plain_rows,
    signature,
    snapshot,
)

ALERT_LEVELS = ("warn", "alert")
RUN_COLUMNS = (
    "run_id, started_at, ended_at, duration_seconds, mode, exit_code, fetched, new, changed, "
    "unchanged, quarantined, dropped, written, api_calls, cache_hits, retries, anomaly"
)


class QueryTimeoutError(Exception):
    """A query ran past the reader's timeout and was interrupted."""


class BadCursorError(ValueError):
    """A cursor this API did not give."""


@dataclass(frozen=True)
class ProductFilter:
    """What ``/products`` may filter on; each field set adds one fixed condition."""

    source: str | None = None
    availability: str | None = None
    min_price: Decimal | None = None
    max_price: Decimal | None = None
    text: str | None = None

    def where(self) -> tuple[list[str], list[Any]]:
        return _chosen(self, {
            "source": "source = ?",
            "availability": "availability = ?",
            "min_price": "price_amount >= ?",
            "max_price": "price_amount <= ?",
            "text": "contains(lower(concat_ws(' ', title, brand, sku)), lower(?))",
        })  # fmt: skip


@dataclass(frozen=True)
class OrderFilter:
    """What ``/orders`` may filter on; each field set adds one fixed condition."""

    source: str | None = None
    financial_status: str | None = None
    fulfillment_status: str | None = None
    currency: str | None = None
    created_from: dt.datetime | None = None
    created_to: dt.datetime | None = None

    def where(self) -> tuple[list[str], list[Any]]:
        return _chosen(self, {
            "source": "source = ?",
            "financial_status": "financial_status = ?",
            "fulfillment_status": "fulfillment_status = ?",
            "currency": "currency = ?",
            "created_from": "created_at >= ?",
            "created_to": "created_at < ?",
        })  # fmt: skip


def _chosen(filters: Any, conditions: dict[str, str]) -> tuple[list[str], list[Any]]:
    """The fixed ``conditions`` of the fields of ``filters`` that are set, and their values."""
    chosen = [(sql, getattr(filters, name)) for name, sql in conditions.items()]
    chosen = [(sql, value) for sql, value in chosen if value is not None]
    return [sql for sql, _ in chosen], [value for _, value in chosen]


def encode_cursor(key: list[str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[str]:
    """The key a cursor holds (``size`` strings), or ``BadCursorError``."""
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        raise BadCursorError("cursor: not a cursor this API gave") from None
    if not (isinstance(key, list) and len(key) == size and all(isinstance(k, str) for k in key)):
        raise BadCursorError("cursor: not a cursor this API gave")
    return key


class LakeReader:
    """The API's reads over one lake, each bounded in time."""

    def __init__(self, storage: Storage, log_dir: Path, timeout: float) -> None:
        self.storage, self.log_dir, self.timeout = storage, log_dir, timeout
        self._lock = threading.Lock()
        self._key: tuple[Any, ...] | None = None
        self._snapshot: LakeSnapshot | None = None
        self._database = locked_database()  # each query opens its own connection to it

    def current(self) -> LakeSnapshot:
        """The lake's snapshot, rebuilt when a run committed or the run log changed."""
        key = signature(self.storage, self.log_dir)  # outside the lock: requests overlap
        with self._lock:
            if self._snapshot is None or key != self._key:
                self._snapshot, self._key = snapshot(self.storage, self.log_dir), key
            return self._snapshot

    def rows(self, sql: str, params: list[Any]) -> list[dict[str, Any]]:
        """Run fixed ``sql`` with bound ``params``; ``QueryTimeoutError`` past the timeout."""
        con = connect(self.current(), self._database)
        timer = threading.Timer(self.timeout, _interrupt, (con,))
        timer.start()
        try:
            return plain_rows(con.sql(sql, params=params).to_arrow_table())
        except duckdb.InterruptException:
            raise QueryTimeoutError(f"query stopped after {self.timeout:g} s") from None
        finally:
            timer.cancel()
            con.close()

    def products(
        self, filters: ProductFilter, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the current catalog in (source, source_id) order, and the next cursor."""
        return self.page("products_current", filters.where(), limit, cursor)

    def orders(
        self, filters: OrderFilter, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the current orders in (source, source_id) order, and the next cursor."""
        return self.page("orders_current", filters.where(), limit, cursor)

    def page(self, view: str, where: tuple[list[str], list[Any]], limit: int,
             cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:  # fmt: skip
        """One page of ``view`` (one of ours, never a client's) in (source, source_id) order."""
        conditions, params = where
        if cursor is not None:
            after = decode_cursor(cursor, 2)
            conditions.append("(source > ? OR (source = ? AND source_id > ?))")
            params += [after[0], after[0], after[1]]
        clause = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        sql = f"SELECT * FROM {view} {clause} ORDER BY source, source_id LIMIT ?"
        items = self.rows(sql, [*params, limit + 1])
        if len(items) <= limit:
            return items, None
        items = items[:limit]
        return items, encode_cursor([items[-1]["source"], items[-1]["source_id"]])

    def product(self, source: str, source_id: str) -> dict[str, Any] | None:
        sql = "SELECT * FROM products_current WHERE source = ? AND source_id = ?"
        found = self.rows(sql, [source, source_id])
        return found[0] if found else None

    def order(self, source: str, source_id: str) -> dict[str, Any] | None:
        """One order as it is now, with its current lines (``lines``, by line id)."""
        sql = "SELECT * FROM orders_current WHERE source = ? AND source_id = ?"
        found = self.rows(sql, [source, source_id])
        if not found:
            return None
        sql = (
            "SELECT * FROM order_lines_current WHERE source = ? AND order_id = ? ORDER BY source_id"
        )
        return {**found[0], "lines": self.rows(sql, [source, source_id])}

    def history(self, source: str, source_id: str, limit: int) -> list[dict[str, Any]]:
        """Every committed row of one product (new, changed, deleted), oldest first."""
        sql = (
            "SELECT * FROM products_changes WHERE source = ? AND source_id = ? "
            "ORDER BY run_id, fetched_at LIMIT ?"
        )
        return self.rows(sql, [source, source_id, limit])

    def runs(self, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of runs, newest first, and the next cursor."""
        where, params = "", []
        if cursor is not None:
            where, params = "WHERE run_id < ?", decode_cursor(cursor, 1)
        sql = f"SELECT {RUN_COLUMNS} FROM runs {where} ORDER BY run_id DESC LIMIT ?"
        items = self.rows(sql, [*params, limit + 1])
        if len(items) <= limit:
            return items, None
        items = items[:limit]
        return items, encode_cursor([items[-1]["run_id"]])

    def run(self, run_id: str) -> dict[str, Any] | None:
        """One run's whole record, as the run log holds it."""
        found = self.rows("SELECT record FROM runs WHERE run_id = ?", [run_id])
        return json.loads(found[0]["record"]) if found else None

    def anomalies(self, limit: int, provider: str | None) -> list[dict[str, Any]]:
        """Warn and alert verdicts of the recorded runs, newest run first."""
        found = []
        for row in self.rows("SELECT run_id, record FROM runs ORDER BY run_id DESC", []):
            verdicts = (json.loads(row["record"]).get("anomaly") or {}).get("verdicts") or []
            found += [
                {"run_id": row["run_id"], **verdict}
                for verdict in verdicts
                if verdict.get("verdict") in ALERT_LEVELS
                and provider in (None, verdict.get("provider"))
            ]
            if len(found) >= limit:
                break
        return found[:limit]


def _interrupt(con: duckdb.DuckDBPyConnection) -> None:
    """Stop the query running on ``con``; a connection closed meanwhile has nothing to stop."""
    try:
        con.interrupt()
    except duckdb.Error:
        return
