"""``run_pipeline.py gha-publish``: after a run in GitHub Actions, report it and stage artifacts.

Writes the report (with links to the workflow run and its artifacts) to the
job summary, failures and anomaly verdicts as annotations, key counts as step
outputs, and, when the run committed (its manifest is in the lake, local or
object store), stages its files and the state for upload (see
``pipelines/ops/state_sync.py``). With an object-store lake the data and state
stay in the lake: the products folder then holds the reports, run record,
manifest and a sample (``pipelines/ops/lake_products.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipelines.ops.gha import annotate, append_summary, run_annotations, set_outputs
from pipelines.run.incidents import verdict_subject

if TYPE_CHECKING:
    from pipelines.cli.main import CommandContext
    from pipelines.lake.lake import Lake

HELP = (
    "In GitHub Actions, after the pipeline step: job summary, annotations, step outputs, and "
    "the products and state folders to upload."
)
COUNT_OUTPUTS = ("fetched", "new", "changed", "quarantined", "written")
FAILED = ("failed", "quality_failed")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--exit-code", type=int, required=True, metavar="N",
                        help="the pipeline step's exit code")  # fmt: skip
    parser.add_argument(
        "--runs-before", type=int, default=0, metavar="N",
        help="records in the run log before the run (restore-state's output runs_before, or "
        "demo_runs_before with --offline)",
    )  # fmt: skip
    parser.add_argument(
        "--offline", action="store_true",
        help="the run was an offline demo run (the run step's output offline): publish it from "
        "its run log in <log_dir>/demo",
    )  # fmt: skip
    parser.add_argument("--products-dir", type=Path, required=True, metavar="DIR",
                        help="where to stage the products artifact")  # fmt: skip
    parser.add_argument(
        "--state-dir", type=Path, required=True, metavar="DIR",
        help="where to stage the state (cache and pipeline-state artifact)",
    )  # fmt: skip
    parser.add_argument(
        "--no-raw", action="store_true",
        help="leave the raw landing files out of the products artifact",
    )  # fmt: skip


def run_links(env: Mapping[str, str]) -> dict[str, str]:
    """Links to this workflow run and its artifacts, from the variables the runner sets."""
    needed = ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")
    if not all(env.get(name) for name in needed):
        return {}
    run_url = (
        f"{env['GITHUB_SERVER_URL']}/{env['GITHUB_REPOSITORY']}/actions/runs/{env['GITHUB_RUN_ID']}"
    )
    attempt = env.get("GITHUB_RUN_ATTEMPT", "1")
    if attempt != "1":
        run_url += f"/attempts/{attempt}"
    return {"run_url": run_url, "artifacts_url": f"{run_url}#artifacts"}


def execute(args: argparse.Namespace, context: CommandContext) -> int:
    """Long: the summary, the report, the staged folders and the outputs, in the order the
    workflow reads them."""
    from pipelines.checks.report import write_reports  # pyarrow, requests: not for --help
    from pipelines.lake.lake import Lake
    from pipelines.lake.runlog import read_runs
    from pipelines.lake.storage import open_storage
    from pipelines.ops.lake_products import stage_lake_products
    from pipelines.ops.state_sync import stage_products, stage_state

    env, log_dir = context.env, context.config.run_log_dir(args.offline)
    runs = read_runs(log_dir)
    if len(runs) <= args.runs_before:
        text = (f"No run was recorded (exit code {args.exit_code}): a dry run, a usage or "
                "configuration error, or a crash (see the pipeline step's log). "
                "Nothing was committed.")  # fmt: skip
        sys.stdout.write(text + "\n")
        append_summary(text, env)
        set_outputs({"committed": False, "exit_code": args.exit_code, "notify": False}, env)
        return 0
    record, history = runs[-1], runs[:-1]
    markdown, _ = write_reports(log_dir, record, history, record.get("anomaly"), run_links(env))
    append_summary(markdown.read_text(encoding="utf-8"), env)
    # A shard's volumes are its share: the finalize job judges the whole run's, and says so.
    annotate(run_annotations({**record, "anomaly": None} if record.get("shard") else record))
    record_github_run(log_dir, record["run_id"], env)
    config = context.config
    lake = Lake(open_storage(record["data_dir"], endpoint_url=config.s3_endpoint_url,
                             region=config.s3_region))  # fmt: skip
    manifest = lake.read_manifest(record["run_id"])
    if manifest is not None and lake.storage.remote:
        stage_lake_products(record, manifest, lake, log_dir, args.products_dir)
    elif manifest is not None:
        stage_products(record, Path.cwd(), log_dir, args.products_dir, include_raw=not args.no_raw)
        stage_state(config, Path.cwd(), args.state_dir)
    result = outputs(record, manifest is not None, env)
    if record.get("shard"):
        result.update(shard_leg(lake, record, env))
    set_outputs(result, env)
    return 0


def shard_leg(lake: Lake, record: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    """A shard of a sharded run: leave its leg in the lake for ``gha-finalize`` (which judges
    and files issues for the whole run, so this shard asks for none), and name its artifact
    after the shard."""
    from pipelines.run.shard import Shard
    from pipelines.run.shard_join import record_leg

    shard = Shard.parse(record["shard"])
    if env.get("GITHUB_RUN_ID"):
        record_leg(lake.storage, env["GITHUB_RUN_ID"], shard, record["run_id"],
                   record["exit_code"])  # fmt: skip
    return {"notify": False, "judged": False,
            "artifact_suffix": f"-shard-{shard.index}-of-{shard.count}"}  # fmt: skip


def record_github_run(log_dir: Path, run_id: str, env: Mapping[str, str]) -> None:
    """Remember which workflow run and event produced ``run_id`` (``logs/github_runs.jsonl``)."""
    from pipelines.ops.state_sync import GITHUB_RUNS_FILE

    entry = {
        "run_id": run_id,
        "event": env.get("GITHUB_EVENT_NAME", ""),
        "github_run_id": env.get("GITHUB_RUN_ID", ""),
        "github_run_attempt": env.get("GITHUB_RUN_ATTEMPT", ""),
    }
    with (log_dir / GITHUB_RUNS_FILE).open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry, sort_keys=True) + "\n")


def outputs(record: Mapping[str, Any], committed: bool, env: Mapping[str, str]) -> dict[str, Any]:
    """The step outputs: run id, verdict, who alerted or failed, whether the volumes were judged
    at all (``judged``: the issues job then keeps the incidents' issues current), the counts."""
    anomaly = record.get("anomaly") or {}
    alerts = sorted(  # a dataset's volume alert names its pull (orders.shopify)
        {verdict_subject(v) for v in anomaly.get("verdicts", []) if v.get("verdict") == "alert"}
    )
    pulls = {**record["providers"], **(record.get("datasets") or {})}
    failed = sorted(n for n, e in pulls.items() if e.get("status") in FAILED)
    totals = record.get("totals") or {}
    scheduled_failure = bool(failed) and env.get("GITHUB_EVENT_NAME") == "schedule"
    judged = [v for v in anomaly.get("verdicts", []) if v.get("verdict") in ("ok", "warn", "alert")]
    return {
        "run_id": record["run_id"],
        "committed": committed,
        "exit_code": record["exit_code"],
        "bootstrap": bool(record.get("bootstrap")),
        "anomaly": anomaly.get("worst", "ok"),
        "alert_providers": ",".join(alerts),
        "failed_providers": ",".join(failed),
        "notify": bool(alerts) or scheduled_failure,
        "judged": bool(judged),  # file-issues may close an issue whose metric recovered
        **{name: totals.get(name, 0) for name in COUNT_OUTPUTS},
    }
