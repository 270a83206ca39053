"""Incidents of a run, from its run-log record: what is wrong now, under a stable identity.

An incident is ``kind/provider/metric`` — the same identity as the GitHub issues (one per
provider and kind, ``pipelines/cli/commands/file_issues.py``), narrowed to the metric so that
a ``fetched`` drop and a ``new`` spike are two incidents. Comparing the incidents of a run with
those still open (``pipelines/run/notify.py`` keeps them) gives the events to announce: an
incident seen for the first time opens, one the run shows healthy again recovers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# kind: (event when it opens, event when it recovers; None: it lapses without a message)
KINDS: dict[str, tuple[str, str | None]] = {
    "failure": ("failure", "recovered"),
    "quality": ("quality_gate_failed", "recovered"),
    "anomaly": ("anomaly_opened", "anomaly_recovered"),
    "deletion_guard": ("deletion_guard_tripped", "recovered"),
    "quota": ("quota_reached", None),
}
BUDGET_EXHAUSTED = "budget_exhausted"  # a provider's status when its daily API budget ran out


@dataclass(frozen=True)
class Incident:
    """Something wrong with one provider, and the line that says what."""

    kind: str
    provider: str
    metric: str
    detail: str

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.provider}/{self.metric}"


def _day(record: Mapping[str, Any]) -> str:
    return str(record.get("started_at", ""))[:10]


def _entries(record: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The run's providers' entries and its dataset pulls' (``orders.shopify``), by name."""
    return {**record.get("providers", {}), **(record.get("datasets") or {})}


def verdict_subject(verdict: Mapping[str, Any]) -> str:
    """Whom a volume verdict is about: its provider, or its dataset pull (``orders.shopify``)."""
    provider = str(verdict.get("provider"))
    return f"{verdict['dataset']}.{provider}" if verdict.get("dataset") else provider


def _provider_incidents(record: Mapping[str, Any]) -> Iterator[Incident]:
    for name, entry in _entries(record).items():
        status, error = entry.get("status"), entry.get("error") or entry.get("reason") or ""
        if status == "failed":
            yield Incident("failure", name, "status", f"{name} failed: {error}")
        elif status == "quality_failed":
            yield Incident("quality", name, "quality_gate", f"{name}: {error}")
        elif status == BUDGET_EXHAUSTED:
            detail = f"{name} reached its API budget for {_day(record)}: {error}"
            yield Incident("quota", name, f"budget_{_day(record)}", detail)


def _verdict_incidents(record: Mapping[str, Any]) -> Iterator[Incident]:
    for v in (record.get("anomaly") or {}).get("verdicts", []):
        if v.get("verdict") != "alert":
            continue
        provider, metric = verdict_subject(v), str(v.get("metric"))
        if metric == "mass_delete":
            detail = (f"{provider}: the deletion guard held back {v.get('value', 0):g} deletions "
                      f"of {v.get('median', 0):g} held products")  # fmt: skip
            yield Incident("deletion_guard", provider, metric, detail)
        else:
            detail = (f"{provider} {metric} {v.get('value', 0):g} vs median "
                      f"{v.get('median', 0):g} (z {v.get('z') or 0:+.1f})")  # fmt: skip
            yield Incident("anomaly", provider, metric, detail)


def incidents_of(record: Mapping[str, Any]) -> dict[str, Incident]:
    """Every incident ``record`` shows, by key."""
    found = [*_provider_incidents(record), *_verdict_incidents(record)]
    return {incident.key: incident for incident in found}


def healthy(record: Mapping[str, Any], kind: str, provider: str, metric: str) -> bool:
    """Whether ``record`` shows an open incident's condition cleared.

    Only evidence counts: a provider this run did not pull (another shard's, a failed one for
    an anomaly) leaves its incidents open."""
    entry = _entries(record).get(provider)
    if entry is None:
        return False
    if kind in ("failure", "quality", "deletion_guard"):
        return entry.get("status") == "ok"
    if kind == "anomaly":
        verdicts = (record.get("anomaly") or {}).get("verdicts", [])
        return any(
            verdict_subject(v) == provider
            and v.get("metric") == metric
            and v.get("verdict") != "alert"
            for v in verdicts
        )
    return True  # a quota lapses with its day
