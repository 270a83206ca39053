"""Untrusted text is inert in Markdown and HTML: the escaping helper and every place it is used.

Markdown is rendered with cmarkgfm (GitHub's own cmark-gfm, with its table, autolink and
tag-filter extensions; raw HTML let through so that any that slipped would show). A text is
inert when the document with hostile text in it has exactly the tags of the same document
with plain text in it (no link, image, heading, list, HTML or extra table cell), and its
visible text has no mention, issue reference, bare URL, bidi override or invisible character.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import cmarkgfm
import pytest
from cmarkgfm.cmark import Options

from pipelines.checks.report import render_html, render_markdown
from pipelines.net.markup import html_text, markdown_cell, markdown_code, markdown_text, plain_text
from pipelines.run_pipeline import main
from tests.fakes.github import FakeGitHub

HOSTILE_PARTS = [
    "@org/team",
    "@octocat",
    "[x](https://evil.example)",
    "<img src=x onerror=alert(1)>",
    "a | b",
    "`tick` ``two``",
    "# heading",
    "line one\n# line two\n- item\n\n1. first",
    "abc\u202egnp.exe\u200bdef\u2066x\ufeff",
    "https://bare.example/path www.evil.example mail@evil.example",
    "![pixel](https://evil.example/p.png)",
    "issue #12",
    "**bold** _em_ ~~gone~~ $x^2$",
    "<https://evil.example>",
    "&lt;b&gt; &#64;org",
]
HOSTILE = " ".join(HOSTILE_PARTS)
MENTION = re.compile(r"(?<![\w@\u200b])@[A-Za-z0-9]")
REFERENCE = re.compile(r"(?<![\w&])#\d")
INVISIBLE = re.compile("[\u200c\u200d\u202a-\u202e\u2066-\u2069\ufeff]")


class Page(HTMLParser):
    """The start tags (with attributes) and the visible text of an HTML document."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse_html(page: str) -> Page:
    parser = Page()
    parser.feed(page)
    return parser


def render(markdown: str) -> Page:
    """Markdown as GitHub renders it, raw HTML included (so that nothing hides)."""
    return parse_html(cmarkgfm.github_flavored_markdown_to_html(markdown, Options.CMARK_OPT_UNSAFE))


def assert_inert(hostile: Page, plain: Page) -> None:
    assert hostile.tags == plain.tags  # no link, image, heading, list, HTML or table cell added
    text = "".join(hostile.text)
    assert not MENTION.search(text), text
    assert not REFERENCE.search(text), text
    assert "://" not in text.replace("https://github.com", "")  # no bare URL to autolink
    assert "www." not in text
    assert not INVISIBLE.search(text)


# ---------------------------------------------------------------- the helpers


@pytest.mark.parametrize("text", HOSTILE_PARTS)
def test_markdown_text_is_shown_as_written_and_never_markup(text: str) -> None:
    hostile = render(f"- {markdown_text(text)}\n")
    assert_inert(hostile, render("- plain\n"))
    shown = "".join(hostile.text).replace("\u200b", "").strip()
    assert shown == plain_text(text)  # what was written, on one line, nothing invisible


@pytest.mark.parametrize("text", HOSTILE_PARTS)
def test_markdown_cell_keeps_a_table_row_at_its_width(text: str) -> None:
    table = "| a | b |\n|---|---|\n| {} | x |\n"
    hostile = render(table.format(markdown_cell(text)))
    assert_inert(hostile, render(table.format("plain")))


def test_markdown_text_escapes_block_starts_only_where_a_line_begins() -> None:
    assert markdown_text("- item") == "\\- item"
    assert markdown_text("1. first") == "1\\. first"
    assert markdown_cell("-6.00 (alert 1–2)") == "-6.00 (alert 1–2)"
    assert markdown_cell("price_positive _em_") == "price_positive \\_em\\_"
    assert markdown_cell(None) == "–"


def test_markdown_code_holds_backticks_and_markup_in_one_span() -> None:
    span = markdown_code("r1`` @org [x](https://e)")
    assert span == "```r1`` @org [x](https://e)```"
    assert markdown_code("`x`") == "`` `x` ``"
    page = render(f"run {span}\n")
    assert page.tags == ["p", "code"]


def test_html_text_escapes_tags_quotes_and_invisible_characters() -> None:
    assert (
        html_text('<img src=x> "q" \u202eab\u200bc') == "&lt;img src=x&gt; &quot;q&quot; \ufffdabc"
    )


def test_plain_text_is_one_capped_line() -> None:
    assert plain_text("a\nb\r\n\tc\x00d", 100) == "a b c d"
    assert plain_text("x" * 50, 10) == "x" * 9 + "…"


# ---------------------------------------------------------------- where it is used


def run_record(run_id: str, text: str, provider_error: str | None = None) -> dict[str, Any]:
    """A failed run whose provider error, warnings and alert carry ``text``."""
    return {
        "run_id": run_id,
        "started_at": "2026-11-21T12:00:00+00:00",
        "duration_seconds": 1.0,
        "mode": "live",
        "exit_code": 1,
        "data_dir": "data",
        "providers": {
            "shopify": {"status": "failed", "fetched": 0, "error": provider_error or text,
                        "warnings": [text], "errors": [text], "quality": {text: 2}},
        },
        "totals": {"fetched": 0},
        "anomaly": {"worst": "alert", "verdicts": [
            {"provider": text, "metric": "fetched", "value": 0, "verdict": "alert",
             "median": 70.0, "z": -9.5, "warn_lower": 1, "warn_upper": 2, "alert_lower": 0,
             "alert_upper": 3},
        ]},
    }  # fmt: skip


@pytest.mark.parametrize("text", [HOSTILE, *HOSTILE_PARTS[:4]])
def test_reports_keep_provider_text_inert(text: str) -> None:
    hostile, plain = run_record("r1", text), run_record("r1", "plain")
    assert_inert(render(render_markdown(hostile, [], hostile["anomaly"])),
                 render(render_markdown(plain, [], plain["anomaly"])))  # fmt: skip
    page = parse_html(render_html(hostile, [], hostile["anomaly"]))
    assert page.tags == parse_html(render_html(plain, [], plain["anomaly"])).tags
    assert not INVISIBLE.search("".join(page.text))


def publish(work: Path, records: list[dict[str, Any]], capsys: pytest.CaptureFixture) -> str:
    """gha-publish after the last of ``records``: the job summary; annotations are checked."""
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    (logs / "runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    earlier = [{"run_id": r["run_id"], "event": "schedule"} for r in records[:-1]]
    (logs / "github_runs.jsonl").write_text("".join(json.dumps(e) + "\n" for e in earlier))
    summary = work / f"summary-{records[-1]['run_id']}.md"
    summary.touch()
    env = {"GITHUB_STEP_SUMMARY": str(summary), "GITHUB_EVENT_NAME": "schedule"}
    args = ["gha-publish", "--exit-code", "1", "--runs-before", str(len(records) - 1),
            "--products-dir", "products", "--state-dir", "state"]  # fmt: skip
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            patch.setenv(name, value)
        assert main(args) == 0
    annotations = [line for line in capsys.readouterr().out.splitlines() if line.startswith("::")]
    assert len(annotations) >= 3  # the failure, the warning, the alert
    for line in annotations:
        assert not INVISIBLE.search(line)
    return summary.read_text(encoding="utf-8")


def test_summary_annotations_and_issue_bodies_keep_provider_text_inert(
    gh: FakeGitHub, github_env: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three scheduled failures and an alert: the summary, then both issues as GitHub gets them."""
    bodies = {}
    for text in ("plain", HOSTILE):
        gh.reset()
        for name, value in gh.env().items():
            monkeypatch.setenv(name, value)
        records = [run_record(f"r{n}-{len(text)}", text) for n in range(1, 4)]
        summary = publish(github_env, records, capsys)
        assert main(["file-issues", "--products-dir", str(github_env)]) == 0
        titles = [issue["title"] for issue in gh.state.issues]
        assert len(titles) == 2
        assert not [t for t in titles if "\n" in t or INVISIBLE.search(t)]
        bodies[text] = (summary, *(issue["body"] for issue in gh.state.issues))
    for hostile, plain in zip(bodies[HOSTILE], bodies["plain"], strict=True):
        assert_inert(render(hostile), render(plain))
