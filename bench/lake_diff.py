"""Do two lakes hold the same rows? Every column but the documented per-run and hash ones.

Compares the committed ``normalized`` and ``quarantine`` rows of two lakes as multisets
(DuckDB ``EXCEPT ALL`` both ways, so neither is held in Python), leaving out ``IGNORED``: when
a run read the record (``fetched_at``), which run wrote it (``run_id``) and the two hashes,
whose definitions may change with a recorded hash version (docs/lake.md).

    python bench/lake_diff.py LAKE REFERENCE_LAKE     # exit 0: same rows; 1: differences
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb

IGNORED = ("fetched_at", "run_id", "raw_hash", "content_hash")
ZONES = ("normalized", "quarantine")


def _source(lake: Path, zone: str) -> str | None:
    files = sorted((lake / zone).glob("dt=*/source=*/*.parquet"))
    if not files:
        return None
    listed = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
    return f"read_parquet([{listed}], hive_partitioning = false, union_by_name = true)"


def _columns(db: duckdb.DuckDBPyConnection, source: str) -> list[str]:
    names = [row[0] for row in db.sql(f"DESCRIBE SELECT * FROM {source}").fetchall()]
    return [f'"{name}"' for name in names if name not in IGNORED]


def _missing(db: duckdb.DuckDBPyConnection, one: str, other: str, columns: list[str]) -> int:
    """Rows of ``one`` that ``other`` lacks (counting repeats)."""
    chosen = ", ".join(columns)
    query = f"SELECT {chosen} FROM {one} EXCEPT ALL SELECT {chosen} FROM {other}"
    return db.sql(f"SELECT count(*) FROM ({query})").fetchall()[0][0]


def differences(lake: Path, reference: Path) -> list[str]:
    """One line per zone whose rows differ, saying how many rows each side has of its own."""
    db = duckdb.connect()
    found = []
    for zone in ZONES:
        ours, theirs = _source(lake, zone), _source(reference, zone)
        if ours is None or theirs is None:
            if (ours is None) != (theirs is None):
                found.append(
                    f"{zone}: only {'the reference' if ours is None else 'the lake'} has rows"
                )
            continue
        columns = _columns(db, ours)
        if columns != _columns(db, theirs):
            found.append(f"{zone}: the columns differ")
            continue
        only_ours = _missing(db, ours, theirs, columns)
        only_theirs = _missing(db, theirs, ours, columns)
        if only_ours or only_theirs:
            found.append(f"{zone}: {only_ours} rows only in the lake, "
                         f"{only_theirs} only in the reference")  # fmt: skip
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: lake_diff.py LAKE REFERENCE_LAKE", file=sys.stderr)
        return 2
    found = differences(Path(argv[0]), Path(argv[1]))
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
