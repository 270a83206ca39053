"""A dry run's preview says, per provider, the rows it would write or why there are none."""

from __future__ import annotations

from pathlib import Path

from tests.pipelines.test_cli import cli


def test_the_preview_lists_the_rows_a_passing_provider_would_write(tmp_path: Path) -> None:
    result = cli("--offline", "--providers", "shopify", "--limit", "10", "--dry-run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    preview = result.stdout.split("Rows that would be written (first 5 per provider):")[1]
    assert preview.count("gid://shopify/ProductVariant/") == 5
    assert not (tmp_path / "data").exists()


def test_a_provider_stopped_by_the_gate_is_named_in_the_preview(tmp_path: Path) -> None:
    # Shopify's first ten demo products hold one bad row in 22: over a gate of 1%.
    (tmp_path / "strict.toml").write_text("[quality]\nreject_threshold = 0.01\n")
    args = ("--offline", "--providers", "shopify", "--limit", "10", "--dry-run")
    result = cli(*args, "--config", "strict.toml", cwd=tmp_path)
    assert result.returncode == 3
    preview = result.stdout.split("Rows that would be written (first 5 per provider):")[1]
    assert preview.strip() == "shopify  nothing: quality_failed (see the note above)"
