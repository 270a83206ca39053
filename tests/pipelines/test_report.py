"""The run report in Markdown and HTML, from a sample run-log record."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any

import pytest

from pipelines.checks.anomaly import AnomalyConfig, detect_anomalies
from pipelines.checks.report import render_html, render_markdown, sparkline, write_reports
from pipelines.net.markup import markdown_cell

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
VARIED = [96, 98, 100, 100, 102, 104, 99, 101, 100, 97]  # median 100, scale 10


def record(at: datetime, shopify_fetched: int, *, mode: str = "live", ebay_ok: bool = True):
    ebay: dict[str, Any] = {"status": "ok", "fetched": 50, "new": 5}
    if not ebay_ok:
        ebay = {"status": "failed", "fetched": 0, "new": 0, "error": "503 from eBay | page 2"}
    return {
        "run_id": at.strftime("%Y%m%dT%H%M%SZ") + "-1a2b3c",
        "started_at": at.isoformat(),
        "duration_seconds": 12.3,
        "mode": mode,
        "bootstrap": False,
        "backfill": False,
        "exit_code": 1 if not ebay_ok else 0,
        "providers": {
            "shopify": {
                "status": "ok", "fetched": shopify_fetched, "new": 10, "changed": 2,
                "unchanged": 100, "quarantined": 3, "written": 12, "api_calls": 7, "errors": [],
                "quality": {"title_required": 1, "price_positive": 2},
            },
            "ebay": ebay,
            "amazon": {"status": "skipped", "reason": "missing AMAZON_CREATORS_CREDENTIAL_ID"},
        },
        "totals": {"fetched": shopify_fetched + ebay["fetched"], "new": 10 + ebay["new"],
                   "changed": 2, "unchanged": 100, "quarantined": 3, "written": 12,
                   "api_calls": 7},
    }  # fmt: skip


@pytest.fixture
def history() -> list[dict[str, Any]]:
    return [record(NOW - timedelta(days=i + 1), v) for i, v in enumerate(VARIED)]


@pytest.fixture
def current() -> dict[str, Any]:
    return record(NOW, 40, ebay_ok=False)


@pytest.fixture
def anomaly(history, current):
    return detect_anomalies(history, current, AnomalyConfig())


def table_cells(line: str) -> list[str]:
    """The cells of a Markdown table row, splitting on unescaped pipes only."""
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def test_markdown_title_and_provider_rows(current, history, anomaly) -> None:
    text = render_markdown(current, history, anomaly)
    assert text.startswith("# Pipeline run `20261121T120000Z-1a2b3c` (live)\n")
    assert "exit code 1 · anomaly check: 🔴 alert" in text
    lines = text.splitlines()
    assert "| shopify | ok | 40 | 10 | 2 | 100 | 3 | 12 | 7 |  |" in lines
    assert "| ebay | failed | 0 | 0 | – | – | – | – | – | 503 from eBay \\| page 2 |" in lines
    assert (
        "| amazon | skipped | – | – | – | – | – | – | – | missing AMAZON_CREATORS_CREDENTIAL_ID |"
        in lines
    )
    assert "| total |  | 40 | 10 | 2 | 100 | 3 | 12 | 7 |  |" in lines


def test_markdown_quality_counts(current, history, anomaly) -> None:
    lines = render_markdown(current, history, anomaly).splitlines()
    first = lines.index("| shopify | price_positive | 2 |")
    assert lines[first + 1] == "| shopify | title_required | 1 |"


def test_markdown_verdict_lines(current, history, anomaly) -> None:
    lines = render_markdown(current, history, anomaly).splitlines()
    [row] = [line for line in lines if line.startswith("| shopify | fetched |")]
    cells = table_cells(row)
    assert cells[:7] == ["shopify", "fetched", "40", "100", "70–130 (alert 50–150)", "-6.00",
                         "🔴 alert"]  # fmt: skip
    assert len(cells[7]) == len(VARIED) + 1
    assert cells[7][-1] == "▁"  # the drop ends the sparkline
    [total] = [line for line in lines if line.startswith("| total | fetched |")]
    assert table_cells(total)[2:7] == ["40", "150", "105–195 (alert 75–225)", "-7.33", "🔴 alert"]


def test_every_markdown_table_row_has_as_many_cells_as_its_header(
    current, history, anomaly
) -> None:
    width = None
    for line in render_markdown(current, history, anomaly).splitlines():
        if not line.startswith("|"):
            width = None
        elif width is None:
            width = len(table_cells(line))
        else:
            assert len(table_cells(line)) == width, line


def test_markdown_accepts_the_stored_dict_and_no_anomaly(current, history, anomaly) -> None:
    assert render_markdown(current, history, anomaly.to_dict()) == render_markdown(
        current, history, anomaly
    )
    text = render_markdown(current, history, None)
    assert "Anomaly detection did not run." in text
    assert "anomaly check" not in text


def test_markdown_links_only_when_given(current, history, anomaly) -> None:
    links = {"run_url": "https://github.com/o/r/actions/runs/1", "artifacts_url": None}
    text = render_markdown(current, history, anomaly, links)
    assert "- [Workflow run](https://github.com/o/r/actions/runs/1)" in text
    assert "Artifacts" not in text
    assert "## Links" not in render_markdown(current, history, anomaly)


def test_markdown_without_quality_failures(history) -> None:
    run = record(NOW, 100)
    del run["providers"]["shopify"]["quality"]
    assert "No rule failed." in render_markdown(run, history, None)


@pytest.mark.parametrize(
    ("text", "cell"),
    [
        ("a|b", "a\\|b"),
        ("line one\nline | two", "line one line \\| two"),
        ("<b>bold</b>", "&lt;b&gt;bold&lt;/b&gt;"),
        ("C:\\path|x", "C:\\\\path\\|x"),
    ],
)
def test_markdown_cell_escapes(text: str, cell: str) -> None:
    assert markdown_cell(text) == cell


@pytest.mark.parametrize(
    ("values", "line"),
    [
        ([0, 7], "▁█"),
        ([1, 2, 3], "▁▅█"),
        ([5, 5, 5], "▄▄▄"),
        ([1, None, 3], "▁ █"),
        ([], ""),
        ([None], ""),
    ],
)
def test_sparkline(values, line: str) -> None:
    assert sparkline(values) == line


def test_trend_keeps_the_last_twenty_runs_of_the_same_mode(current) -> None:
    live = [record(NOW - timedelta(hours=i + 1), 100 + i) for i in range(30)]
    offline = [record(NOW - timedelta(minutes=i + 1), 5, mode="offline") for i in range(5)]
    anomaly = detect_anomalies(live + offline, current, AnomalyConfig())
    lines = render_markdown(current, live + offline, anomaly).splitlines()
    [row] = [line for line in lines if line.startswith("| shopify | fetched |")]
    spark = table_cells(row)[7]
    assert len(spark) == 20  # 19 live runs (118 down to 100), then the current 40
    assert (spark[0], spark[-2], spark[-1]) == ("█", "▆", "▁")
    assert list(spark) == sorted(spark, reverse=True)  # no offline run slipped in


class TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> TagCollector:
    parser = TagCollector()
    parser.feed(page)
    parser.close()
    return parser


def test_html_has_an_svg_plot_per_provider(current, history, anomaly) -> None:
    page = render_html(current, history, anomaly)
    tags = parse(page).tags
    labels = [a["aria-label"] for t, a in tags if t == "svg"]
    assert labels == [
        f"{name} volumes over the last 11 runs" for name in ("shopify", "ebay", "total")
    ]
    svgs = re.findall(r"<svg.*?</svg>", page, re.S)
    for svg in svgs:
        root = ET.fromstring(svg)  # well-formed XML, not just tag soup
        lines = root.findall("{http://www.w3.org/2000/svg}polyline")
        assert [line.get("class") for line in lines] == ["fetched", "new"]
        assert all(len(line.get("points").split()) == 11 for line in lines)
    shopify = ET.fromstring(svgs[0])
    bands = shopify.findall("{http://www.w3.org/2000/svg}rect")
    assert [b.get("class") for b in bands] == ["band", "band"]
    [alert_point] = [c for c in shopify.iter() if c.get("class") == "alert"]
    assert alert_point.findtext("{http://www.w3.org/2000/svg}title") == "40"


def test_html_is_self_contained_and_escaped(current, history, anomaly) -> None:
    current["providers"]["ebay"]["error"] = "<script>alert(1)</script>"
    page = render_html(current, history, anomaly)
    tags = parse(page).tags
    assert not [t for t, _ in tags if t in {"script", "link", "img", "iframe"}]
    assert not [a for _, a in tags if "src" in a or "href" in a]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert page.startswith("<!DOCTYPE html>")


def test_html_tables(current, history, anomaly) -> None:
    text = " ".join(parse(render_html(current, history, anomaly)).text)
    for expected in ("shopify", "missing AMAZON_CREATORS_CREDENTIAL_ID", "price_positive",
                     "70–130 (alert 50–150)", "🔴 alert"):  # fmt: skip
        assert expected in text


def test_html_without_anomaly_or_history(current) -> None:
    page = render_html(current, [], None)
    tags = parse(page).tags
    assert sum(t == "polyline" for t, _ in tags) == 6
    assert not [a for t, a in tags if t == "rect"]
    assert "Anomaly detection did not run." in page


def test_write_reports(tmp_path, current, history, anomaly) -> None:
    links = {"run_url": "https://github.com/o/r/actions/runs/1"}
    markdown, page = write_reports(tmp_path / "logs", current, history, anomaly, links)
    assert markdown == tmp_path / "logs" / "report-20261121T120000Z-1a2b3c.md"
    assert page == tmp_path / "logs" / "report-20261121T120000Z-1a2b3c.html"
    assert markdown.read_text(encoding="utf-8") == render_markdown(current, history, anomaly, links)
    assert "<svg" in page.read_text(encoding="utf-8")
    assert sorted(p.name for p in markdown.parent.iterdir()) == [page.name, markdown.name]


def test_write_reports_sanitises_the_run_id(tmp_path, current, history) -> None:
    current["run_id"] = "../evil/run"
    markdown, _ = write_reports(tmp_path, current, history, None)
    assert markdown == tmp_path / "report-.._evil_run.md"


def test_markdown_times_are_human_and_a_mermaid_chart_shows_the_recent_runs(
    current, history, anomaly
) -> None:
    current["started_at"] = "2026-11-21T12:00:07.123456+00:00"
    text = render_markdown(current, history, anomaly)
    assert "started 2026-11-21 12:00 UTC · 12.3 s" in text
    assert ".123456" not in text
    chart = text[text.index("```mermaid\n") :]
    lines = chart.splitlines()
    assert lines[1:3] == ["xychart-beta", '    title "Listings fetched per run, all providers"']
    dates = [f'"Nov {day}"' for day in range(11, 22)]
    assert lines[3] == f"    x-axis [{', '.join(dates)}]"
    assert lines[4] == '    y-axis "listings" 0 --> 200'
    assert lines[5] == "    line [147, 150, 151, 149, 154, 152, 150, 150, 148, 146, 40]"
    assert "Alert band of this run: 75–225 listings fetched." in text


def test_a_first_run_has_no_chart_but_says_why(current) -> None:
    text = render_markdown(current, [], None)
    assert "```mermaid" not in text
    assert "First run of this mode: the chart of recent runs starts with the next one." in text


def svg_texts(svg: str) -> list[str]:
    return [t.text or "" for t in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}text")]


def test_html_plots_have_dated_axes_units_ticks_and_a_legend(current, history, anomaly) -> None:
    shopify = re.findall(r"<svg.*?</svg>", render_html(current, history, anomaly), re.S)[0]
    texts = svg_texts(shopify)
    dates = [t for t in texts if t.startswith("Nov")]
    assert dates == ["Nov 12", "Nov 15", "Nov 18", "Nov 21"] * 2  # each panel: dated, newest last
    assert texts.count("listings") == 2  # each panel's y axis names its unit
    assert "fetched (listings per run)" in texts
    assert texts[texts.index("0") : texts.index("0") + 4] == ["0", "50", "100", "150"]
    assert "alert band (median ± alert bound)" in texts
    assert "median" in texts


def test_html_plots_of_one_and_two_runs(current) -> None:
    first = re.findall(r"<svg.*?</svg>", render_html(current, [], None), re.S)[0]
    assert svg_texts(first).count("first run: no trend yet") == 2
    assert "Nov 21" in svg_texts(first)
    assert "alert band (median ± alert bound)" not in svg_texts(first)  # no band, no key
    earlier = record(NOW - timedelta(hours=3), 120)
    second = re.findall(r"<svg.*?</svg>", render_html(current, [earlier], None), re.S)[0]
    texts = svg_texts(second)
    assert "first run: no trend yet" not in texts
    assert {"Nov 21 09:00", "Nov 21 12:00"} <= set(texts)  # same day: the time tells them apart
    root = ET.fromstring(second)
    [line, *_] = root.findall("{http://www.w3.org/2000/svg}polyline")
    assert len(line.get("points").split()) == 2


def test_html_text_columns_are_left_aligned_and_number_columns_right(
    current, history, anomaly
) -> None:
    tags = parse(render_html(current, history, anomaly)).tags
    heads = [(a.get("class"), a) for t, a in tags if t == "th"][:10]
    assert [c for c, _ in heads] == [None, None, *["num"] * 7, None]  # the Providers table
    rows = [a.get("class") for t, a in tags if t == "td"][:10]
    assert rows == [None, None, *["num"] * 7, None]
    assert ".num { text-align: right; }" in render_html(current, history, anomaly)
