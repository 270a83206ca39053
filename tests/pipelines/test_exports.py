"""``export --format csv|xlsx``: the current catalog, read back with the csv module and openpyxl."""

from __future__ import annotations

import csv
import json
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from pipelines.cli.main import main
from pipelines.exports.catalog import EXPORT_COLUMNS
from pipelines.exports.workbook import DATETIME_FORMAT, MONEY_FORMAT, sheet_name
from tests.pipelines.export_helpers import commit, product

RUN_1, RUN_2, RUN_3 = (
    "20261204T100000Z-aaaaaa",
    "20261205T100000Z-bbbbbb",
    "20261205T120000Z-cccccc",
)
HOSTILE = {
    "title": '=HYPERLINK("https://evil.example","click")',
    "brand": "+cmd|' /C calc'!A0",
    "description": '-2+3, "quoted",\nsecond line',
    "mpn": "@SUM(1+1)",
    "sku": "\t=1+1",
    "seller_name": "Bell\x07 and \x0bvertical tab",
}


def export(root: Path, *args: str) -> int:
    """``run_pipeline.py export`` on the lake at ``root``, into ``root/out``: its exit code."""
    try:
        return main(["export", "--data-dir", str(root), "--output", str(root / "out"), *args])
    except SystemExit as exc:  # argparse refused the arguments
        return int(exc.code or 0)


@pytest.fixture
def lake(workdir: Path) -> Path:
    """Three runs: A changed, B deleted, C unchanged since run 1, H hostile text; an
    uncommitted part (a killed run) with U."""
    root = workdir / "data"
    commit(root, RUN_1, [product("shopify", "A", title="A v1"), product("shopify", "B"),
                         product("amazon", "C", price_amount=Decimal("7"))])  # fmt: skip
    commit(root, RUN_2, [product("shopify", "A", title="A v2", change_type="changed"),
                         product("shopify", "B", change_type="deleted"),
                         product("amazon", "H", **HOSTILE)])  # fmt: skip
    commit(root, RUN_3, [product("shopify", "U")], manifest=False)
    return root


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames or ()) == EXPORT_COLUMNS
        return list(reader)


def test_csv_holds_the_current_committed_catalog(lake: Path, capsys) -> None:
    assert export(lake, "--format", "csv") == 0
    rows = read_csv(lake / "out/products.csv")
    assert [(r["source"], r["source_id"], r["title"]) for r in rows] == [
        ("amazon", "C", "Product C"),
        ("amazon", "H", "'" + HOSTILE["title"]),
        ("shopify", "A", "A v2"),
    ]  # fmt: skip (B was deleted; U was never committed)
    assert rows[2]["run_id"] == RUN_2
    assert f"{lake / 'out/products.csv'}: 3 row(s)" in capsys.readouterr().out


def test_csv_cells_are_exact_and_formulas_inert(lake: Path) -> None:
    assert export(lake, "--format", "csv", "--providers", "amazon") == 0
    c, hostile = read_csv(lake / "out/products.csv")
    assert (c["price_amount"], c["inventory_quantity"], c["list_price_amount"]) == (
        "7.0000",
        "3",
        "",
    )
    assert (c["fetched_at"], c["source_updated_at"]) == (
        "2026-12-04T10:00:00Z",
        "2026-12-04T09:30:00Z",
    )
    assert json.loads(c["tags"]) == ["a", "b"]
    for column, text in HOSTILE.items():
        expected = "'" + text if text[0] in "=+-@\t" else text
        assert hostile[column] == expected, column  # quotes, commas and line breaks survive
    assert not [v for row in (c, hostile) for v in row.values() if v[:1] in ("=", "+", "-", "@")]


def test_xlsx_has_a_summary_and_a_typed_sheet_per_provider(lake: Path) -> None:
    assert export(lake, "--format", "xlsx") == 0
    book = openpyxl.load_workbook(lake / "out/products.xlsx")
    assert book.sheetnames == ["Summary", "amazon", "shopify"]
    for sheet in book.worksheets:
        assert sheet.freeze_panes == "A2", sheet.title
        assert sheet.auto_filter.ref.startswith("A1:"), sheet.title
    amazon = book["amazon"]
    headers = [cell.value for cell in amazon[1]]
    assert headers[: len(EXPORT_COLUMNS)] == [
        f"{c} (UTC)" if c.endswith("_at") else c for c in EXPORT_COLUMNS
    ]
    assert amazon.auto_filter.ref == f"A1:{amazon.cell(1, len(headers)).column_letter}3"
    c = dict(zip(headers, list(amazon[2]), strict=True))
    assert (c["price_amount"].value, c["price_amount"].number_format) == (7, MONEY_FORMAT)
    assert c["inventory_quantity"].value == 3
    assert c["inventory_quantity"].data_type == "n"
    fetched = c["fetched_at (UTC)"]
    assert (fetched.value, fetched.number_format) == (datetime(2026, 12, 4, 10), DATETIME_FORMAT)
    assert c["list_price_amount"].value is None
    hostile = dict(zip(headers, list(amazon[3]), strict=True))
    for column, _text in HOSTILE.items():
        cell = hostile[column]
        assert cell.data_type == "s", column  # text, never a formula
        assert not str(cell.value).startswith(("=", "+", "-", "@")), column
    assert hostile["title"].value == "'" + HOSTILE["title"]
    assert hostile["seller_name"].value == "Bell and vertical tab"  # XML forbids the controls


def test_xlsx_summary_counts_rows_and_names_the_run(lake: Path) -> None:
    before = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    assert export(lake, "--format", "xlsx") == 0
    summary = openpyxl.load_workbook(lake / "out/products.xlsx")["Summary"]
    rows = [[cell.value for cell in row] for row in summary.iter_rows()]
    assert rows[:3] == [
        ["provider", "rows", "newest run_id", "newest fetched_at (UTC)"],
        ["amazon", 2, RUN_2, datetime(2026, 12, 5, 10)],
        ["shopify", 1, RUN_2, datetime(2026, 12, 5, 10)],
    ]
    facts = {row[0]: row[1] for row in rows[4:]}
    assert facts["lake's newest committed run"] == RUN_2
    assert before <= facts["exported at (UTC)"] <= datetime.now(UTC).replace(tzinfo=None)
    assert summary.auto_filter.ref == "A1:D3"


def test_sheet_names_follow_excels_rules() -> None:
    assert sheet_name("my/shop:[eu]") == "my_shop__eu_"
    assert len(sheet_name("x" * 40)) == 31
    assert sheet_name("summary") == "summary_"


def test_xlsx_without_openpyxl_says_which_extra_in_one_line(
    lake: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setitem(sys.modules, "openpyxl", None)  # import openpyxl now fails
    assert export(lake, "--format", "csv,xlsx") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "Traceback" not in err
    assert "openpyxl" in err
    assert "'export' dependencies" in err
    assert not (lake / "out").exists()  # nothing half-done


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "pdf"], "--format: expected csv, xlsx or gmc"),
        (["--format", "csv", "--providers", "etsy"], "--providers: unknown provider etsy"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(lake: Path, args, message, capsys) -> None:
    assert export(lake, *args) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
    assert not (lake / "out").exists()


def test_a_lake_missing_a_committed_part_is_refused(lake: Path, capsys) -> None:
    part = next((lake / "normalized").rglob(f"part-{RUN_1}-0.parquet"))
    part.unlink()
    assert export(lake, "--format", "csv") == 2
    err = capsys.readouterr().err
    assert "lacks 1 committed part(s), first normalized/dt=" in err
    assert err.count("\n") == 1
    assert not (lake / "out").exists()


def test_an_empty_lake_exports_headers_only(workdir: Path) -> None:
    assert export(workdir / "data", "--format", "csv,xlsx") == 0
    assert read_csv(workdir / "data/out/products.csv") == []
    assert openpyxl.load_workbook(workdir / "data/out/products.xlsx").sheetnames == ["Summary"]
