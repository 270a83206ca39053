"""The run log: one JSON line per run in ``runs.jsonl``, mirrored to ``runs.sqlite``.

The JSONL file is the source of truth (anomaly detection reads it); SQLite is
a convenience for ad-hoc queries: ``runs`` holds one row per run and
``provider_runs`` one row per provider and run. With an object-store lake the
source of truth is ``_log/runs.jsonl`` in the lake (every machine writing to the
lake shares it); ``logs/`` then keeps this machine's runs as a local mirror.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path
from typing import Any

from pipelines.lake.storage import Storage
from pipelines.net.secrets import mask_data

LAKE_RUNLOG = "_log/runs.jsonl"
COUNTERS = (
    "fetched", "new", "changed", "unchanged", "quarantined", "dropped", "written",
    "api_calls", "cache_hits", "retries",
)  # fmt: skip

log = logging.getLogger("pipeline.runlog")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY, started_at TEXT, ended_at TEXT, duration_seconds REAL,
    mode TEXT, exit_code INTEGER, record TEXT
);
CREATE TABLE IF NOT EXISTS provider_runs (
    run_id TEXT, provider TEXT, status TEXT, reason TEXT, error TEXT,
    fetched INTEGER, new INTEGER, changed INTEGER, unchanged INTEGER, quarantined INTEGER,
    dropped INTEGER, written INTEGER, api_calls INTEGER, cache_hits INTEGER, retries INTEGER,
    PRIMARY KEY (run_id, provider)
);
"""


def append_run(log_dir: Path, record: dict[str, Any]) -> None:
    """Append ``record`` (secrets masked) to ``runs.jsonl`` and mirror it into ``runs.sqlite``.

    The mirror never fails the run: an unreadable ``runs.sqlite`` is set aside as
    ``runs.sqlite.corrupt`` and rebuilt from ``runs.jsonl``, and if even that fails the run
    only logs a warning naming the file.
    """
    record = mask_data(record)
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / "runs.jsonl").open("a") as handle:
        handle.write(json.dumps(record, sort_keys=True, default=str) + "\n")
    path = log_dir / "runs.sqlite"
    try:
        mirror_to_sqlite(path, [record])
    except sqlite3.DatabaseError as exc:
        log.warning("%s is unreadable (%s): rebuilt from runs.jsonl", path, exc)
        try:
            path.replace(path.with_name(path.name + ".corrupt"))
            mirror_to_sqlite(path, read_runs(log_dir))
        except (OSError, sqlite3.Error, KeyError, TypeError) as again:
            log.warning("%s could not be rebuilt (%s); runs.jsonl holds every run", path, again)
    except OSError as exc:
        log.warning("%s could not be written (%s); runs.jsonl holds every run", path, exc)


def mirror_to_sqlite(path: Path, records: list[dict[str, Any]]) -> None:
    """Insert (or replace) runs in the SQLite mirror."""
    with sqlite3.connect(path) as db:
        db.executescript(_SCHEMA)
        for record in records:
            _insert(db, record)
    db.close()


def _insert(db: sqlite3.Connection, record: dict[str, Any]) -> None:
    db.execute(
        "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            record["run_id"], record["started_at"], record["ended_at"],
            record["duration_seconds"], record["mode"], record["exit_code"],
            json.dumps(record, sort_keys=True, default=str),
        ),
    )  # fmt: skip
    for name, entry in record["providers"].items():
        db.execute(
            f"INSERT OR REPLACE INTO provider_runs VALUES ({', '.join('?' * 15)})",
            (
                record["run_id"], name, entry["status"], entry.get("reason"),
                entry.get("error"), *(entry.get(c, 0) for c in COUNTERS),
            ),
        )  # fmt: skip


def read_runs(log_dir: Path) -> list[dict[str, Any]]:
    """Every run recorded in ``runs.jsonl``, oldest first; a torn last line is skipped."""
    path = log_dir / "runs.jsonl"
    if not path.exists():
        return []
    return parse_runs(path.read_text(), str(path))


def parse_runs(text: str, where: str) -> list[dict[str, Any]]:
    """The records of a ``runs.jsonl`` text; lines that are not JSON are skipped with a warning."""
    runs = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            runs.append(json.loads(line))
        except ValueError:
            log.warning("%s line %d is not valid JSON (a run killed while writing?); skipped",
                        where, number)  # fmt: skip
    return runs


def read_lake_runs(storage: Storage, path: str = LAKE_RUNLOG) -> list[dict[str, Any]]:
    """The run log kept in an object-store lake (``_log/runs.jsonl``), oldest first."""
    data = storage.read_bytes(path)
    return [] if data is None else parse_runs(data.decode(), f"{storage.uri}/{path}")


def append_lake_run(storage: Storage, record: dict[str, Any], path: str = LAKE_RUNLOG) -> None:
    """Add ``record`` to the lake's run log (or the log at ``path``): read, append, write back
    in one PUT.

    Object stores cannot append, so the caller holds the lake's commit lock around this.
    A record already there (a report step run again) is replaced, not duplicated.
    """
    record = mask_data(record)
    runs = [r for r in read_lake_runs(storage, path) if r["run_id"] != record["run_id"]]
    lines = [json.dumps(r, sort_keys=True, default=str) for r in [*runs, record]]
    storage.write_bytes(path, ("\n".join(lines) + "\n").encode())
