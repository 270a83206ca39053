"""The job summary's part about a sharded run: each shard, a chart, its artifact, human times.

Rendered by ``gha-finalize`` under the joined run's report. Times read as people say them
(``2026-12-05 23:57 UTC``, ``4 min 12 s``); artifact links point at the artifact itself
(``…/actions/runs/<id>/artifacts/<artifact id>``, what actions/upload-artifact calls
``artifact-url``), not at the run page. Every cell is escaped (``pipelines/net/markup.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pipelines.checks.times import human_duration, human_time
from pipelines.net.markup import markdown_cell, markdown_code

SHARD_HEADERS = ("Shard", "Run", "Started (UTC)", "Took", "Exit code", "Fetched", "Artifact")


def artifact_url(env: Mapping[str, str], artifact_id: int) -> str:
    """The link to one artifact of this workflow run (its ``artifact-url``)."""
    return (f"{env.get('GITHUB_SERVER_URL', 'https://github.com')}/{env['GITHUB_REPOSITORY']}"
            f"/actions/runs/{env['GITHUB_RUN_ID']}/artifacts/{artifact_id}")  # fmt: skip


def fetched_by_shard(record: Mapping[str, Any], runs: Mapping[str, Mapping[str, Any]]) -> list:
    """The rows each shard of ``record`` fetched (its own record's total)."""
    return [
        int(((runs.get(leg["run_id"]) or {}).get("totals") or {}).get("fetched", 0))
        for leg in record["legs"]
    ]


def shards_markdown(
    record: Mapping[str, Any],
    runs: Mapping[str, Mapping[str, Any]],
    links: Mapping[str, str],
    notes: Sequence[str],
) -> str:
    """The shards table (with ``links``: shard -> artifact URL), a chart of the rows each
    fetched, and the notes (missing shards, deletions decided or not)."""
    fetched = fetched_by_shard(record, runs)
    rows = []
    for leg, count in zip(record["legs"], fetched, strict=True):
        url = links.get(leg["shard"])
        link = f"[products]({url})" if url else "–"
        took = human_duration(leg["duration_seconds"])
        cells = [markdown_cell(leg["shard"]), markdown_code(leg["run_id"]),
                 *(markdown_cell(c) for c in (human_time(leg["started_at"]), took,
                                              leg["exit_code"], f"{count:,}"))]  # fmt: skip
        rows.append("| " + " | ".join(cells) + f" | {link} |")
    rows += [f"| {markdown_cell(s)} | – | – | – | – | – | no run record |"
             for s in record.get("missing_shards", ())]  # fmt: skip
    table = "\n".join(["| " + " | ".join(SHARD_HEADERS) + " |", "|---|---|---|---|--:|--:|---|",
                       *rows])  # fmt: skip
    took = human_duration(record.get("duration_seconds"))
    intro = f"{len(record['legs'])} shard(s), {took} from the first start to the last end."
    chart = bar_chart([leg["shard"] for leg in record["legs"]], fetched)
    parts = [f"## Shards\n\n{intro}", table, chart]
    if notes:
        parts.append("\n".join(f"- {markdown_cell(note, 500)}" for note in notes))
    return "\n\n".join(p for p in parts if p)


def bar_chart(labels: Sequence[str], values: Sequence[int]) -> str:
    """A mermaid bar chart of the rows each shard fetched (labels are ``K/N``, validated)."""
    if not labels:
        return ""
    names = ", ".join(f'"{label}"' for label in labels)
    return (
        "```mermaid\nxychart-beta\n"
        '    title "Rows fetched per shard"\n'
        f"    x-axis [{names}]\n"
        f'    y-axis "rows" 0 --> {max(max(values, default=0), 1)}\n'
        f"    bar [{', '.join(str(int(v)) for v in values)}]\n```"
    )
