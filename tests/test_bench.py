"""The benchmark harness (bench/) works: its input, its table, its check. Nothing is timed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

from bench_replay import catalog, write_changes, write_raw  # noqa: E402
from lake_diff import differences  # noqa: E402
from results import COLUMNS, END, START  # noqa: E402


def test_the_input_is_the_same_for_the_same_seed_and_holds_the_rows_asked(tmp_path):
    first = write_raw(tmp_path / "a", 500, seed=7)
    again = write_raw(tmp_path / "b", 500, seed=7)
    other = write_raw(tmp_path / "c", 500, seed=8)
    read = [next(r.rglob("*.jsonl.zst")).read_bytes() for r in (first, again, other)]
    assert read[0] == read[1] != read[2]
    counts = [variants for _, variants in catalog(500, seed=7)]
    assert sum(counts) == 500
    assert set(counts[:-1]) == {1, 2, 3, 4}
    _, changed = write_changes(tmp_path / "d", 500, 30, seed=7)
    assert changed == 30


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> tuple[str, Path]:
    """One tiny run of the whole harness, ours only, with the reference check."""
    docs = tmp_path_factory.mktemp("docs") / "page.md"
    docs.write_text(f"# Page\n\n{START}\nold table\n{END}\n\nAfter.\n")
    command = [sys.executable, str(BENCH / "bench_targets.py"), "--sizes", "2000",
               "--repeat", "1", "--no-dlt", "--changes", "40", "--check-up-to", "2000",
               "--write-docs", str(docs)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout, docs


def table_rows(markdown: str) -> list[list[str]]:
    lines = [line for line in markdown.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def test_the_table_has_every_scenario_and_its_columns(smoke):
    output, _ = smoke
    header, _, *rows = table_rows(output)
    assert tuple(header) == COLUMNS
    by_run = {row[1]: dict(zip(COLUMNS, row, strict=True)) for row in rows}
    assert list(by_run) == ["first run", "unchanged re-run", "40-product change run"]
    assert by_run["first run"]["rows written"] == "2,000"
    assert by_run["unchanged re-run"]["rows written"] == "0"
    assert "of the first run's wall" in by_run["unchanged re-run"]["compared"]
    assert int(by_run["40-product change run"]["rows written"]) > 40  # variants, not products
    assert all(row["peak RSS"].endswith(" MiB") for row in by_run.values())


def test_the_run_says_where_and_checks_against_the_reference(smoke):
    output, docs = smoke
    assert "--sizes 2000 --repeat 1 --no-dlt" in output
    assert output.count("load average") == 2
    assert "2,000 rows, first run, re-run and change run: every row identical" in output
    page = docs.read_text()
    assert "old table" not in page
    assert table_rows(output)[0] == table_rows(page)[0]
    assert page.startswith("# Page\n")
    assert page.endswith("\n\nAfter.\n")


def lake(folder: Path, rows: list[dict]) -> Path:
    part = folder / "normalized" / "dt=2026-12-06" / "source=shopify"
    part.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), part / "part-x-0.parquet")
    return folder


def test_lake_diff_ignores_the_hashes_and_run_but_not_a_business_value(tmp_path):
    row = {"source_id": "1", "price_amount": "9.99", "run_id": "a", "raw_hash": "x"}
    reference = lake(tmp_path / "reference", [row, {**row, "source_id": "2"}])
    same = lake(
        tmp_path / "same", [{**row, "run_id": "b", "raw_hash": "y"}, {**row, "source_id": "2"}]
    )
    other = lake(tmp_path / "other", [row, {**row, "source_id": "2", "price_amount": "8.99"}])
    assert differences(same, reference) == []
    assert differences(other, reference) == [
        "normalized: 1 rows only in the lake, 1 only in the reference"
    ]


def test_the_reference_path_has_no_fast_path_left() -> None:
    """The check compares with records normalized one at a time: no batch hook remains."""
    probe = (
        "import reference_replay as r\n"
        "from providers.base import Provider\n"
        "from providers.registry import builtin_providers\n"
        "r.per_record_only()\n"
        "for cls in builtin_providers():\n"
        "    assert getattr(cls, 'raw_table', None) is None, cls\n"
        "    assert cls.normalize_batch is Provider.normalize_batch, cls\n"
        "    assert cls.raw_keys is Provider.raw_keys, cls\n"
        "print('per record')\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=BENCH, capture_output=True,
                          text=True, env={"PYTHONPATH": str(BENCH.parent)})  # fmt: skip
    assert done.stdout.strip() == "per record", done.stderr
