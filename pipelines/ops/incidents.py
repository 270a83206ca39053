"""Volume-anomaly incidents: which provider metrics alert, when they recovered, their history.

An incident is one provider's metric (``shopify``/``fetched``); ``total`` is one only when no
provider alerts on the same metric in the run (a provider's drop explains the total's). A
dataset beyond products has incidents of its own (``orders``/``shopify``/``orders_fetched``,
from its verdicts' ``dataset``): the dataset is in the issue's title, marker and labels. Each
incident has one GitHub issue (``file-issues``); its body shows the metric's recent runs as a
table with dates and a mermaid ``xychart-beta`` chart. Pure functions over run-log records.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipelines.checks.history import TOTAL
from pipelines.net.markup import markdown_cell, plain_text

HISTORY_RUNS = 12  # runs shown in an issue's table and chart
RECOVERED_RUNS = 3  # default K: runs back in the band before an issue is closed
REOPEN_DAYS = 7.0  # default: a closed issue breaking again within this is reopened
IN_BAND = ("ok", "warn")  # inside the alert band
MARKER_RE = re.compile(
    r"<!-- pipeline-incident: volume-anomaly/(?:([\w.-]+)/)?([\w.-]+)/([\w.-]+) -->"
)


def comment_safe(text: str) -> str:
    """``text`` fit for an HTML comment marker: nothing but word characters, dots and dashes."""
    return re.sub(r"[^\w.-]", "_", text)


def chart_safe(text: str) -> str:
    """``text`` fit for a chart label: ASCII letters, digits, ``_`` and ``-``, 40 at most
    (no dot, so no host name a renderer could turn into a link)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)[:40]


@dataclass(frozen=True)
class Incident:
    """One provider's metric (or ``total``'s), the subject of one issue; ``dataset`` names a
    dataset beyond products ("" for products)."""

    provider: str
    metric: str
    dataset: str = ""

    @property
    def marker(self) -> str:
        safe = f"{comment_safe(self.provider)}/{comment_safe(self.metric)}"
        if self.dataset:
            safe = f"{comment_safe(self.dataset)}/{safe}"
        return f"<!-- pipeline-incident: volume-anomaly/{safe} -->"

    @property
    def title(self) -> str:
        scope = f" ({self.dataset})" if self.dataset else ""
        return plain_text(f"Volume anomaly{scope}: {self.provider} {self.metric}", 200)

    def verdict(self, record: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """This incident's verdict in ``record``, if the run judged it."""
        for verdict in (record.get("anomaly") or {}).get("verdicts") or ():
            if incident_key(verdict) == self:
                return verdict
        return None


def incident_key(verdict: Mapping[str, Any]) -> Incident:
    """The incident a verdict is about."""
    return Incident(str(verdict.get("provider")), str(verdict.get("metric")),
                    str(verdict.get("dataset") or ""))  # fmt: skip


def incident_of(body: str) -> Incident | None:
    """The incident an issue body's marker names (providers and metrics are marker-safe)."""
    match = MARKER_RE.search(body or "")
    return Incident(match[2], match[3], match[1] or "") if match else None


def alerting(record: Mapping[str, Any]) -> dict[Incident, Mapping[str, Any]]:
    """This run's incidents and their alert verdicts: each provider metric that alerts, and
    ``total``'s only for a metric that no provider alerts on."""
    alerts = [v for v in (record.get("anomaly") or {}).get("verdicts") or ()
              if v.get("verdict") == "alert" and v.get("metric")]  # fmt: skip
    explained = {v["metric"] for v in alerts if v["provider"] != TOTAL}
    return {
        incident_key(v): v for v in alerts if v["provider"] != TOTAL or v["metric"] not in explained
    }


def recovered(incident: Incident, runs: Sequence[Mapping[str, Any]], k: int) -> bool:
    """True when the last ``k`` runs that judged ``incident`` all found it inside its band."""
    judged = [v for v in map(incident.verdict, runs) if v is not None]
    return len(judged) >= k and all(v.get("verdict") in IN_BAND for v in judged[-k:])


def within_days(earlier: str | None, later: str | None, days: float) -> bool:
    """True when ISO time ``later`` is at most ``days`` after ``earlier`` (both given)."""
    if not earlier or not later:
        return False
    start = datetime.fromisoformat(earlier.replace("Z", "+00:00"))
    end = datetime.fromisoformat(later.replace("Z", "+00:00"))
    return (end - start).total_seconds() <= days * 86400


def counted(incident: Incident, record: Mapping[str, Any]) -> float | None:
    """The incident's metric in ``record``'s counters (``total``: the providers' sum); a
    dataset's volumes are in its verdicts only."""
    if incident.dataset:
        return None
    providers = record.get("providers") or {}
    entries = (
        providers.values() if incident.provider == TOTAL else [providers.get(incident.provider)]
    )
    values = [e[incident.metric] for e in entries if e and e.get(incident.metric) is not None]
    return float(sum(values)) if values else None


def history(incident: Incident, runs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The last ``HISTORY_RUNS`` runs that counted the metric: date, value, band, verdict
    (runs before the detector judged it show their count alone)."""
    rows = []
    for run in runs:
        verdict = dict(incident.verdict(run) or {})
        value = verdict.get("value", counted(incident, run))
        if value is not None:
            date = str(run.get("started_at") or "")[:16].replace("T", " ")
            rows.append({**verdict, "date": date, "run_id": run["run_id"], "value": value})
    return rows[-HISTORY_RUNS:]


def history_markdown(incident: Incident, runs: Sequence[Mapping[str, Any]]) -> str:
    """The recent history as a mermaid chart and a table (every cell escaped)."""
    rows = history(incident, runs)
    if not rows:
        return "_No run has judged this metric yet._"
    lines = [
        "| Date (UTC) | Run | Value | Median | Alert band | Verdict |",
        "|---|---|--:|--:|---|---|",
    ]
    for row in rows:
        band = (f"{row['alert_lower']:g}–{row['alert_upper']:g}"
                if row.get("alert_lower") is not None else None)  # fmt: skip
        cells = [row["date"], row["run_id"], row.get("value"), row.get("median"), band,
                 row.get("verdict")]  # fmt: skip
        lines.append("| " + " | ".join(markdown_cell(cell) for cell in cells) + " |")
    return chart(incident, rows) + "\n\n" + "\n".join(lines)


def chart(incident: Incident, rows: Sequence[Mapping[str, Any]]) -> str:
    """A mermaid ``xychart-beta``: the metric per run, with the alert band's edges when every
    run has one. Labels are dates and ``chart_safe`` names: nothing in them needs quoting."""
    dates = ", ".join(f'"{row["date"][5:]}"' for row in rows)
    series = [[row.get("value") or 0 for row in rows]]
    name = f"{chart_safe(incident.provider)} {chart_safe(incident.metric)} per run"
    if incident.dataset:
        name = f"{chart_safe(incident.dataset)} {name}"
    if all(row.get("alert_lower") is not None for row in rows):
        series += [[row["alert_lower"] for row in rows], [row["alert_upper"] for row in rows]]
        name += " (lines 2 and 3: the alert band)"
    body = [
        "```mermaid",
        "xychart-beta",
        f'    title "{name}"',
        f"    x-axis [{dates}]",
        f'    y-axis "{chart_safe(incident.metric)} (rows)"',
        *(f"    line [{', '.join(f'{value:g}' for value in values)}]" for values in series),
        "```",
    ]
    return "\n".join(body)
