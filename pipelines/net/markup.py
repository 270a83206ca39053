"""Untrusted text made inert in Markdown and HTML: the one escaping helper.

Provider data and error messages end up in issue bodies, job summaries, annotations and
reports that other people read (issues are public on a public repository). Through these
helpers such text cannot mention users or teams (``@org/team``), reference issues
(``#12``), add links (``[x](https://…)``, bare ``https://…`` and ``www.…`` autolinks,
e-mail addresses), images, headings, lists, HTML (``<img src=x>``) or LaTeX, break out of
a table cell (``|``) or a line (newlines), or reorder what is shown (bidi overrides,
zero-width characters). Every helper masks secrets first (``pipelines.net.secrets``), so
a secret is hidden before escaping changes its spelling.

- ``plain_text``: one masked line, invisible and bidi controls removed: annotations, titles.
- ``markdown_text``: ``plain_text`` escaped for Markdown that may begin a line (list item).
- ``markdown_cell``: any value escaped for inline Markdown (a table cell, mid-sentence).
- ``markdown_code``: an identifier (a run id) as an inline code span.
- ``html_text``: ``plain_text`` escaped for HTML text or a quoted attribute.
"""

from __future__ import annotations

import html
import re
from typing import Any

from pipelines.net.secrets import mask

# Bidi embeddings, overrides and isolates, and marks: shown as U+FFFD, so they are seen.
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Zero-width and other invisible characters: dropped.
_INVISIBLE = re.compile("[\u00ad\u180e\u200b-\u200d\u2060-\u2064\ufeff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
# Backslash-escaped anywhere: the punctuation GitHub Markdown gives a meaning inside a line
# (``[`` ``]`` open links and images, ``$`` LaTeX); ``<``, ``>``, ``&`` become entities.
_INLINE = frozenset("\\`*_[]|~$#")
_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}
# What starts a block at the beginning of a line: a list, a heading underline, an ordered item.
_BLOCK_START = re.compile(r"^([-+=])|^(\d+)([.)])")
# A zero-width space after these stops GitHub's mention, issue reference and autolink filters.
_BREAK = "&#8203;"
_BREAK_AFTER = frozenset("@#")
_AUTOLINK = re.compile(r"(?i)(\bwww)(\.)|(:)(//)")


def plain_text(text: Any, limit: int | None = None) -> str:
    """``text`` masked, on one line, without control, bidi or invisible characters."""
    cleaned = _INVISIBLE.sub("", _BIDI.sub("\ufffd", mask(str(text))))
    cleaned = " ".join(_CONTROL.sub(" ", cleaned).split())
    if limit is not None and len(cleaned) > limit:
        cleaned = cleaned[: limit - 1].rstrip() + "…"
    return cleaned


def markdown_text(text: Any, limit: int | None = None) -> str:
    """``text`` as inert Markdown that may start a line (a list item, a paragraph)."""
    inline = markdown_cell(text, limit)
    return _BLOCK_START.sub(lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\{m[3]}", inline)


def markdown_cell(value: Any, limit: int | None = None) -> str:
    """Any value as inert inline Markdown, e.g. a table cell (``–`` for None): one line,
    shown as written; ``|`` cannot split a cell."""
    if value is None:
        return "–"
    text = _AUTOLINK.sub(lambda m: (m[1] or m[3]) + "\0" + (m[2] or m[4]), plain_text(value, limit))
    out = []
    for i, char in enumerate(text):
        if char == "\0":
            out.append(_BREAK)
        elif char == "_" and text[i - 1 : i].isalnum() and text[i + 1 : i + 2].isalnum():
            out.append(char)  # inside a word (``price_positive``) it cannot start emphasis
        else:
            out.append(_ENTITIES.get(char) or (f"\\{char}" if char in _INLINE else char))
            out.append(_BREAK if char in _BREAK_AFTER else "")
    return "".join(out)


def markdown_code(text: Any) -> str:
    """``text`` as one inline code span (a run id, say): nothing inside it is markup."""
    plain = plain_text(text)
    longest = max((len(run) for run in re.findall("`+", plain)), default=0)
    fence = "`" * (longest + 1)
    padded = f" {plain} " if plain.startswith("`") or plain.endswith("`") else plain
    return f"{fence}{padded}{fence}"


def html_text(text: Any, limit: int | None = None) -> str:
    """``text`` escaped for HTML text or a double-quoted attribute value."""
    return html.escape(plain_text(text, limit), quote=True)
