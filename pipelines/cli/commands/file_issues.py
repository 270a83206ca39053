"""``run_pipeline.py file-issues``: open or update GitHub issues about one run.

- A volume **alert** (run log ``anomaly.verdicts[].verdict == "alert"``) gets an
  issue labelled ``volume-anomaly`` per alerting provider.
- A provider that **failed in the last 3 scheduled runs** in a row (statuses
  ``failed``/``quality_failed``; ``logs/github_runs.jsonl`` says which runs
  were scheduled) gets an issue labelled ``pipeline-failure``.

Each issue body starts with a hidden marker naming its kind and provider; when
an open issue with the label and marker exists, the run is added as a comment
instead of a second issue. A missing label is created first (``POST /labels``),
since GitHub refuses or drops unknown labels on a new issue. Issue bodies and
comments also carry ``<!-- pipeline-run: RUN_ID -->`` so that ``acknowledge
--from-issues`` can read which runs an issue is about.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.errors import ConfigError
from pipelines.lake.runlog import read_runs
from pipelines.net.markup import markdown_cell, markdown_code, plain_text
from pipelines.net.secrets import mask
from pipelines.ops.gha import append_summary, describe_verdict
from pipelines.ops.github import GitHubClient
from pipelines.ops.state_sync import GITHUB_RUNS_FILE

if TYPE_CHECKING:
    from pipelines.cli.main import CommandContext

HELP = (
    "Open (or comment on) a volume-anomaly issue per alerting provider and a pipeline-failure "
    "issue per provider that failed the last 3 scheduled runs (GITHUB_TOKEN, issues:write)."
)
ANOMALY_LABEL, FAILURE_LABEL = "volume-anomaly", "pipeline-failure"
LABELS = {
    ANOMALY_LABEL: ("d93f0b", "A pipeline run's volumes left their usual range"),
    FAILURE_LABEL: ("b60205", "A provider failed several scheduled pipeline runs in a row"),
}
FAILURE_STREAK = 3
FAILED = ("failed", "quality_failed")
MAX_BODY = 60_000  # GitHub refuses bodies over 65,536 characters
RUN_MARKER = "<!-- pipeline-run: {} -->"
RUN_MARKER_RE = re.compile(r"<!-- pipeline-run: ([\w.-]+) -->")
ERROR_LIMIT, TITLE_LIMIT = 300, 200  # characters of a provider's error, of an issue title


@dataclass(frozen=True)
class IssuePlan:
    """One issue to open or comment on."""

    label: str
    provider: str
    title: str
    intro: str

    @property
    def marker(self) -> str:
        return f"<!-- pipeline-issue: {self.label}/{_comment_safe(self.provider)} -->"


def _comment_safe(text: str) -> str:
    """``text`` fit for an HTML comment marker: nothing but word characters, dots and dashes."""
    return re.sub(r"[^\w.-]", "_", text)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--products-dir", type=Path, default=Path("."), metavar="DIR",
        help="folder holding logs/runs.jsonl, logs/github_runs.jsonl and the run's report "
        "(the unpacked products artifact; default: the working directory)",
    )  # fmt: skip
    parser.add_argument("--run-id", metavar="ID", help="the run (default: the last recorded)")
    parser.add_argument("--repo", metavar="OWNER/NAME", help="default: GITHUB_REPOSITORY")


def alert_plans(record: Mapping[str, Any]) -> list[IssuePlan]:
    """One plan per provider (or ``total``) with an alert verdict in this run."""
    by_provider: dict[str, list[str]] = {}
    for verdict in (record.get("anomaly") or {}).get("verdicts") or ():
        if verdict.get("verdict") == "alert":
            by_provider.setdefault(verdict["provider"], []).append(describe_verdict(verdict))
    return [
        IssuePlan(
            ANOMALY_LABEL,
            provider,
            plain_text(f"Volume anomaly: {provider}", TITLE_LIMIT),
            f"Run {markdown_code(record['run_id'])} raised a volume alert: "
            + "; ".join(markdown_cell(line) for line in lines)
            + ".",
        )
        for provider, lines in sorted(by_provider.items())
    ]


def failure_streaks(
    record: Mapping[str, Any], runs: Sequence[Mapping[str, Any]], github_runs: Sequence[Mapping]
) -> dict[str, list[Mapping[str, Any]]]:
    """Providers that failed the last ``FAILURE_STREAK`` scheduled runs, this run the last."""
    scheduled = list(
        dict.fromkeys(e["run_id"] for e in github_runs if e.get("event") == "schedule")
    )
    if not scheduled or scheduled[-1] != record["run_id"]:
        return {}
    by_id = {run["run_id"]: run for run in runs}
    last = [by_id[run_id] for run_id in scheduled[-FAILURE_STREAK:] if run_id in by_id]
    if len(last) < FAILURE_STREAK:
        return {}
    return {
        name: last
        for name in record["providers"]
        if all(run["providers"].get(name, {}).get("status") in FAILED for run in last)
    }


def failure_plans(streaks: Mapping[str, list[Mapping[str, Any]]]) -> list[IssuePlan]:
    plans = []
    for name, streak in sorted(streaks.items()):
        errors = [run["providers"][name].get("error") or "(no message)" for run in streak]
        lines = [f"- {markdown_code(run['run_id'])}: {markdown_cell(error, ERROR_LIMIT)}"
                 for run, error in zip(streak, errors, strict=True)]  # fmt: skip
        intro = (f"**{markdown_cell(name)}** failed in the last {len(streak)} scheduled runs:\n"
                 + "\n".join(lines))  # fmt: skip
        title = plain_text(f"Pipeline failure: {name}", TITLE_LIMIT)
        plans.append(IssuePlan(FAILURE_LABEL, name, title, intro))
    return plans


def submit(client: GitHubClient, plan: IssuePlan, run_id: str, report: str) -> str:
    """Comment on the open issue for ``plan``'s label and provider, or open one.

    The intro is escaped where it is built; the report was escaped when it was rendered;
    the whole text is masked once more here, the last step before GitHub.
    """
    text = mask(f"{RUN_MARKER.format(_comment_safe(run_id))}\n{plan.intro}\n\n{report}")
    if len(text) > MAX_BODY:
        text = text[:MAX_BODY] + "\n\n… (report cut: see the run's artifacts for all of it)"
    for issue in client.list_issues(plan.label):
        if plan.marker in (issue.get("body") or ""):
            client.add_comment(issue["number"], text)
            return f"commented on #{issue['number']} ({plan.title})"
    color, description = LABELS[plan.label]
    if client.ensure_label(plan.label, color, description):
        print(f"created label {plan.label}")
    issue = client.create_issue(plan.title, f"{plan.marker}\n{text}", [plan.label])
    return f"opened #{issue['number']} ({plan.title})"


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def execute(args: argparse.Namespace, context: CommandContext) -> int:
    logs = args.products_dir / "logs"
    runs = read_runs(logs)
    matches = [r for r in runs if args.run_id in (None, r["run_id"])]
    if not matches:
        raise ConfigError(f"--run-id: no run {args.run_id or ''} in {logs / 'runs.jsonl'}")
    record = matches[-1]
    report_path = logs / f"report-{record['run_id']}.md"
    if not report_path.exists():
        raise ConfigError(f"file-issues: {report_path} does not exist")
    report = report_path.read_text(encoding="utf-8")
    streaks = failure_streaks(record, runs, _read_jsonl(logs / GITHUB_RUNS_FILE))
    plans = alert_plans(record) + failure_plans(streaks)
    if not plans:
        print(f"run {record['run_id']}: no alert and no failure streak: no issue to file")
        return 0
    client = GitHubClient.from_env(context.env, args.repo)
    done = [submit(client, plan, record["run_id"], report) for plan in plans]
    sys.stdout.write("".join(line + "\n" for line in done))
    append_summary("\n".join(f"- Issues: {markdown_cell(line)}" for line in done), context.env)
    return 0
