"""The orchestration plan: one description of a scheduled run that every scheduler adapter reads.

``run_pipeline.py --dump-orchestration-plan`` prints it as JSON; ``plan --emit …`` turns it
into a crontab line or a Windows task; ``orchestration/`` builds Airflow, Dagster, Prefect
and Temporal graphs from it. It is built from ``pipeline.toml``'s ``[orchestration]`` table::

    [orchestration]
    mode = "plain_cron"              # which scheduler runs the pipeline (see orchestration_config)
    python = ".venv/bin/python"      # interpreter of the step commands, relative to the project
    extra_args = []                  # run options passed to every step, e.g. ["--limit", "500"]
    providers = []                   # only these providers (default: all)
    alerts = [{ kind = "github_issue" }, { kind = "webhook", url_env = "ALERT_WEBHOOK_URL" }]
    shards = 1                       # N > 1: every scheduled run fans out to N shard runs

    [orchestration.schedule]
    cron = "15 0 * * *"              # five fields: minute hour day-of-month month day-of-week
    timezone = "UTC"                 # IANA name

Paths in the plan's commands are relative to the project root (the folder holding
``pipelines/``). The plan lists the *names* of the environment variables a run needs,
never their values.

With ``shards = N`` (N > 1) the plan has no top-level ``steps``: its ``shards`` list holds one
run per shard ``K/N`` that has work (``pipelines/run/shard.py``), each with its own providers,
step graph, commands (carrying ``--shard K/N``), lock file and log file. The shards run at the
same time and their write steps queue on the lake's commit lock, so a shard's ``write`` may
wait ``lock_wait_seconds`` on top of its own timeout.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.config import PipelineConfig
from pipelines.errors import ConfigError
from pipelines.lake.datasets import PRODUCTS, parse_datasets
from pipelines.ops.orchestration_config import ALERT_KINDS, read_orchestration
from pipelines.run.dataset_step import planned_pulls
from pipelines.run.options import RunOptions
from pipelines.run.postgres import postgres_settings
from pipelines.run.runner import Runner
from pipelines.run.shard import Shard
from pipelines.run.steps import Step, step_graph
from providers.base import Provider

PLAN_VERSION = 1
SCRIPT = "pipelines/run_pipeline.py"
GITHUB_ALERT_ENV = (("GITHUB_TOKEN", True), ("GITHUB_REPOSITORY", False))
METRICS_ENV = "PROMETHEUS_PUSHGATEWAY"


def environment_names(
    providers: Sequence[Provider], alerts: Sequence[Mapping[str, str]]
) -> list[dict[str, Any]]:
    """Every environment variable a scheduled run may read: names and roles, never values."""
    names = [
        {
            "name": s.env,
            "used_by": f"providers.{p.name}",
            "secret": s.secret,
            "required": s.required and s.default is None,
        }
        for p in providers
        for s in p.settings
    ]
    for alert in alerts:
        if alert["kind"] == "github_issue":
            names += [
                {"name": env, "used_by": "alerts", "secret": secret, "required": True}
                for env, secret in GITHUB_ALERT_ENV
            ]
        for key in ALERT_KINDS[alert["kind"]]:
            if key.endswith("_env"):
                names.append(
                    {"name": alert[key], "used_by": "alerts", "secret": True, "required": True}
                )
    names.append({"name": METRICS_ENV, "used_by": "metrics", "secret": False, "required": False})
    unique: dict[str, dict[str, Any]] = {}
    for entry in names:
        unique.setdefault(entry["name"], entry)  # the first declaration of a name wins
    return list(unique.values())


def step_hints(step: Step, step_command: Sequence[str]) -> dict[str, Any]:
    """A step of the graph with its retry policy and the argv that runs it."""
    return {
        **step.to_dict(),
        "retry_backoff": "exponential" if step.retries else "none",
        "command": [step.name if arg == "{step}" else arg for arg in step_command],
    }


def build_plan(
    config: PipelineConfig, providers: Mapping[str, Provider], location_args: Sequence[str] = ()
) -> dict[str, Any]:
    """The plan of ``config``'s scheduled run (``location_args``: its --config/--data-dir)."""
    settings = read_orchestration(config.sections.get("orchestration", {}), providers)
    selected = [providers[n] for n in settings["providers"]] or list(providers.values())
    names = [p.name for p in selected]
    datasets = parse_datasets(config.datasets, "pipeline.datasets")
    options = list(location_args)
    if settings["providers"]:
        options += ["--providers", ",".join(names)]
    if datasets != (PRODUCTS,):
        options += ["--datasets", ",".join(datasets)]
    options += settings["extra_args"]
    head: dict[str, Any] = {
        "version": PLAN_VERSION,
        "mode": settings["mode"],
        "schedule": settings["schedule"],
        "providers": names,
        "datasets": list(datasets),
    }
    postgres = postgres_settings(config.sections.get("sinks"))
    sinks = ("postgres",) if postgres else ()
    environment = environment_names(selected, settings["alerts"])
    if postgres:
        environment.append({"name": postgres.dsn_env, "used_by": "sinks.postgres",
                            "secret": True, "required": True})  # fmt: skip
    tail = {"alerts": settings["alerts"], "environment": environment}
    concurrency = {"concurrency": {"max_active_runs": 1, "overlap": "skip"}}
    if settings["shards"] == 1:
        products = [p.name for p in selected if PRODUCTS in p.datasets and PRODUCTS in datasets]
        units = Units(products, planned_pulls(selected, RunOptions(datasets=datasets)), sinks)
        run = run_part(settings["python"], units, options, Path(config.log_dir))
        ordered = (
            "command",
            "concurrency",
            "run_timeout_seconds",
            "steps",
            "alerts",
            "environment",
            "log_file",
            "lock_file",
        )  # the order of the pinned plan
        merged = {**run, **concurrency, **tail}
        return {**head, **{key: merged[key] for key in ordered}}
    asked = Units(names, sinks=sinks)
    shards = shard_parts(config, providers, settings, options, asked, datasets)
    timeout = max(shard["run_timeout_seconds"] for shard in shards)
    return {**head, **concurrency, "run_timeout_seconds": timeout, "shards": shards, **tail}


@dataclass(frozen=True)
class Units:
    """What a run's step graph is made of: its product providers, its dataset pulls
    (``orders.shopify``) and its sinks (``pipelines/run/steps.py``)."""

    providers: Sequence[str]
    pulls: Sequence[str] = ()
    sinks: Sequence[str] = ()

    def graph(self) -> list[Step]:
        return step_graph(self.providers, sinks=self.sinks, datasets=self.pulls)


def run_part(
    python: str,
    units: Units,
    options: Sequence[str],
    log_dir: Path,
    shard: Shard | None = None,
    lock_wait_seconds: float = 0,
) -> dict[str, Any]:
    """What one scheduled run (the whole one, or a shard) needs: commands, steps, lock, log.

    A shard's ``write`` may first queue behind the other shards' on the commit lock, so its
    timeout grows by ``lock_wait_seconds``.
    """
    base = [python, SCRIPT]
    options = [*options, "--shard", str(shard)] if shard else list(options)
    step_command = [*base, "run-step", "{step}", "--run-id", "{run_id}", *options]
    steps = [step_hints(step, step_command) for step in units.graph()]
    for step in steps:
        if step["name"] == "write":
            step["timeout_seconds"] += math.ceil(lock_wait_seconds)
    suffix = f"-shard-{shard.index}-of-{shard.count}" if shard else ""
    return {
        "command": {"run": [*base, *options], "step": step_command},
        "run_timeout_seconds": sum(step["timeout_seconds"] for step in steps),
        "steps": steps,
        "log_file": str(log_dir / f"scheduler{suffix}.log"),
        "lock_file": str(log_dir / f"pipeline{suffix}.lock"),
    }


def shard_parts(
    config: PipelineConfig,
    providers: Mapping[str, Provider],
    settings: Mapping[str, Any],
    options: Sequence[str],
    asked: Units,
    datasets: Sequence[str],
) -> list[dict[str, Any]]:
    """One run per shard that has work: its share of ``asked.providers`` and of their
    ``datasets``, as the runner will plan them.

    A shard with no work (more shards than units) is left out: it would have nothing to do.
    """
    offline = "--offline" in settings["extra_args"]
    parts = []
    for index in range(1, settings["shards"] + 1):
        shard = Shard(index, settings["shards"])
        run_options = RunOptions(providers=tuple(asked.providers), offline=offline,
                                 shard=str(shard), datasets=tuple(datasets))  # fmt: skip
        runner = Runner(config, providers, {}, run_options)
        units = Units(runner.planned_providers(), runner.planned_pulls(), asked.sinks)
        if units.providers or units.pulls:
            run = run_part(settings["python"], units, options, Path(config.log_dir), shard,
                           config.lock_wait_seconds)  # fmt: skip
            parts.append({"shard": str(shard), "providers": list(units.providers), **run})
    if not parts:
        raise ConfigError("orchestration.shards: no shard has any work (no providers selected?)")
    return parts


def location_args(config_path: Path | None, data_dir: Path | None) -> list[str]:
    """The --config/--data-dir flags the plan was asked with, so scheduled runs use them too."""
    args: list[str] = []
    if config_path is not None:
        args += ["--config", str(config_path)]
    if data_dir is not None:
        args += ["--data-dir", str(data_dir)]
    return args


def plan_json(plan: Mapping[str, Any]) -> str:
    """The plan as stable, indented JSON (what ``--dump-orchestration-plan`` prints)."""
    return json.dumps(plan, indent=2)
