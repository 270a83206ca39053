"""GitHub Actions workflow commands: job summary, step outputs, annotations, masking.

Everything here writes to the files and stdout that the Actions runner reads
(https://docs.github.com/actions/reference/workflows-and-actions/workflow-commands):
``$GITHUB_STEP_SUMMARY`` (Markdown), ``$GITHUB_OUTPUT`` (``name=value`` lines),
and ``::warning``/``::error``/``::add-mask::`` lines on stdout. Outside Actions
(no such variables) the file writers do nothing, so the same code runs locally.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TextIO

from pipelines.net.markup import plain_text
from pipelines.net.secrets import mask
from pipelines.net.workflow_commands import command

# GitHub shows at most 10 warning and 10 error annotations per step; more are dropped.
MAX_ANNOTATIONS = 10
ANNOTATION_LIMIT, TITLE_LIMIT = 500, 100  # characters; annotations are one line of plain text
LEVELS = ("warning", "error")


def annotate(
    annotations: Iterable[tuple[str, str, str]], stream: TextIO | None = None
) -> dict[str, int]:
    """Print ``(level, title, message)`` annotations, at most ``MAX_ANNOTATIONS`` per level.

    When a level has more, its tenth line says how many were left out. Title and message
    are masked, made one line of plain text and capped (``plain_text``). Returns the
    number of annotations of each level that were asked for.
    """
    out = stream or sys.stdout
    by_level: dict[str, list[tuple[str, str]]] = {level: [] for level in LEVELS}
    for level, title, message in annotations:
        by_level[level].append((title, message))
    for level, items in by_level.items():
        if len(items) > MAX_ANNOTATIONS:
            extra = len(items) - MAX_ANNOTATIONS + 1
            items = [*items[: MAX_ANNOTATIONS - 1], ("more", f"… and {extra} more {level}s")]
        for title, message in items:
            text, heading = plain_text(message, ANNOTATION_LIMIT), plain_text(title, TITLE_LIMIT)
            out.write(command(level, text, {"title": heading}) + "\n")
    out.flush()
    return {level: len(items) for level, items in by_level.items()}


def run_annotations(record: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """Annotations for one run-log record: failures and alerts are errors, the rest warnings."""
    found: list[tuple[str, str, str]] = []
    for name, entry in (record.get("providers") or {}).items():
        if entry.get("status") in ("failed", "quality_failed"):
            found.append(("error", name, f"{name} {entry['status']}: {entry.get('error', '')}"))
        found += [("warning", name, str(w)) for w in entry.get("warnings") or ()]
    for verdict in (record.get("anomaly") or {}).get("verdicts") or ():
        level = {"alert": "error", "warn": "warning"}.get(verdict.get("verdict"))
        if level:
            found.append((level, f"volume {verdict['verdict']}", describe_verdict(verdict)))
    return found


def describe_verdict(verdict: Mapping[str, Any]) -> str:
    """``shopify fetched 12 vs median 118 (z -8.1)``; a dataset beyond products' verdict names
    its pull: ``orders.shopify orders_fetched 3 vs median 50 (z -6.0)``."""
    subject = verdict.get("provider")
    if verdict.get("dataset"):
        subject = f"{verdict['dataset']}.{subject}"
    text = f"{subject} {verdict.get('metric')} {verdict.get('value'):g}"
    if verdict.get("median") is not None:
        text += f" vs median {verdict['median']:g}"
    if verdict.get("z") is not None:
        text += f" (z {verdict['z']:+.1f})"
    return text


def _target(env: Mapping[str, str] | None, name: str) -> Path | None:
    value = (os.environ if env is None else env).get(name)
    return Path(value) if value else None


def append_summary(markdown: str, env: Mapping[str, str] | None = None) -> bool:
    """Append Markdown to ``$GITHUB_STEP_SUMMARY``; False when there is no such file.

    Untrusted text in ``markdown`` must already be escaped (``pipelines.net.markup``);
    secrets are masked here once more, as the last step before the file.
    """
    path = _target(env, "GITHUB_STEP_SUMMARY")
    if path is None:
        return False
    with path.open("a", encoding="utf-8") as handle:
        handle.write(mask(markdown).rstrip("\n") + "\n\n")
    return True


def format_outputs(outputs: Mapping[str, Any]) -> str:
    """``name=value`` lines; a multi-line value uses the ``name<<DELIMITER`` form."""
    lines = []
    for name, value in outputs.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if "\n" in text or "\r" in text:
            delimiter = f"EOF_{secrets.token_hex(8)}"
            lines.append(f"{name}<<{delimiter}\n{text}\n{delimiter}")
        else:
            lines.append(f"{name}={text}")
    return "".join(line + "\n" for line in lines)


def set_outputs(outputs: Mapping[str, Any], env: Mapping[str, str] | None = None) -> bool:
    """Append step outputs to ``$GITHUB_OUTPUT``; False when there is no such file."""
    path = _target(env, "GITHUB_OUTPUT")
    if path is None:
        return False
    with path.open("a", encoding="utf-8") as handle:
        handle.write(format_outputs(outputs))
    return True
