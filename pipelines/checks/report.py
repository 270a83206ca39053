"""The run report: Markdown for a GitHub job summary or issue body, and a self-contained HTML page.

Both are rendered from the run-log record of this run, the earlier records (for the recent
trend) and the anomaly verdicts (an ``AnomalyReport`` or its ``to_dict()``). The HTML page has
no external JS, CSS or fonts; its plots are hand-written SVG.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pipelines.checks.anomaly import AnomalyReport
from pipelines.checks.budget import BUDGET_HEADERS, budget_rows
from pipelines.checks.charts import CSS as CHART_CSS
from pipelines.checks.charts import Panel, mermaid_line_chart, svg_figure
from pipelines.checks.completeness import COMPLETENESS_HEADERS, completeness_rows
from pipelines.checks.history import TOTAL, run_time
from pipelines.checks.report_datasets import DATASET_HEADERS, dataset_rows, verdict_names
from pipelines.checks.times import human_duration
from pipelines.net.markup import html_text, markdown_cell, markdown_code, markdown_text, plain_text

TREND_POINTS = 20  # runs in a sparkline or plot, the current one included
SPARK_BARS = "▁▂▃▄▅▆▇█"
PLOT_METRICS = ("fetched", "new")
COUNTER_COLUMNS = (
    ("fetched", "Fetched"), ("new", "New"), ("changed", "Changed"), ("unchanged", "Unchanged"),
    ("quarantined", "Quarantined"), ("written", "Written"), ("api_calls", "API calls"),
)  # fmt: skip
PROVIDER_HEADERS = ("Provider", "Status", *(h for _, h in COUNTER_COLUMNS), "Errors / skip reason")
ANOMALY_HEADERS = ("Provider", "Metric", "Value", "Median", "Band", "z", "Verdict", "Recent")
VERDICT_MARKS = {
    "ok": "🟢 ok",
    "warn": "🟠 warn",
    "alert": "🔴 alert",
    "insufficient_history": "⚪ insufficient history",
}
LINK_LABELS = {"run_url": "Workflow run", "artifacts_url": "Artifacts", "issue_url": "Issue"}
MAX_NOTE = 300
NUMBER = re.compile(r"[+-]?[\d,]*\.?\d+|–|")  # right-aligned table cells

Record = Mapping[str, Any]


# ---------------------------------------------------------------- shared data


def _anomaly_dict(anomaly: AnomalyReport | Mapping[str, Any] | None) -> dict[str, Any] | None:
    if isinstance(anomaly, AnomalyReport):
        return anomaly.to_dict()
    return dict(anomaly) if isinstance(anomaly, Mapping) else None


def _providers(record: Record) -> dict[str, Mapping[str, Any]]:
    providers = record.get("providers")
    if not isinstance(providers, Mapping):
        return {}
    return {name: entry for name, entry in providers.items() if isinstance(entry, Mapping)}


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.0f}" if value.is_integer() else f"{value:.{digits}f}"
    return str(value)


def _note(entry: Mapping[str, Any]) -> str:
    """Why a provider was skipped or failed, and its errors, in one line."""
    parts = [entry.get("reason"), entry.get("error"), *(entry.get("errors") or ())]
    return plain_text("; ".join(dict.fromkeys(str(p) for p in parts if p)), MAX_NOTE)


def _provider_rows(current: Record) -> list[list[str]]:
    rows = []
    for name, entry in _providers(current).items():
        counts = [_fmt(entry.get(key)) for key, _ in COUNTER_COLUMNS]
        rows.append([name, str(entry.get("status", "")), *counts, _note(entry)])
    totals = current.get("totals")
    if isinstance(totals, Mapping):
        rows.append([TOTAL, "", *(_fmt(totals.get(k)) for k, _ in COUNTER_COLUMNS), ""])
    return rows


def _quality_rows(current: Record) -> list[list[str]]:
    rows = []
    for name, entry in _providers(current).items():
        quality = entry.get("quality")
        if isinstance(quality, Mapping):
            ranked = sorted(quality.items(), key=lambda item: (-(item[1] or 0), item[0]))
            rows += [[name, str(rule), _fmt(count)] for rule, count in ranked]
    return rows


def _count_tables(current: Record) -> list[tuple[str, Sequence[str], list[list[str]], str]]:
    """The quality, completeness, budget and datasets tables: title, headers, rows, the text
    when empty."""
    return [
        ("Quality rules", ("Provider", "Rule", "Rows"), _quality_rows(current), "No rule failed."),
        ("Completeness", COMPLETENESS_HEADERS, completeness_rows(current), "No counts recorded."),
        ("API budget", BUDGET_HEADERS, budget_rows(current), "No daily API budget applies."),
        ("Datasets", DATASET_HEADERS, dataset_rows(current), "Products only."),
    ]


def _record_value(record: Record, provider: str, metric: str) -> float | None:
    entry = _providers(record).get(provider, {})
    value = entry.get(metric)
    if entry.get("status") == "skipped" or isinstance(value, bool):
        return None
    return value if isinstance(value, int | float) else None


def _total_value(record: Record, names: Sequence[str], metric: str) -> float | None:
    """The sum over the providers the current run attempted, as the anomaly detector counts."""
    values = [_record_value(record, name, metric) for name in names]
    return None if not values or None in values else sum(values)


def _recent_runs(current: Record, history: Sequence[Record]) -> list[Record]:
    """The last runs of the current run's mode, oldest first, ending with the current run."""
    same_mode = [
        r
        for r in history
        if r.get("mode") == current.get("mode") and r.get("run_id") != current.get("run_id")
    ]
    dated = sorted((t, i) for i, r in enumerate(same_mode) if (t := run_time(r)) is not None)
    return [same_mode[i] for _, i in dated[-(TREND_POINTS - 1) :]] + [current]


def _series(runs: Sequence[Record], provider: str, metric: str) -> list[float | None]:
    if provider != TOTAL:
        return [_record_value(r, provider, metric) for r in runs]
    names = _attempted(runs[-1])
    return [_total_value(r, names, metric) for r in runs[:-1]] + [
        sum(_record_value(runs[-1], n, metric) or 0 for n in names)
    ]


def _attempted(record: Record) -> list[str]:
    return [name for name, entry in _providers(record).items() if entry.get("status") != "skipped"]


def sparkline(values: Sequence[float | None]) -> str:
    """Unicode bars scaled between the series' min and max; a gap for a missing value."""
    known = [v for v in values if v is not None]
    if not known:
        return ""
    low, high = min(known), max(known)
    top = len(SPARK_BARS) - 1
    if high == low:
        return "".join(" " if v is None else SPARK_BARS[top // 2] for v in values)
    return "".join(
        " " if v is None else SPARK_BARS[round((v - low) / (high - low) * top)] for v in values
    )


def _verdicts(anomaly: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [v for v in anomaly.get("verdicts") or () if isinstance(v, Mapping)]


def _band(verdict: Mapping[str, Any]) -> str:
    if verdict.get("warn_upper") is None:
        return "–"
    warn = f"{_fmt(verdict.get('warn_lower'))}–{_fmt(verdict.get('warn_upper'))}"
    alert = f"{_fmt(verdict.get('alert_lower'))}–{_fmt(verdict.get('alert_upper'))}"
    return f"{warn} (alert {alert})"


def _anomaly_rows(
    anomaly: Mapping[str, Any], runs: Sequence[Record], *, trend: bool = True
) -> list[list[str]]:
    rows = []
    for verdict in _verdicts(anomaly):
        provider, metric = str(verdict.get("provider")), str(verdict.get("metric"))
        z = verdict.get("z")
        row = [
            *verdict_names(verdict),
            _fmt(verdict.get("value")),
            _fmt(verdict.get("median")),
            _band(verdict),
            "–" if z is None else f"{z:+.2f}",
            VERDICT_MARKS.get(str(verdict.get("verdict")), str(verdict.get("verdict"))),
        ]
        if trend:  # a dataset's volumes are not the providers' counters: no trend here
            row.append("" if verdict.get("dataset") else sparkline(_series(runs, provider, metric)))
        rows.append(row)
    return rows


def _summary_line(current: Record, anomaly: Mapping[str, Any] | None) -> str:
    started = run_time(current)
    parts = [f"started {started:%Y-%m-%d %H:%M} UTC" if started else "started ?"]
    if current.get("duration_seconds") is not None:
        parts.append(human_duration(current["duration_seconds"]))
    parts.append(f"exit code {current.get('exit_code', '?')}")
    parts += [flag for flag in ("bootstrap", "backfill") if current.get(flag)]
    if anomaly is not None and anomaly.get("shard"):
        parts.append(f"shard {anomaly['shard']}: volumes judged over the whole run")
    elif anomaly is not None:
        worst = str(anomaly.get("worst", "ok"))
        parts.append(f"anomaly check: {VERDICT_MARKS.get(worst, worst)}")
    return " · ".join(parts)


def _shard_note(anomaly: Mapping[str, Any]) -> str:
    """What a shard's report says instead of a volume verdict (its volumes are a share)."""
    return (f"Shard {anomaly['shard']} holds a share of the run: its volumes are not judged "
            "here but over the whole run, when the shards are joined (gha-finalize).")  # fmt: skip


def _link_items(links: Mapping[str, str] | None) -> list[tuple[str, str]]:
    return [(LINK_LABELS.get(key, key), url) for key, url in (links or {}).items() if url]


# ---------------------------------------------------------------- Markdown


def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(markdown_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(
    current: Record,
    history: Sequence[Record],
    anomaly: AnomalyReport | Mapping[str, Any] | None,
    links: Mapping[str, str] | None = None,
) -> str:
    """The run report as GitHub-flavoured Markdown (job summary or issue body)."""
    anomaly_data = _anomaly_dict(anomaly)
    run_id = markdown_code(current.get("run_id", "?"))
    title = f"# Pipeline run {run_id} ({markdown_cell(current.get('mode', '?'))})"
    sections = [title, markdown_text(_summary_line(current, anomaly_data))]
    sections += ["## Providers", _md_table(PROVIDER_HEADERS, _provider_rows(current))]
    for title, headers, rows, empty in _count_tables(current):
        sections += [f"## {title}", _md_table(headers, rows) if rows else empty]
    sections.append("## Volume anomalies")
    sections.append(_md_anomalies(current, history, anomaly_data))
    sections.append(_md_chart(current, history, anomaly_data))
    if items := _link_items(links):
        links_md = "\n".join(f"- [{markdown_cell(label)}]({url})" for label, url in items)
        sections += ["## Links", links_md]
    return "\n\n".join(sections) + "\n"


def _md_anomalies(
    current: Record, history: Sequence[Record], anomaly: Mapping[str, Any] | None
) -> str:
    if anomaly is None:
        return "Anomaly detection did not run."
    rows = _anomaly_rows(anomaly, _recent_runs(current, history))
    if anomaly.get("shard"):
        note = markdown_text(_shard_note(anomaly))
        return f"{note}\n\n{_md_table(ANOMALY_HEADERS, rows)}" if rows else note
    if not rows:
        return "Nothing to check (no provider produced counts)."
    return _md_table(ANOMALY_HEADERS, rows)


def _md_chart(current: Record, history: Sequence[Record], anomaly: Mapping[str, Any] | None) -> str:
    """The fetched volume of the recent runs (all providers) as a mermaid chart, and its band."""
    names = _attempted(current)
    if not names:
        return ""
    runs = _recent_runs(current, history)
    key = TOTAL if len(names) > 1 else names[0]
    title = "Listings fetched per run" + (", all providers" if len(names) > 1 else "")
    chart = mermaid_line_chart(title, [run_time(r) for r in runs], _series(runs, key, "fetched"))
    if chart is None:
        return "First run of this mode: the chart of recent runs starts with the next one."
    verdict = next((v for v in _verdicts(anomaly or {}) if v.get("provider") == key
                    and v.get("metric") == "fetched"), {})  # fmt: skip
    if verdict.get("alert_upper") is not None:
        low, high = _fmt(verdict.get("alert_lower")), _fmt(verdict.get("alert_upper"))
        chart += f"\n\nAlert band of this run: {low}–{high} listings fetched."
    return chart


# ---------------------------------------------------------------- HTML

_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
.num { text-align: right; }
th { background: #f3f3f3; }
"""


def _html_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A table whose number columns (every cell a number or –) are right-aligned (class
    ``num``), header included; text columns keep the page's left alignment."""
    kinds = [
        ' class="num"' if rows and all(NUMBER.fullmatch(row[j]) for row in rows) else ""
        for j in range(len(headers))
    ]
    head = "".join(f"<th{k}>{html_text(h)}</th>" for k, h in zip(kinds, headers, strict=True))
    body = "".join(
        "<tr>"
        + "".join(f"<td{k}>{html_text(c)}</td>" for k, c in zip(kinds, row, strict=True))
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(
    current: Record,
    history: Sequence[Record],
    anomaly: AnomalyReport | Mapping[str, Any] | None,
    links: Mapping[str, str] | None = None,
) -> str:
    """The run report as one self-contained HTML page with an SVG volume plot per provider."""
    anomaly_data = _anomaly_dict(anomaly)
    runs = _recent_runs(current, history)
    title = f"Pipeline run {current.get('run_id', '?')} ({current.get('mode', '?')})"
    body = [
        f"<h1>{html_text(title)}</h1>",
        f"<p>{html_text(_summary_line(current, anomaly_data))}</p>",
    ]
    body += [
        f'<p><a href="{html_text(url)}">{html_text(label)}</a></p>'
        for label, url in _link_items(links)
    ]
    body += ["<h2>Providers</h2>", _html_table(PROVIDER_HEADERS, _provider_rows(current))]
    body += ["<h2>Volumes</h2>", _html_plots(current, runs, anomaly_data)]
    for title, headers, rows, empty in _count_tables(current):
        body += [f"<h2>{title}</h2>", _html_table(headers, rows) if rows else f"<p>{empty}</p>"]
    body.append("<h2>Volume anomalies</h2>")
    if anomaly_data is None:
        body.append("<p>Anomaly detection did not run.</p>")
    elif anomaly_data.get("shard"):
        body.append(f"<p>{html_text(_shard_note(anomaly_data))}</p>")
    else:
        rows = _anomaly_rows(anomaly_data, runs, trend=False)
        body.append(_html_table(ANOMALY_HEADERS[:-1], rows))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html_text(title)}</title><style>{_CSS}{CHART_CSS}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


def _html_plots(current: Record, runs: Sequence[Record], anomaly: Mapping[str, Any] | None) -> str:
    verdicts = {(v.get("provider"), v.get("metric")): v for v in _verdicts(anomaly or {})}
    names = _attempted(current)
    if len(names) > 1:
        names.append(TOTAL)
    times = [run_time(r) for r in runs]
    figures = []
    for name in names:
        panels = []
        for metric in PLOT_METRICS:
            verdict = verdicts.get((name, metric))
            mark = str(verdict.get("verdict", "ok")) if verdict else "ok"
            panels.append(Panel(metric, _series(runs, name, metric), verdict, mark))
        figures.append(svg_figure(name, times, panels))
    return "".join(figures) or "<p>No volumes.</p>"


# ---------------------------------------------------------------- files


def write_reports(
    log_dir: Path,
    current: Record,
    history: Sequence[Record],
    anomaly: AnomalyReport | Mapping[str, Any] | None,
    links: Mapping[str, str] | None = None,
) -> tuple[Path, Path]:
    """Write ``report-<run_id>.md`` and ``report-<run_id>.html`` under ``log_dir``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    stem = "report-" + re.sub(r"[^A-Za-z0-9._-]", "_", str(current.get("run_id", "unknown")))
    markdown = _write_atomic(
        log_dir / f"{stem}.md", render_markdown(current, history, anomaly, links)
    )
    page = _write_atomic(log_dir / f"{stem}.html", render_html(current, history, anomaly, links))
    return markdown, page


def _write_atomic(path: Path, text: str) -> Path:
    """Write through a temporary file so a reader never sees half a report."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path
