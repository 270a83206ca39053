"""``run_pipeline.py file-issues``: open, update, close and reopen GitHub issues about runs.

- A volume **incident** (``pipelines/ops/incidents.py``: a provider's metric that alerts,
  ``total``'s only when no provider explains it) has one issue labelled ``volume-anomaly``.
  A further anomalous run comments on it; once the metric has been back in its band for
  ``--recovered-runs`` runs in a row, the issue is closed with a comment; an alert within
  ``--reopen-days`` of the closing reopens it, a later one opens a new issue. The body is
  rewritten each time with the recent history (a table with dates and a mermaid chart).
- A provider that **failed in the last 3 scheduled runs** in a row (statuses
  ``failed``/``quality_failed``; ``logs/github_runs.jsonl`` says which runs
  were scheduled) gets an issue labelled ``pipeline-failure``, or a comment on the open one.

Each issue body starts with a hidden marker naming its kind and subject. A missing label is
created first (``POST /labels``), since GitHub refuses or drops unknown labels on a new issue.
Issue bodies and comments also carry ``<!-- pipeline-run: RUN_ID -->`` so that ``acknowledge
--from-issues`` can read which runs an issue is about. All provider text is escaped
(``pipelines/net/markup.py``) and masked.
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
from pipelines.ops.incidents import (
    RECOVERED_RUNS,
    REOPEN_DAYS,
    Incident,
    alerting,
    comment_safe,
    history_markdown,
    incident_of,
    recovered,
    within_days,
)

if TYPE_CHECKING:
    from pipelines.cli.main import CommandContext
    from pipelines.ops.github import GitHubClient

HELP = (
    "Open, comment on, close or reopen a volume-anomaly issue per incident (a provider's "
    "metric) and a pipeline-failure issue per provider that failed the last 3 scheduled runs "
    "(GITHUB_TOKEN, issues:write)."
)
ANOMALY_LABEL, FAILURE_LABEL = "volume-anomaly", "pipeline-failure"
LABELS = {
    ANOMALY_LABEL: ("d93f0b", "A pipeline run's volumes left their usual range"),
    FAILURE_LABEL: ("b60205", "A provider failed several scheduled pipeline runs in a row"),
}
DATASET_COLOR = "5319e7"  # the dataset:<name> label of a dataset beyond products
FAILURE_STREAK = 3
FAILED = ("failed", "quality_failed")
MAX_BODY = 60_000  # GitHub refuses bodies over 65,536 characters
RUN_MARKER = "<!-- pipeline-run: {} -->"
RUN_MARKER_RE = re.compile(r"<!-- pipeline-run: ([\w.-]+) -->")
ERROR_LIMIT, TITLE_LIMIT = 300, 200  # characters of a provider's error, of an issue title


@dataclass(frozen=True)
class IssuePlan:
    """One pipeline-failure issue to open or comment on."""

    label: str
    provider: str
    title: str
    intro: str

    @property
    def marker(self) -> str:
        return f"<!-- pipeline-issue: {self.label}/{comment_safe(self.provider)} -->"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--products-dir", type=Path, default=Path("."), metavar="DIR",
        help="folder holding logs/runs.jsonl, logs/github_runs.jsonl and the run's report "
        "(the unpacked products artifact; default: the working directory)",
    )  # fmt: skip
    parser.add_argument(
        "--offline", action="store_true",
        help="the run was an offline demo run: its files are in logs/demo of the products folder",
    )  # fmt: skip
    parser.add_argument("--run-id", metavar="ID", help="the run (default: the last recorded)")
    parser.add_argument("--repo", metavar="OWNER/NAME", help="default: GITHUB_REPOSITORY")
    parser.add_argument(
        "--recovered-runs", type=int, default=RECOVERED_RUNS, metavar="K",
        help=f"close an incident's issue after K runs back in its band (default {RECOVERED_RUNS})",
    )  # fmt: skip
    parser.add_argument(
        "--reopen-days", type=float, default=REOPEN_DAYS, metavar="DAYS",
        help="an incident that breaks again within DAYS of its issue's closing reopens it "
        f"(default {REOPEN_DAYS:g}); later, a new issue is opened",
    )  # fmt: skip


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
    the whole text is masked once more (``capped``), the last step before GitHub.
    """
    text = capped(f"{RUN_MARKER.format(comment_safe(run_id))}\n{plan.intro}\n\n{report}")
    for issue in client.list_issues(plan.label):
        if plan.marker in (issue.get("body") or ""):
            client.add_comment(issue["number"], text)
            return f"commented on #{issue['number']} ({plan.title})"
    issue = open_issue(client, plan.label, plan.title, f"{plan.marker}\n{text}")
    return f"opened #{issue['number']} ({plan.title})"


def capped(text: str) -> str:
    """``text`` masked (the last step before GitHub) and cut to what GitHub accepts."""
    text = mask(text)
    if len(text) > MAX_BODY:
        text = text[:MAX_BODY] + "\n\n… (report cut: see the run's artifacts for all of it)"
    return text


def open_issue(
    client: GitHubClient, label: str, title: str, body: str, dataset: str = ""
) -> dict[str, Any]:
    """A new issue labelled ``label`` (and ``dataset:<name>`` for a dataset beyond products),
    each label created first when the repository lacks it."""
    labels = {label: LABELS[label]}
    if dataset:
        labels[f"dataset:{dataset}"] = (DATASET_COLOR, f"About the pipeline's {dataset} dataset")
    for name, (color, description) in labels.items():
        if client.ensure_label(name, color, description):
            print(f"created label {name}")
    return client.create_issue(title, body, list(labels))


@dataclass(frozen=True)
class IncidentRun:
    """What the incident lifecycle needs about the run being filed."""

    record: Mapping[str, Any]
    runs: Sequence[Mapping[str, Any]]  # the run log up to and including ``record``
    report: str
    recovered_runs: int
    reopen_days: float

    @property
    def run_marker(self) -> str:
        return RUN_MARKER.format(comment_safe(self.record["run_id"]))

    def latest(self, incident: Incident) -> str:
        """``Run `ID`: shopify fetched 3 vs median 70 (z -9.5).`` (escaped)."""
        verdict = incident.verdict(self.record) or {
            "provider": incident.provider,
            "metric": incident.metric,
            "value": 0,
            "dataset": incident.dataset or None,
        }
        text = markdown_cell(describe_verdict(verdict))
        return f"Run {markdown_code(self.record['run_id'])}: {text} ({verdict.get('verdict')})."

    def body(self, incident: Incident, old_body: str = "") -> str:
        """The issue body: markers (every run it was about), the history, this run's report."""
        run_ids = dict.fromkeys([*RUN_MARKER_RE.findall(old_body), self.record["run_id"]])
        markers = "\n".join(RUN_MARKER.format(comment_safe(run_id)) for run_id in run_ids)
        scope = f"{markdown_cell(incident.dataset)}: " if incident.dataset else ""
        return capped(
            f"{incident.marker}\n{markers}\n{scope}**{markdown_cell(incident.provider)}** "
            f"{markdown_cell(incident.metric)} left its alert band. {self.latest(incident)}"
            "\n\n## Recent runs\n\n"
            f"{history_markdown(incident, self.runs)}\n\n## Latest run\n\n{self.report}"
        )


def incident_issues(client: GitHubClient) -> dict[Incident, dict[str, Any]]:
    """The newest issue of each incident, open or closed (GitHub lists newest first)."""
    found: dict[Incident, dict[str, Any]] = {}
    for issue in client.list_issues(ANOMALY_LABEL, state="all"):
        incident = incident_of(issue.get("body") or "")
        if incident is not None and incident not in found:
            found[incident] = issue
    return found


def raise_incident(
    client: GitHubClient, run: IncidentRun, incident: Incident, issue: Mapping[str, Any] | None
) -> str:
    """Comment on the incident's open issue, reopen a recently closed one, or open one."""
    closed = issue is not None and issue["state"] == "closed"
    reopen = closed and within_days(
        issue.get("closed_at"), run.record.get("started_at"), run.reopen_days
    )  # fmt: skip
    if issue is None or (closed and not reopen):
        created = open_issue(client, ANOMALY_LABEL, incident.title, run.body(incident),
                             incident.dataset)  # fmt: skip
        return f"opened #{created['number']} ({incident.title})"
    number = issue["number"]
    client.update_issue(number, body=run.body(incident, issue.get("body") or ""), state="open")
    text = f"{run.run_marker}\n{run.latest(incident)}\n\n{run.report}"
    client.add_comment(number, capped(text))
    return f"{'reopened' if reopen else 'commented on'} #{number} ({incident.title})"


def close_recovered(
    client: GitHubClient, run: IncidentRun, incident: Incident, issue: Mapping[str, Any]
) -> str:
    """Close the issue of an incident whose metric is back in its band, saying so."""
    text = (f"{run.run_marker}\nBack in its band for the last {run.recovered_runs} runs "
            f"(the latest {markdown_code(run.record['run_id'])}): closing.")  # fmt: skip
    client.add_comment(issue["number"], capped(text))
    body = run.body(incident, issue.get("body") or "")
    client.update_issue(issue["number"], body=body, state="closed", state_reason="completed")
    return f"closed #{issue['number']} ({incident.title}): recovered"


def sync_incidents(client: GitHubClient, run: IncidentRun) -> list[str]:
    """Raise this run's incidents; close the open issues whose metric has recovered."""
    alerts, issues = alerting(run.record), incident_issues(client)
    ordered = sorted(alerts, key=lambda incident: incident.marker)
    done = [raise_incident(client, run, incident, issues.get(incident)) for incident in ordered]
    done += [
        close_recovered(client, run, incident, issue)
        for incident, issue in issues.items()
        if issue["state"] == "open" and incident not in alerts
        and recovered(incident, run.runs, run.recovered_runs)
    ]  # fmt: skip
    return done


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def execute(args: argparse.Namespace, context: CommandContext) -> int:
    from pipelines.ops.github import GitHubClient  # requests: not for --help
    from pipelines.ops.state_sync import GITHUB_RUNS_FILE, products_log_dir

    logs = args.products_dir / products_log_dir(context.config, args.offline)
    runs = read_runs(logs)
    matches = [r for r in runs if args.run_id in (None, r["run_id"])]
    if not matches:
        raise ConfigError(f"--run-id: no run {args.run_id or ''} in {logs / 'runs.jsonl'}")
    if args.recovered_runs < 1 or args.reopen_days < 0:
        raise ConfigError("--recovered-runs must be at least 1 and --reopen-days at least 0")
    record = matches[-1]
    report_path = logs / f"report-{record['run_id']}.md"
    if not report_path.exists():
        raise ConfigError(f"file-issues: {report_path} does not exist")
    report = report_path.read_text(encoding="utf-8")
    plans = failure_plans(failure_streaks(record, runs, _read_jsonl(logs / GITHUB_RUNS_FILE)))
    judged = [v for v in (record.get("anomaly") or {}).get("verdicts") or ()
              if v.get("verdict") in ("ok", "warn", "alert")]  # fmt: skip
    if not plans and not judged:
        print(f"run {record['run_id']}: no verdict and no failure streak: no issue to file")
        return 0
    client = GitHubClient.from_env(context.env, args.repo)
    run = IncidentRun(record, runs[: runs.index(record) + 1], report,
                      args.recovered_runs, args.reopen_days)  # fmt: skip
    done = sync_incidents(client, run) if judged else []
    done += [submit(client, plan, record["run_id"], report) for plan in plans]
    sys.stdout.write("".join(line + "\n" for line in done))
    append_summary("\n".join(f"- Issues: {markdown_cell(line)}" for line in done), context.env)
    return 0
