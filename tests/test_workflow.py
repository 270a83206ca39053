"""pipeline.yml, run for real without GitHub: its own ``run:`` steps, in order, with stand-ins.

A small runner reads the workflow, evaluates its ``${{ }}`` expressions, runs each ``run:``
step with bash and the variables a GitHub runner sets (``GITHUB_OUTPUT``,
``GITHUB_STEP_SUMMARY``, ``RUNNER_TEMP``, ``GITHUB_API_URL`` pointing at the fake GitHub…)
and replaces each ``uses:`` action with a local stand-in (checkout links the repository,
cache and artifacts copy folders, artifacts go to the fake's store). Each job gets a fresh
workspace and a token carrying exactly the permissions its ``permissions:`` block grants,
so a missing permission fails here as it would on GitHub. Providers run ``--offline``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.github import FakeGitHub
from tests.workflow_syntax import (
    PINS,
    PIPELINE,
    REPO,
    _status_functions,
    condition,
    evaluate,
    interpolate,
    parse_outputs,
    render,
)

CHECKED_OUT = (
    "pipelines", "providers", "pipeline.toml", "requirements.txt",
    *sorted(p.name for p in REPO.glob("requirements*.lock")),
)  # fmt: skip

# ---------------------------------------------------------------- the runner


@dataclass
class Job:
    """One job of a workflow run; a matrix job keeps each leg in ``legs`` and, as GitHub does,
    takes its outputs from the last leg to finish (here: the last one)."""

    name: str
    result: str = "skipped"
    outputs: dict[str, str] = field(default_factory=dict)
    steps: dict[str, dict[str, Any]] = field(default_factory=dict)
    logs: dict[str, str] = field(default_factory=dict)
    summary: str = ""
    legs: list[Job] = field(default_factory=list)


def matrix_legs(spec: dict, ctx: dict) -> list[dict[str, Any]]:
    """The values of each leg of ``spec``'s matrix (one key, a list or ``fromJSON(...)``)."""
    matrix = (spec.get("strategy") or {}).get("matrix")
    if not matrix:
        return [{}]
    [(key, value)] = matrix.items()
    inner = re.fullmatch(r"\$\{\{\s*fromJSON\((.*)\)\s*\}\}", str(value).strip())
    values = json.loads(render(evaluate(inner[1], ctx))) if inner else value
    return [{key: item} for item in values]


@dataclass
class Actions:
    """The fake GitHub plus a cache store, running whole workflow runs."""

    gh: FakeGitHub
    root: Path
    caches: dict[str, Path] = field(default_factory=dict)
    runs: int = 0

    def run_workflow(
        self,
        event: str,
        inputs: dict[str, Any] | None = None,
        variables: dict | None = None,
        secrets: dict | None = None,
    ) -> dict[str, Job]:
        self.runs += 1
        run_id = 7000 + self.runs
        self.gh.add_run(run_id, event=event)
        github = {"event_name": event, "run_id": str(run_id), "run_attempt": "1",
                  "repository": self.gh.repo, "ref_name": "main"}  # fmt: skip
        ctx = {"github": github, "inputs": inputs or {}, "vars": variables or {},
               "secrets": secrets or {}, "needs": {}}  # fmt: skip
        jobs: dict[str, Job] = {}
        for name, spec in PIPELINE["jobs"].items():
            job = jobs[name] = Job(name)
            needs = [spec["needs"]] if isinstance(spec.get("needs"), str) else spec.get("needs", [])
            ctx["needs"] = {
                n: {"result": jobs[n].result, "outputs": jobs[n].outputs} for n in needs
            }
            ctx["functions"] = _status_functions(
                lambda needs=needs: all(jobs[n].result == "success" for n in needs)
            )
            if condition(spec.get("if"), ctx):
                self.run_legs(job, spec, ctx, self.root / f"run{run_id}" / name)
        return jobs

    def run_legs(self, job: Job, spec: dict, ctx: dict, home: Path) -> None:
        """Each leg of the job's matrix in turn (GitHub runs them in parallel)."""
        values = matrix_legs(spec, ctx)
        for index, matrix in enumerate(values):
            leg = Job(job.name)
            strategy = {"job-index": index, "job-total": len(values)}
            where = home if len(values) == 1 else home.with_name(f"{home.name}-{index + 1}")
            self.run_job(leg, spec, {**ctx, "matrix": matrix, "strategy": strategy}, where)
            job.legs.append(leg)
        last = job.legs[-1]
        job.outputs, job.steps, job.logs, job.summary = (
            last.outputs, last.steps, last.logs, last.summary,
        )  # fmt: skip
        job.result = "failure" if any(leg.result == "failure" for leg in job.legs) else "success"

    def run_job(self, job: Job, spec: dict, ctx: dict, home: Path) -> None:
        workspace, temp = home / "workspace", home / "temp"
        workspace.mkdir(parents=True)  # a runner's workspace exists, empty, before checkout
        temp.mkdir(parents=True)
        perms = {f"{k}:{v}" for k, v in (spec.get("permissions") or {}).items()}
        ctx = {**ctx, "github": {**ctx["github"], "token": self.gh.issue_token(perms)},
               "runner": {"temp": str(temp)}, "steps": {}}  # fmt: skip
        failed = False
        ctx["functions"] = _status_functions(lambda: not failed)
        for index, step in enumerate(spec["steps"]):
            if not condition(step.get("if"), ctx):
                ctx["steps"][step.get("id", f"_{index}")] = {"outcome": "skipped", "outputs": {}}
                continue
            env = self.base_env(ctx, workspace, temp)
            env.update({k: interpolate(v, ctx) for k, v in (step.get("env") or {}).items()})
            if "uses" in step:
                outputs, outcome = self.uses(step, ctx, workspace), "success"
            else:
                outcome, outputs = self.shell(job, step, env, temp, index, workspace)
            ctx["steps"][step.get("id", f"_{index}")] = {"outcome": outcome, "outputs": outputs}
            failed = failed or (outcome == "failure" and not step.get("continue-on-error"))
        job.result, job.steps = ("failure" if failed else "success"), ctx["steps"]
        job.outputs = {k: interpolate(v, ctx) for k, v in (spec.get("outputs") or {}).items()}

    def base_env(self, ctx: dict, workspace: Path, temp: Path) -> dict[str, str]:
        github = ctx["github"]
        return {
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}/usr/bin{os.pathsep}/bin",
            "HOME": str(temp), "LANG": "C.UTF-8", "PIP_NO_INDEX": "1",
            "CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_API_URL": self.gh.url,
            "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": self.gh.repo,
            "GITHUB_RUN_ID": github["run_id"], "GITHUB_RUN_ATTEMPT": github["run_attempt"],
            "GITHUB_EVENT_NAME": github["event_name"], "GITHUB_REF_NAME": "main",
            "GITHUB_WORKFLOW_REF": f"{self.gh.repo}/.github/workflows/pipeline.yml@refs/heads/main",
            "GITHUB_WORKSPACE": str(workspace), "RUNNER_TEMP": str(temp),
        }  # fmt: skip

    def shell(self, job: Job, step: dict, env: dict, temp: Path, index: int, cwd: Path) -> tuple:
        output, summary = temp / f"output-{index}", temp / f"summary-{index}"
        output.touch()
        summary.touch()
        script = temp / f"step-{index}.sh"
        script.write_text(step["run"])
        env = {**env, "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary)}
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], cwd=cwd, env=env,
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        job.logs[step["name"]] = done.stdout + done.stderr
        job.summary += summary.read_text()
        return ("success" if done.returncode == 0 else "failure"), parse_outputs(output)

    def uses(self, step: dict, ctx: dict, workspace: Path) -> dict[str, str]:
        action, _, sha = step["uses"].partition("@")
        repo = "/".join(action.split("/")[:2])
        assert PINS[repo][0] == sha, f"{action} not pinned to {PINS[repo]}"
        args = {k: interpolate(v, ctx) for k, v in (step.get("with") or {}).items()}
        if action == "actions/checkout":
            assert args["persist-credentials"] == "false"
            for name in CHECKED_OUT:
                (workspace / name).symlink_to(REPO / name)
            return {}
        if action == "actions/setup-python":
            assert args["python-version"] == "3.11"
            return {}
        return getattr(self, action.split("/", 1)[1].replace("/", "_").replace("-", "_"))(
            args, ctx, workspace
        )

    def cache_restore(self, args: dict, ctx: dict, workspace: Path) -> dict[str, str]:
        prefixes = [p.strip() for p in args.get("restore-keys", "").splitlines() if p.strip()]
        newest_first = list(reversed(self.caches))
        key = next((k for p in prefixes for k in newest_first if k.startswith(p)), None)
        key = args["key"] if args["key"] in self.caches else key
        if key is not None:
            shutil.copytree(self.caches[key], args["path"], dirs_exist_ok=True)
        return {"cache-hit": render(key == args["key"]), "cache-matched-key": key or ""}

    def cache_save(self, args: dict, ctx: dict, workspace: Path) -> dict[str, str]:
        assert args["key"] not in self.caches, "cache keys are immutable: use a fresh key"
        self.caches[args["key"]] = self.root / "caches" / args["key"]
        shutil.copytree(args["path"], self.caches[args["key"]])
        return {}

    def upload_artifact(self, args: dict, ctx: dict, workspace: Path) -> dict[str, str]:
        folder = Path(args["path"])
        assert any(folder.rglob("*")) or args.get("if-no-files-found") != "error"
        assert 1 <= int(args["retention-days"]) <= 90
        if not any(folder.rglob("*")):
            return {}
        names = [
            a.name for a in self.gh.state.artifacts if a.run_id == int(ctx["github"]["run_id"])
        ]
        assert args["name"] not in names, f"two uploads of {args['name']} in one run (409)"
        run_id = int(ctx["github"]["run_id"])
        artifact = self.gh.add_artifact(args["name"], run_id, folder)
        url = f"https://github.com/{self.gh.repo}/actions/runs/{run_id}/artifacts/{artifact.id}"
        return {"artifact-id": str(artifact.id), "artifact-url": url}

    def download_artifact(self, args: dict, ctx: dict, workspace: Path) -> dict[str, str]:
        run_id = int(ctx["github"]["run_id"])
        [artifact] = [
            a for a in self.gh.state.artifacts if (a.name, a.run_id) == (args["name"], run_id)
        ]
        zip_path = Path(args["path"]).with_suffix(".zip")
        Path(args["path"]).mkdir(parents=True, exist_ok=True)
        zip_path.write_bytes(artifact.data)
        zipfile.ZipFile(zip_path).extractall(args["path"])
        return {}


@pytest.mark.parametrize(
    ("expr", "value"),
    [
        ("steps.a.outputs.x == 'TRUE'", True),
        ("!cancelled() && needs.run.outputs.notify == 'true'", False),
        ("vars.MISSING || 30", 30),
        ("vars.SET || 30", "7"),
        ("(github.event_name == 'schedule') && !steps.a.outputs.missing", True),
    ],
)
def test_the_expression_evaluator(expr: str, value: Any) -> None:
    ctx = {
        "steps": {"a": {"outputs": {"x": "true"}}}, "vars": {"SET": "7"},
        "github": {"event_name": "schedule"}, "needs": {"run": {"outputs": {"notify": "false"}}},
        "functions": _status_functions(lambda: True),
    }  # fmt: skip
    assert evaluate(expr, ctx) == value


# ---------------------------------------------------------------- the workflow, run


def seed_history(runs_jsonl: Path, count: int = 10) -> None:
    """Earlier offline runs with far more rows than the recording has, so the next run alerts."""
    now = datetime.now(UTC)
    lines = []
    for i in range(count):
        started = now - timedelta(hours=6 * (count - i) + 1)
        counts = {"fetched": 600 + 7 * i, "new": 40 + i, "changed": 5, "unchanged": 560}
        providers = {name: {"status": "ok", **counts} for name in ("shopify", "amazon", "ebay")}
        record = {
            "run_id": f"{started:%Y%m%dT%H%M%SZ}-{i:06x}", "started_at": started.isoformat(),
            "mode": "offline", "bootstrap": False, "backfill": False, "exit_code": 0,
            "providers": providers, "anomaly": {"worst": "ok", "verdicts": []},
        }  # fmt: skip
        lines.append(json.dumps(record))
    runs_jsonl.write_text("\n".join(lines) + "\n" + runs_jsonl.read_text())


def artifact_zip(gh: FakeGitHub, name: str) -> zipfile.ZipFile:
    [artifact] = [a for a in gh.state.artifacts if a.name == name]
    return zipfile.ZipFile(io.BytesIO(artifact.data))


def check_products(archive: zipfile.ZipFile, run_id: str) -> None:
    """The products artifact holds the run's files, each matching its manifest."""
    manifest = json.loads(archive.read(f"data/demo/_manifests/{run_id}.json"))
    zones = {entry["zone"] for entry in manifest["files"]}
    assert zones == {"raw", "normalized", "quarantine"}
    for entry in manifest["files"]:
        data = archive.read(f"data/demo/{entry['path']}")
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    names = set(archive.namelist())
    logs = "logs/demo"  # an offline run: the demo's run log folder
    assert {
        f"{logs}/report-{run_id}.md",
        f"{logs}/report-{run_id}.html",
        f"{logs}/runs.jsonl",
    } <= names


def test_scheduled_runs_bootstrap_alert_and_recover_state_from_the_artifact(
    tmp_path: Path,
) -> None:
    """20-40 s: three whole workflow runs whose steps start the CLI 14 times (1-2 s each,
    mostly importing pyarrow and pandas). One long scenario, because each run builds on the state
    the one before saved; that hand-over through cache and artifact is what is under test."""
    with FakeGitHub() as gh:
        actions = Actions(gh, tmp_path)
        offline = {"PIPELINE_OFFLINE": "true"}

        # 1. A fresh repository: no cache entry, no state artifact -> a bootstrap run. Exports
        #    asked for with a local lake: a warning (the runner's lake is not whole), no file.
        jobs = actions.run_workflow("schedule", variables=offline | {"PIPELINE_EXPORTS": "csv"})
        run = jobs["run"]
        assert run.result == "success", run.logs
        assert (
            "::warning title=exports::PIPELINE_EXPORTS needs LAKE_URI"
            in (run.logs["Export the catalog"])
        )
        assert run.steps["restore"]["outputs"]["source"] == "none"
        assert "Bootstrap run" in run.summary
        out = run.steps["publish"]["outputs"]
        assert (out["committed"], out["bootstrap"], out["exit_code"]) == ("true", "true", "0")
        assert int(out["written"]) > 100
        assert f"# Pipeline run `{out['run_id']}` (offline)" in run.summary
        check_products(artifact_zip(gh, "products-7001-1"), out["run_id"])
        assert not [n for n in artifact_zip(gh, "products-7001-1").namelist() if "exports/" in n]
        [products] = [a for a in gh.state.artifacts if a.name == "products-7001-1"]
        link = f"https://github.com/octo/products/actions/runs/7001/artifacts/{products.id}"
        assert f"- [Products artifact]({link})" in run.summary  # the artifact, not the run page
        assert list(actions.caches) == ["pipeline-state-7001-1"]
        assert jobs["issues"].result == "skipped"
        assert gh.state.enabled == ["pipeline.yml"]

        # 2. From the cache; volumes far below the seeded history -> alert, one issue each.
        seed_history(actions.caches["pipeline-state-7001-1"] / "logs/demo/runs.jsonl")
        jobs = actions.run_workflow("schedule", variables=offline)
        run = jobs["run"]
        out = run.steps["publish"]["outputs"]
        assert run.steps["restore"]["outputs"]["source"] == "cache"
        assert (out["anomaly"], out["bootstrap"], out["notify"]) == ("alert", "false", "true")
        assert (
            "::error title=volume alert::shopify fetched 74 vs median"
            in (run.logs["Summary, annotations and outputs"])
        )
        assert jobs["issues"].result == "success", jobs["issues"].logs
        titles = sorted(issue["title"] for issue in gh.issues("volume-anomaly"))
        # one issue per provider metric; the providers explain the total, which has none
        assert titles == [f"Volume anomaly: {p} {m}" for p in ("amazon", "ebay", "shopify")
                          for m in ("fetched", "new")]  # fmt: skip
        body = gh.issues("volume-anomaly")[0]["body"]
        assert f"<!-- pipeline-run: {out['run_id']} -->" in body
        assert "(https://github.com/octo/products/actions/runs/7002)" in body

        # 3. The cache was evicted: the state comes from run 2's pipeline-state artifact, and
        #    the alerts become comments on the open issues.
        actions.caches.clear()
        jobs = actions.run_workflow("schedule", variables=offline)
        out = jobs["run"].steps["publish"]["outputs"]
        assert jobs["run"].steps["restore"]["outputs"]["source"] == "artifact"
        assert (out["bootstrap"], out["new"]) == ("false", "0")
        assert len(gh.issues("volume-anomaly")) == 6
        assert all(len(comments) == 1 for comments in gh.state.comments.values())


def run_step_with_stub_cli(tmp_path: Path, inputs: dict[str, Any], exit_code: int) -> tuple:
    """The pipeline step's script, with a ``python`` on PATH that records its arguments."""
    step = next(s for s in PIPELINE["jobs"]["run"]["steps"] if s.get("id") == "pipeline")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    stub = bin_dir / "python"
    stub.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{tmp_path}/args"\nexit {exit_code}\n')
    stub.chmod(0o755)
    ctx = {"inputs": inputs, "vars": {"PIPELINE_OFFLINE": "true"}, "secrets": {}}
    env = {k: interpolate(v, ctx) for k, v in step["env"].items()}
    env.update(PATH=f"{bin_dir}{os.pathsep}/usr/bin:/bin", GITHUB_OUTPUT=str(tmp_path / "out"))
    command = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]]
    done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, check=False)
    args = (tmp_path / "args").read_text().splitlines()
    return done.returncode, args[1:], parse_outputs(tmp_path / "out")


def test_dispatch_inputs_reach_the_cli_as_flags(tmp_path: Path) -> None:
    inputs = {"providers": "shopify,ebay", "datasets": "products,orders", "limit": 5,
              "dry_run": True, "full_refresh": True, "allow_mass_delete": True}  # fmt: skip
    code, args, outputs = run_step_with_stub_cli(tmp_path, inputs, exit_code=3)
    assert args == ["--log-format", "json", "--providers", "shopify,ebay", "--datasets",
                    "products,orders", "--limit", "5", "--dry-run", "--full-refresh",
                    "--allow-mass-delete", "--offline"]  # fmt: skip
    assert (code, outputs) == (0, {"exit_code": "3"})  # the step records it; the last step fails


def test_a_scheduled_run_passes_no_input_flags(tmp_path: Path) -> None:
    code, args, outputs = run_step_with_stub_cli(tmp_path, {}, exit_code=0)
    assert args == ["--log-format", "json", "--datasets", "products", "--offline"]
    assert (code, outputs) == (0, {"exit_code": "0"})
