"""``verify`` and ``repair`` check and mend every table of the lake, the order tables' folders
as the products at the root: files against manifests, manifests against the state, and the
dedup state itself. On the offline demo with both datasets."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.pipelines.test_cli import cli

BOTH = ("--offline", "--datasets", "products,orders")


@pytest.fixture(scope="module")
def landed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo lake with products and orders of one run (copied by each test)."""
    root = tmp_path_factory.mktemp("landed")
    result = cli(*BOTH, cwd=root)
    assert result.returncode == 0, result.stderr
    return root


@pytest.fixture
def lake(landed: Path, tmp_path: Path) -> Path:
    shutil.copytree(landed / "data", tmp_path / "data")
    return tmp_path


def demo(path: Path) -> Path:
    return path / "data" / "demo"


def test_verify_checks_the_order_tables_too(lake: Path) -> None:
    whole = cli("verify", "--offline", cwd=lake)
    part = next((demo(lake) / "order_lines" / "normalized").rglob("*.parquet"))
    with part.open("ab") as handle:
        handle.write(b"x")

    damaged = cli("verify", "--offline", cwd=lake)

    assert whole.returncode == 0, whole.stdout
    assert "committed file(s) of 3 run(s) match" in whole.stdout  # products, orders, lines
    assert damaged.returncode == 1
    rel = part.relative_to(demo(lake)).as_posix()
    assert f"{rel}: {part.stat().st_size} bytes, the manifest says" in damaged.stdout


def test_a_lost_orders_manifest_stops_runs_and_repair_rebuilds_it(lake: Path) -> None:
    manifest = next((demo(lake) / "orders" / "_manifests").glob("*.json"))
    manifest.unlink()
    rel = manifest.relative_to(demo(lake)).as_posix()

    verify = cli("verify", "--offline", cwd=lake)
    run = cli(*BOTH, "--providers", "shopify", cwd=lake)
    repair = cli("repair", "--offline", cwd=lake)
    again = cli("verify", "--offline", cwd=lake)

    assert verify.returncode == 1
    assert f"{rel}: missing (run {manifest.stem} is in the state)" in verify.stdout
    assert run.returncode == 2
    assert f"data/demo/{rel}: manifest missing, though state/state.json lists run" in run.stderr
    assert repair.returncode == 0, repair.stdout
    assert f"{rel}: rebuilt from the run's files" in repair.stdout
    assert again.returncode == 0, again.stdout


def test_repair_rebuilds_an_unreadable_order_lines_state(lake: Path) -> None:
    state = demo(lake) / "order_lines" / "state" / "state.json"
    state.write_text("{ truncated", encoding="utf-8")

    verify = cli("verify", "--offline", cwd=lake)
    repair = cli("repair", "--offline", cwd=lake)
    again = cli(*BOTH, "--providers", "shopify", cwd=lake)

    assert verify.returncode == 1
    assert "data/demo/order_lines/state/state.json is unreadable" in verify.stdout
    assert "`run_pipeline.py repair` rebuilds it" in verify.stdout
    assert repair.returncode == 0, repair.stdout
    assert "order_lines/state/: rebuilt from 1 committed manifest(s) (20 order_lines key(s))" in (
        repair.stdout
    )
    assert again.returncode == 0, again.stderr
    # the rebuilt state knows every line: the same orders pulled again write nothing
    assert "order_lines 0 new 0 changed; orders 0 new 0 changed" in again.stdout


def test_a_run_rebuilds_an_unreadable_orders_state_at_its_commit(lake: Path) -> None:
    (demo(lake) / "orders" / "state" / "state.json").write_text("", encoding="utf-8")

    again = cli(*BOTH, "--providers", "ebay", cwd=lake)

    assert again.returncode == 0, again.stderr
    assert "orders.ebay: ok, 4 records (0 quarantined, 0 dropped); order_lines 0 new" in (
        again.stdout
    )
    assert "orders 0 new 0 changed" in again.stdout  # not 4 new: the state came back whole
    assert "orders/state/state.json is unreadable" in again.stderr
