"""How many runs' reports ``logs/`` keeps: ``[pipeline] keep_reports``, the newest first."""

from __future__ import annotations

from pathlib import Path

REPORT_SUFFIXES = (".md", ".html")


def prune_reports(log_dir: Path, keep: int) -> list[Path]:
    """Delete the reports (``report-<run_id>.md`` and ``.html``) of all but the newest ``keep``
    runs; returns what was deleted. Run ids start with their UTC start time, so their order
    is the runs' order."""
    reports = [p for p in log_dir.glob("report-*") if p.suffix in REPORT_SUFFIXES]
    stems = sorted({p.stem for p in reports})
    old = set(stems[: max(len(stems) - keep, 0)])
    deleted = [p for p in reports if p.stem in old]
    for path in deleted:
        path.unlink(missing_ok=True)
    return deleted
