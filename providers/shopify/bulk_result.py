"""The JSONL a bulk operation leaves behind: download it, re-join child lines to their roots.

Each line is one object; a child's line (a product's variant, an order's line item) points
at its root with ``__parentId``. Since API 2026-01 lines are not grouped by parent
(``groupObjects`` defaults to false) and their order is not guaranteed, so the file is
streamed into a temporary SQLite database on disk and read back root by root, joined to its
children: memory stays flat whatever the file's size. Each root comes out in the shape a
paged pull gives it (``variants: {nodes, pageInfo}``, ``lineItems: {nodes, pageInfo}``), so
normalizing, hashing and dedup do not care how it was fetched. A ``clean`` function (the
buyer-data scrubber, for orders) sees every line before it is written to that database.

The result URL is signed and points at another host: it gets no Shopify token, never
appears in a log line or an error, and is registered with the secret mask in case.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from itertools import groupby, islice
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from pipelines.errors import ConfigError, FatalProviderError, RetriableProviderError
from pipelines.net.endpoints import check_endpoint
from pipelines.net.secrets import register_secret
from providers.base import FetchContext
from providers.shopify.queries import PRODUCTS_BULK, BulkShape

PROVIDER = "shopify"
WHAT = f"{PROVIDER} bulk result download"
DOWNLOAD_ATTEMPTS = 3
DOWNLOAD_BACKOFF_SECONDS = 0.5
INSERT_BATCH = 1000
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})

_SCHEMA = """
CREATE TABLE roots (seq INTEGER PRIMARY KEY, id TEXT, line TEXT NOT NULL);
CREATE TABLE children (seq INTEGER PRIMARY KEY, parent TEXT NOT NULL, line TEXT NOT NULL);
"""
_JOINED = """
SELECT r.seq, r.line, c.line FROM roots r LEFT JOIN children c ON c.parent = r.id
ORDER BY r.seq, c.seq
"""
_ORPHANS = "SELECT COUNT(*) FROM children WHERE parent NOT IN (SELECT id FROM roots)"
# A line's own text, or the ``clean`` function's (record, the connection a child line fills).
Clean = Callable[[dict[str, Any], str | None], dict[str, Any]]


@dataclass
class BulkTally:
    """What was read from a result file: lines, roots and the child lines joined to one."""

    lines: int = 0
    roots: int = 0
    joined: int = 0
    orphans: int = 0


class _TransientDownloadError(Exception):
    """A download attempt that may succeed when tried again."""


def read_bulk_result(
    ctx: FetchContext,
    url: str,
    tally: BulkTally | None = None,
    shape: BulkShape = PRODUCTS_BULK,
    clean: Clean | None = None,
) -> Iterator[dict[str, Any]]:
    """Root nodes (products) with their children (variants), from the result file at the
    signed ``url``, each line passed through ``clean`` first; ``tally`` counts what was read
    and joined."""
    tally = BulkTally() if tally is None else tally
    register_secret(url)
    register_secret(urlsplit(url).query)
    _check_url(url)
    with tempfile.TemporaryDirectory(prefix="shopify-bulk-") as folder:
        db = sqlite3.connect(Path(folder) / "result.sqlite")
        try:
            tally.lines = _load_with_retries(ctx, db, url, shape, clean)
            yield from _joined(ctx, db, tally, shape)
        except sqlite3.Error as exc:  # a full disk, say
            raise FatalProviderError(f"{WHAT}: temporary database in {folder}: {exc}") from None
        finally:
            db.close()


def _check_url(url: str) -> None:
    """https, or plain http on a loopback host (a test double), as for endpoint overrides."""
    try:
        check_endpoint("bulk result URL", url)
    except ConfigError:  # its message quotes the URL
        raise FatalProviderError(f"{WHAT}: the result URL is not https; refusing it") from None


def _load_with_retries(
    ctx: FetchContext, db: sqlite3.Connection, url: str, shape: BulkShape, clean: Clean | None
) -> int:
    """Load the file (again after a transient failure); the number of lines read."""
    attempt = 1
    while True:
        db.executescript("DROP TABLE IF EXISTS roots; DROP TABLE IF EXISTS children;" + _SCHEMA)
        try:
            lines = _load(db, _download_lines(ctx, url), shape, clean)
            break
        except _TransientDownloadError as exc:
            if attempt == DOWNLOAD_ATTEMPTS:
                raise RetriableProviderError(f"{WHAT}: {exc} after {attempt} attempts") from None
            ctx.stats.retries += 1
            ctx.log.warning("%s: %s; trying again (attempt %d)", WHAT, exc, attempt + 1)
            time.sleep(DOWNLOAD_BACKOFF_SECONDS * 2 ** (attempt - 1))
            attempt += 1
    db.execute("CREATE INDEX children_parent ON children (parent, seq)")
    db.commit()
    ctx.log.info("%s: %d lines", WHAT, lines)
    return lines


def _download_lines(ctx: FetchContext, url: str) -> Iterator[bytes]:
    """The file's lines as they arrive. No Shopify token; no URL in any message."""
    ctx.stats.api_calls += 1
    try:
        yield from ctx.http.download_lines(url, WHAT, _check_status)
    except requests.RequestException as exc:  # its text may hold the URL: keep only the type
        raise _TransientDownloadError(f"connection failed ({type(exc).__name__})") from None


def _check_status(status: int) -> None:
    if status in TRANSIENT_STATUSES:
        raise _TransientDownloadError(f"HTTP {status} {_phrase(status)}")
    if status != 200:
        raise FatalProviderError(
            f"{WHAT}: HTTP {status} {_phrase(status)} (a result URL expires 7 days after "
            "the operation ends)"
        )


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _load(
    db: sqlite3.Connection, lines: Iterable[bytes], shape: BulkShape, clean: Clean | None
) -> int:
    """Store roots and children (by parent) in arrival order; the number of lines read."""
    count = 0
    rows = (
        _row(number, line, shape, clean) for number, line in enumerate(lines, 1) if line.strip()
    )
    while batch := list(islice(rows, INSERT_BATCH)):
        count += len(batch)
        db.executemany(
            "INSERT INTO roots (id, line) VALUES (?, ?)", [r[1:] for r in batch if not r[0]]
        )
        db.executemany(
            "INSERT INTO children (parent, line) VALUES (?, ?)", [r[1:] for r in batch if r[0]]
        )
    return count


def _row(
    number: int, line: bytes, shape: BulkShape, clean: Clean | None
) -> tuple[bool, str | None, str]:
    """(is a child, root id or parent id, the line as stored) for one JSONL line."""
    try:
        record = json.loads(line)
    except ValueError as exc:
        raise FatalProviderError(f"{WHAT}: line {number} is not JSON ({exc})") from None
    if not isinstance(record, dict):
        raise FatalProviderError(f"{WHAT}: line {number} is not a JSON object")
    parent = record.get("__parentId")
    if clean is None:
        text = line.decode("utf-8")
    else:
        text = json.dumps(clean(record, shape.children if parent else None))
    return (True, str(parent), text) if parent else (False, record.get("id"), text)


def _joined(
    ctx: FetchContext, db: sqlite3.Connection, tally: BulkTally, shape: BulkShape
) -> Iterator[dict[str, Any]]:
    (tally.orphans,) = db.execute(_ORPHANS).fetchone()
    if tally.orphans:
        ctx.log.warning(
            "%s: %d %s line(s) point at none of the %s in the file",
            WHAT,
            tally.orphans,
            shape.child,
            shape.roots,
        )
    for _, rows in groupby(db.execute(_JOINED), key=lambda row: row[0]):
        rows = list(rows)
        children = [child for _, _, child in rows if child is not None]
        tally.roots += 1
        tally.joined += len(children)
        yield rejoin(rows[0][1], children, shape.children)


def rejoin(root_line: str, child_lines: list[str], children: str) -> dict[str, Any]:
    """One root node in the paged pull's shape: ``<children>: {nodes, pageInfo}``.

    The file lists children in no promised order, so they are put in id order: a record read
    twice is the same record (and hashes the same), and matches a paged pull's when Shopify
    lists them in the order they were created."""
    root = json.loads(root_line)
    nodes = []
    for line in child_lines:
        child = json.loads(line)
        child.pop("__parentId", None)
        nodes.append(child)
    nodes.sort(key=_id_order)
    root[children] = {"nodes": nodes, "pageInfo": {"hasNextPage": False}}
    return root


def _id_order(node: dict[str, Any]) -> tuple[int, str]:
    """``gid://shopify/LineItem/101`` sorts by its number, then by the whole id."""
    gid = str(node.get("id"))
    tail = gid.rsplit("/", 1)[-1]
    return (int(tail) if tail.isdigit() else -1, gid)
