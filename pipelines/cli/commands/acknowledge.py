"""``run_pipeline.py acknowledge``: mark runs whose volumes are the new normal.

The runner reads ``logs/acknowledged_runs.txt`` (one run id per line): an
acknowledged run that was flagged ``alert`` trains the anomaly detector again.
``--from-issues`` takes the run ids from ``volume-anomaly`` issues that carry
the ``acknowledged`` label (the way to acknowledge from GitHub, where the log
lives in the state, not in the repository). Only markers written by the issue's
own author (the workflow's bot) count, so a commenter cannot acknowledge runs.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from pipelines.cli.commands.file_issues import ANOMALY_LABEL, RUN_MARKER_RE
from pipelines.errors import ConfigError
from pipelines.lake.runlog import read_runs

if TYPE_CHECKING:
    from pipelines.cli.main import CommandContext
    from pipelines.ops.github import GitHubClient

HELP = "Append run ids to logs/acknowledged_runs.txt so that their volumes train the detector."
ACK_LABEL = "acknowledged"
RUN_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{6}$")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_ids", nargs="*", metavar="RUN_ID", help="run ids to acknowledge")
    parser.add_argument(
        "--from-issues", action="store_true",
        help=f"also take the runs of {ANOMALY_LABEL} issues labelled {ACK_LABEL!r} "
        "(GITHUB_TOKEN with issues:read)",
    )  # fmt: skip
    parser.add_argument("--repo", metavar="OWNER/NAME", help="default: GITHUB_REPOSITORY")
    parser.add_argument(
        "--offline", action="store_true",
        help="runs of the offline demo: check the ids in its run log (<log_dir>/demo/runs.jsonl)",
    )  # fmt: skip


def runs_from_issues(client: GitHubClient) -> Iterator[str]:
    """Run ids named by markers in acknowledged anomaly issues, open or closed."""
    for issue in client.list_issues(f"{ANOMALY_LABEL},{ACK_LABEL}", state="all"):
        author = (issue.get("user") or {}).get("login")
        yield from RUN_MARKER_RE.findall(issue.get("body") or "")
        for comment in client.issue_comments(issue["number"]):
            if (comment.get("user") or {}).get("login") == author:
                yield from RUN_MARKER_RE.findall(comment.get("body") or "")


def append_acknowledged(log_dir: Path, run_ids: Iterable[str]) -> list[str]:
    """Append the ids not yet acknowledged; return them."""
    from pipelines.run.detect import ACKNOWLEDGED_FILE, acknowledged_runs

    known = acknowledged_runs(log_dir)
    added = [run_id for run_id in dict.fromkeys(run_ids) if run_id not in known]
    if added:
        log_dir.mkdir(parents=True, exist_ok=True)
        with (log_dir / ACKNOWLEDGED_FILE).open("a", encoding="utf-8") as handle:
            handle.write("".join(run_id + "\n" for run_id in added))
    return added


def execute(args: argparse.Namespace, context: CommandContext) -> int:
    if not args.run_ids and not args.from_issues:
        raise ConfigError("acknowledge: give one or more RUN_IDs, or --from-issues")
    bad = [run_id for run_id in args.run_ids if not RUN_ID.match(run_id)]
    if bad:
        raise ConfigError(
            f"acknowledge: {', '.join(map(repr, bad))} is not a run id "
            "(like 20261122T000623Z-4240cc; see --status)"
        )
    run_ids = list(args.run_ids)
    if args.from_issues:
        from pipelines.ops.github import GitHubClient  # requests: only when asked

        run_ids += runs_from_issues(GitHubClient.from_env(context.env, args.repo))
    # One file for both modes (run ids never collide): the workflow reads the issues before
    # its run decides whether it goes offline. --offline says which run log to check them in.
    log_dir = context.config.run_log_dir(args.offline)
    recorded = {run["run_id"] for run in read_runs(log_dir)}
    for run_id in run_ids:
        if run_id not in recorded:
            print(f"note: {run_id} is not in {log_dir / 'runs.jsonl'} (acknowledged anyway)")
    added = append_acknowledged(context.config.run_log_dir(), run_ids)
    print(f"acknowledged {len(added)} new run(s): {', '.join(added) or 'none'}")
    return 0
