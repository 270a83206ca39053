"""What a run prints at its end: the per-provider summary, and the dry run's preview."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipelines.cli.tables import print_table
from pipelines.run.options import RunResult
from providers.base import Provider

SUMMARY_COLUMNS = ("fetched", "new", "changed", "unchanged", "quarantined", "dropped", "written",
                   "api_calls", "cache_hits")  # fmt: skip


def _nothing_to_write(entry: Mapping[str, object]) -> str:
    """Why a provider's dry-run preview is empty: its status, or no new or changed row."""
    if entry["status"] == "ok":
        return "no new, changed or deleted row"
    return f"{entry['status']} (see the note above)"


def dataset_line(pull: str, entry: Mapping[str, Any]) -> str:
    """``orders.shopify: ok, 6 records (0 quarantined, 0 dropped); orders 6 new 0 changed; …``"""
    if entry.get("status") != "ok":
        return f"{pull}: {entry.get('status')} {entry.get('error') or entry.get('reason') or ''}"
    tables = "; ".join(
        f"{name} {counts.get('new', 0)} new {counts.get('changed', 0)} changed"
        for name, counts in entry.get("tables", {}).items()
    )
    return (
        f"{pull}: ok, {entry.get('records', 0)} records ({entry.get('quarantined', 0)} "
        f"quarantined, {entry.get('dropped', 0)} dropped); {tables}"
    )


def print_summary(
    result: RunResult,
    root: Path,
    *,
    dry_run: bool,
    providers: Mapping[str, Provider] | None = None,
) -> None:
    """The per-provider table, what ``fetched`` counts where a raw record holds several rows
    (Shopify: products of variant rows), then where the data went (or would go)."""
    rows = []
    for name, entry in result.record["providers"].items():
        note = entry.get("reason") or entry.get("error") or ""
        rows.append((name, entry["status"], *(str(entry[c]) for c in SUMMARY_COLUMNS), note))
    print_table(("provider", "status", *SUMMARY_COLUMNS, "note"), rows)
    for name, entry in result.record["providers"].items():
        provider = (providers or {}).get(name)
        if provider is not None and provider.row_noun != "rows" and "records" in entry:
            print(f"{name}: {entry['records']} {provider.record_noun} fetched as "
                  f"{entry['fetched']} {provider.row_noun}")  # fmt: skip
    for entry in result.record["providers"].values():
        for warning in entry.get("warnings") or ():
            print(f"warning: {warning}")
    for pull, entry in (result.record.get("datasets") or {}).items():
        print(dataset_line(pull, entry))
    if dry_run:
        print("\nDry run: nothing was written. Rows that would be written (first 5 per provider):")
        for name, entry in result.record["providers"].items():
            preview = result.previews.get(name) or ()
            if not preview:
                print(f"  {name:<8} nothing: {_nothing_to_write(entry)}")
            for row in preview:
                price = f"{row['price_amount']} {row['currency']}" if row["price_amount"] else "-"
                print(f"  {name:<8} {row['change_type']:<8} {row['source_id']:<40} "
                      f"{row['title'][:40]:<40} {price}")  # fmt: skip
        return
    print(f"\nRun {result.record['run_id']} -> {root}/normalized (exit code {result.exit_code})")
