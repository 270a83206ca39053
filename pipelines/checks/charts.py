"""Charts of the run report: hand-written SVG for the HTML page, a mermaid block for Markdown.

Pure functions of plain data (run times, values, the alert band), so they know nothing of
run records. Every text that reaches the SVG passes through ``html_text``; the mermaid block
carries only numbers, dates and fixed words.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipelines.net.markup import html_text

WIDTH, PANEL_H = 480, 150
LEFT, RIGHT, TOP, BOTTOM = 58, 16, 24, 36  # margins of a panel's plot area
LEGEND_H = 40
Y_TICKS = 4
HEADROOM = 1.08  # the highest value never sits on the frame
INSET = 36  # from the plot's sides to the first and last run: room for their date labels
MIN_LABEL_GAP = 76  # pixels between two date labels on the x axis
UNIT = "listings"
COLOURS = {"fetched": "#1f6feb", "new": "#2da44e"}
FALLBACK_COLOUR = "#6e7781"
CSS = """
figure { display: inline-block; margin: 0 1em 1em 0; }
svg text { font: 11px system-ui, sans-serif; fill: #333; }
.axis { stroke: #888; } .grid { stroke: #e4e4e4; }
.band { fill: #f5a623; opacity: 0.18; } .band-key { stroke: #f5a623; opacity: 0.35; }
.median { stroke: #999; stroke-dasharray: 4 3; }
polyline { fill: none; stroke-width: 2; }
.alert { fill: #cf222e; } .warn { fill: #d4a72c; } .ok, .insufficient_history { fill: #555; }
.note { fill: #777; font-style: italic; }
"""


@dataclass(frozen=True)
class Panel:
    """One metric over the recent runs, oldest first; ``band`` is the current verdict."""

    metric: str
    values: Sequence[float | None]
    band: Mapping[str, Any] | None = None
    mark: str = "ok"  # the current run's verdict: ok, warn, alert, insufficient_history


def nice_ticks(high: float, count: int = Y_TICKS) -> list[float]:
    """Round tick values from 0 to at least ``high``: steps of 1, 2 or 5 times a power of 10."""
    raw = max(high, 1) / count
    power = 10 ** math.floor(math.log10(raw))
    step = max(next(m * power for m in (1, 2, 5, 10) if m * power >= raw), 1)  # whole listings
    return [step * i for i in range(math.ceil(max(high, 1) / step) + 1)]


def tick_label(value: float) -> str:
    return f"{value:,.0f}" if value >= 10 or value == int(value) else f"{value:g}"


def x_positions(times: Sequence[datetime | None]) -> list[float]:
    """Where each run sits: by its time when all are known, else evenly; one run is centred."""
    left, right = LEFT + INSET, WIDTH - RIGHT - INSET
    if len(times) == 1:
        return [(left + right) / 2]
    known = [t for t in times if t is not None]
    if len(known) == len(times) and known[-1] > known[0]:
        span = (known[-1] - known[0]).total_seconds()
        return [left + (t - known[0]).total_seconds() / span * (right - left) for t in known]
    step = (right - left) / max(len(times) - 1, 1)
    return [left + i * step for i in range(len(times))]


def date_format(times: Sequence[datetime | None]) -> str:
    """``Nov 21`` when the runs are on different days, with the time when days repeat."""
    days = [t.date() for t in times if t is not None]
    return "%b %d" if len(set(days)) == len(days) else "%b %d %H:%M"


def labelled(xs: Sequence[float]) -> list[int]:
    """The runs whose date gets a label: the newest, then older ones far enough apart."""
    chosen: list[int] = []
    for i in reversed(range(len(xs))):
        if not chosen or xs[chosen[-1]] - xs[i] >= MIN_LABEL_GAP:
            chosen.append(i)
    return sorted(chosen)


def svg_figure(name: str, times: Sequence[datetime | None], panels: Sequence[Panel]) -> str:
    """A figure of stacked panels sharing a dated x axis, with one legend under them."""
    height = PANEL_H * len(panels) + LEGEND_H
    body = "".join(_panel(p, times, i * PANEL_H) for i, p in enumerate(panels))
    body += _legend(panels, PANEL_H * len(panels))
    label = f"{name} volumes over the last {len(times)} runs"
    return (
        f"<figure><figcaption>{html_text(name)}</figcaption>"
        '<svg xmlns="http://www.w3.org/2000/svg" '
        f'width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{html_text(label)}">{body}</svg></figure>'
    )


def _panel(panel: Panel, times: Sequence[datetime | None], top: int) -> str:
    """Axes, ticks, the alert band and median, the line with a dot per run."""
    band = panel.band if panel.band and panel.band.get("alert_upper") is not None else None
    known = [v for v in panel.values if v is not None]
    ticks = nice_ticks(max([*known, band["alert_upper"] if band else 0, 1]) * HEADROOM)
    bottom, plot_top = top + PANEL_H - BOTTOM, top + TOP

    def y(value: float) -> float:
        return bottom - value / ticks[-1] * (bottom - plot_top)

    title = f"{panel.metric} ({UNIT} per run)"
    parts = [f'<text x="{LEFT}" y="{top + 14}" font-weight="bold">{html_text(title)}</text>']
    parts += _y_axis(ticks, y, top)
    xs = x_positions(times)
    if band:
        parts += _band(band, y)
    parts += _x_axis(times, xs, bottom)
    parts += _line(panel, xs, y)
    if len(times) == 1:
        parts.append(
            f'<text class="note" x="{LEFT + 8}" y="{plot_top + 12}">first run: no trend yet</text>'
        )
    return "".join(parts)


def _y_axis(ticks: Sequence[float], y: Any, top: int) -> list[str]:
    parts = []
    for tick in ticks:
        at = y(tick)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{at:.1f}" y2="{at:.1f}"/>'
            f'<text x="{LEFT - 6}" y="{at + 4:.1f}" text-anchor="end">{tick_label(tick)}</text>'
        )
    middle = top + (TOP + PANEL_H - BOTTOM) / 2
    parts.append(
        f'<text x="12" y="{middle:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 12 {middle:.1f})">{UNIT}</text>'
        f'<line class="axis" x1="{LEFT}" x2="{LEFT}" y1="{y(ticks[-1]):.1f}" y2="{y(0):.1f}"/>'
    )
    return parts


def _x_axis(times: Sequence[datetime | None], xs: Sequence[float], bottom: float) -> list[str]:
    parts = [f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{bottom}" y2="{bottom}"/>']
    fmt = date_format(times)
    for i in labelled(xs):
        text = times[i].strftime(fmt) if times[i] is not None else f"run {i + 1}"
        parts.append(
            f'<line class="axis" x1="{xs[i]:.1f}" x2="{xs[i]:.1f}" y1="{bottom}" '
            f'y2="{bottom + 4}"/><text x="{xs[i]:.1f}" y="{bottom + 16}" '
            f'text-anchor="middle">{html_text(text)}</text>'
        )
    return parts


def _band(band: Mapping[str, Any], y: Any) -> list[str]:
    upper, lower, median = y(band["alert_upper"]), y(band["alert_lower"]), y(band["median"])
    return [
        f'<rect class="band" x="{LEFT}" y="{upper:.1f}" width="{WIDTH - LEFT - RIGHT}" '
        f'height="{lower - upper:.1f}"><title>alert band: median ± alert bound</title></rect>',
        f'<line class="median" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{median:.1f}" '
        f'y2="{median:.1f}"/>',
    ]


def _line(panel: Panel, xs: Sequence[float], y: Any) -> list[str]:
    colour = COLOURS.get(panel.metric, FALLBACK_COLOUR)
    points = [(x, y(v), v) for x, v in zip(xs, panel.values, strict=True) if v is not None]
    coords = " ".join(f"{x:.1f},{at:.1f}" for x, at, _ in points)
    parts = [
        f'<polyline class="{html_text(panel.metric)}" stroke="{colour}" fill="none" '
        f'points="{coords}"/>'
    ]
    last = panel.values[-1] if panel.values else None
    for x, at, _ in points[:-1] if last is not None else points:
        parts.append(f'<circle cx="{x:.1f}" cy="{at:.1f}" r="2" fill="{colour}"/>')
    if last is not None:
        x, at, _ = points[-1]
        parts.append(
            f'<circle class="{html_text(panel.mark)}" cx="{x:.1f}" cy="{at:.1f}" r="4">'
            f"<title>{tick_label(last)}</title></circle>"
        )
    return parts


def _legend(panels: Sequence[Panel], top: int) -> str:
    """What each mark means: the lines, the alert band and median (when shown), the dot."""
    keys = [
        (f'<line x1="0" x2="16" y1="0" y2="0" stroke="{COLOURS.get(p.metric, FALLBACK_COLOUR)}" '
         'stroke-width="2"/>', p.metric) for p in panels
    ]  # fmt: skip
    if any(p.band and p.band.get("alert_upper") is not None for p in panels):
        keys.append(('<line class="band-key" x1="0" x2="16" y1="0" y2="0" stroke-width="9"/>',
                     "alert band (median ± alert bound)"))  # fmt: skip
        keys.append(('<line class="median" x1="0" x2="16" y1="0" y2="0"/>', "median"))
    keys.append(('<circle class="ok" cx="8" cy="0" r="4"/>', "this run (red: alert, amber: warn)"))
    parts, x, row = [], LEFT, top + 14
    for mark, text in keys:
        width = 24 + 6.2 * len(text)
        if x + width > WIDTH - RIGHT:
            x, row = LEFT, row + 18
        parts.append(
            f'<g transform="translate({x:.0f} {row})">{mark}'
            f'<text x="20" y="4">{html_text(text)}</text></g>'
        )
        x += width + 10
    return "".join(parts)


def mermaid_line_chart(
    title: str, times: Sequence[datetime | None], values: Sequence[float | None]
) -> str | None:
    """A mermaid ``xychart-beta`` block of the runs with a value; None with fewer than two."""
    pairs = [(t, v) for t, v in zip(times, values, strict=True) if v is not None and t is not None]
    if len(pairs) < 2:
        return None
    fmt = date_format([t for t, _ in pairs])
    labels = ", ".join(f'"{t.strftime(fmt)}"' for t, _ in pairs)
    numbers = ", ".join(str(int(v)) if float(v).is_integer() else f"{v:.2f}" for _, v in pairs)
    top = nice_ticks(max(v for _, v in pairs))[-1]
    safe_title = title.replace('"', "'")
    return (
        "```mermaid\nxychart-beta\n"
        f'    title "{safe_title}"\n'
        f"    x-axis [{labels}]\n"
        f'    y-axis "{UNIT}" 0 --> {tick_label(top).replace(",", "")}\n'
        f"    line [{numbers}]\n```"
    )
