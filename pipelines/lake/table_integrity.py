"""Every table of the lake checked and repaired alike: the products at the lake's root, every
other table in its folder (``datasets.py``: ``orders/``, ``order_lines/``).

``check_table_manifests`` and ``check_table_states`` are a run's checks, before any work, of the
tables it writes: their manifests parse and their state is readable or can be rebuilt.
``verify_tables`` and ``repair_tables`` are the ``verify`` and ``repair`` commands over every
table that holds a commit or a state: files, manifests, and the dedup state, which ``repair``
rebuilds from the table's committed manifests when it cannot be read (as a run's commit does).
Lines name lake paths from the lake's root (``orders/_manifests/<run_id>.json``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from pipelines.errors import ConfigError, LakeDamagedError
from pipelines.lake.datasets import DATASETS, Table, present_tables
from pipelines.lake.dedup import StateUnreadableError
from pipelines.lake.integrity import RepairReport, check_manifests, repair, verify_lake
from pipelines.lake.lake import Lake
from pipelines.lake.state_repair import (
    check_state,
    read_whole_state,
    readable_state_meta,
    rebuild_state,
)
from pipelines.lake.state_save import save_state
from pipelines.lake.storage import Storage

STATE_HINT = "`run_pipeline.py repair` rebuilds it from the committed manifests"


def check_table_manifests(root: Storage, datasets: Iterable[str]) -> None:
    """Before a run: each table of ``datasets`` has readable manifests, one per run its state
    lists as committed; else a ``LakeDamagedError`` naming the file (exit 2)."""
    for table in _tables(datasets):
        storage = table.storage(root)
        applied = (readable_state_meta(storage) or {}).get("applied_runs", [])
        check_manifests(Lake(storage), applied)


def check_table_states(root: Storage, datasets: Iterable[str]) -> None:
    """Before a run: each table of ``datasets`` has a state that is readable or can be rebuilt
    at the commit (``state_repair.check_state``); else a ``ConfigError`` naming the file."""
    for table in _tables(datasets):
        check_state(table.storage(root))


def _tables(datasets: Iterable[str]) -> list[Table]:
    return [table for name in datasets for table in DATASETS[name].tables]


@dataclass
class Verified:
    """What ``verify_tables`` found: one line per problem, and what it checked."""

    problems: list[str] = field(default_factory=list)
    files: int = 0
    runs: int = 0


def verify_tables(root: Storage) -> Verified:
    """Every present table's committed files against its manifests, and its state."""
    verified = Verified()
    for table in present_tables(root):
        lake = Lake(table.storage(root))
        where = _where(table)
        try:
            applied = read_whole_state(lake.storage).applied_runs
        except StateUnreadableError as exc:
            verified.problems.append(f"{exc}; {STATE_HINT}")
            applied = set()
        verified.problems += verify_lake(lake, applied, where)
        verified.runs += len(lake.manifest_ids())
        verified.files += sum(len(m["files"]) for m in _readable_manifests(lake))
    return verified


@dataclass
class TableRepair:
    """What ``repair`` did to one table: its manifests, and its state (a line, or None)."""

    where: str  # the table's folder from the lake's root ("" for products, "orders/")
    report: RepairReport
    state: str | None = None
    state_failed: bool = False


def repair_tables(root: Storage) -> list[TableRepair]:
    """Repair every present table: its damaged manifests (``integrity.repair``), then its
    state when it cannot be read (rebuilt from the manifests; the watermarks are lost)."""
    repaired = []
    for table in present_tables(root):
        storage = table.storage(root)
        applied = (readable_state_meta(storage) or {}).get("applied_runs", [])
        result = TableRepair(_where(table), repair(Lake(storage), applied))
        try:
            read_whole_state(storage)
        except StateUnreadableError as exc:
            _rebuild(table, storage, exc, result)
        repaired.append(result)
    return repaired


def _rebuild(
    table: Table, storage: Storage, cause: StateUnreadableError, result: TableRepair
) -> None:
    try:
        state = rebuild_state(storage, cause, table)
    except ConfigError as exc:
        result.state, result.state_failed = str(exc), True
        return
    save_state(storage, state)
    result.state = (
        f"{result.where}state/: rebuilt from {len(state.applied_runs)} committed manifest(s) "
        f"({len(state)} {table.name} key(s)); the provider watermarks it held are lost, "
        "so the next pull of each incremental provider reads everything once"
    )


def _where(table: Table) -> str:
    return f"{table.folder}/" if table.folder else ""


def _readable_manifests(lake: Lake) -> list[dict]:
    found = []
    for run_id in lake.manifest_ids():
        try:
            found.append(lake.read_manifest(run_id) or {"files": []})
        except LakeDamagedError:
            continue
    return found
