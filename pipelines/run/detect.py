"""What the detect step adds to the volume verdicts: acknowledged runs, the datasets' volumes,
mass-delete alerts, and the one-line descriptions the run log and the summary show.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipelines.checks.anomaly import AnomalyConfig, AnomalyReport, Verdict, detect_anomalies
from pipelines.checks.dataset_anomaly import detect_dataset_anomalies

ACKNOWLEDGED_FILE = "acknowledged_runs.txt"


def acknowledged_runs(log_dir: Path) -> frozenset[str]:
    """Runs an operator acknowledged (one run id per line): their volumes train the detector."""
    path = log_dir / ACKNOWLEDGED_FILE
    if not path.exists():
        return frozenset()
    return frozenset(line.strip() for line in path.read_text().splitlines() if line.strip())


def judge_volumes(
    history: list[dict[str, Any]],
    record: dict[str, Any],
    config: AnomalyConfig,
    acknowledged: frozenset[str],
    mass_deletes: list[Verdict],
) -> AnomalyReport:
    """Every volume verdict of the run: the products' counters, each dataset's declared
    volumes (``pipelines/checks/dataset_anomaly.py``), then the mass-delete alerts."""
    report = detect_anomalies(history, record, config, acknowledged)
    report.verdicts += detect_dataset_anomalies(history, record, config, acknowledged)
    report.verdicts += mass_deletes
    return report


def mass_delete_alerts(written: Mapping[str, Any]) -> list[Verdict]:
    """An alert for each provider whose complete pull the deletion guard stopped."""
    return [
        Verdict(
            name,
            "mass_delete",
            float(entry["mass_delete"]["would_delete"]),
            "alert",
            z=0.0,
            median=float(entry["mass_delete"]["held"]),
        )
        for name, entry in written.items()
        if isinstance(entry, dict) and entry.get("mass_delete")
    ]


def shard_anomaly(shard: str, mass_deletes: list[Verdict]) -> dict[str, Any]:
    """A shard's ``"anomaly"``: no volume verdict (its volumes are a share of the run, judged
    over the whole run by ``gha-finalize``), only its own mass-delete alerts. ``shard`` marks
    it, for the report, the summary and the metrics."""
    return {
        "version": 1,
        "worst": AnomalyReport(verdicts=mass_deletes).worst,
        "verdicts": [v.to_dict() for v in mass_deletes],
        "shard": shard,
    }


def describe_alerts(anomaly: AnomalyReport) -> list[str]:
    """One phrase per alert: provider, metric, value and the usual level."""
    return [
        f"{v.dataset + ' ' if v.dataset else ''}{v.provider} {v.metric}"
        f"{' on ' + v.day if v.day else ''} {v.value:g} vs median {v.median:g} (z {v.z:+.1f})"
        for v in anomaly.alerts
    ]
