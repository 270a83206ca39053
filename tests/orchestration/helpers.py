"""Shared by the orchestrator tests; standard library only (they run in each orchestrator's venv).

Every adapter test runs a real run: a one-provider plan (shopify, offline) whose extract step
fails once on purpose, so the adapter's retry is exercised too, with 1-second retry delays.
"""

from __future__ import annotations

import json
import stat
import subprocess
from pathlib import Path
from typing import Any

from orchestration.common import PROJECT_ROOT, SCRIPT, load_plan, resolve_python

FLAKY_STEP = "extract.shopify"
OFFLINE = ["--offline"]


def write_config(tmp: Path) -> Path:
    """A pipeline.toml writing to ``tmp`` whose plan has the shopify steps only: its products'
    and its orders' pull (``dataset.orders.shopify``, beside the products' steps)."""
    config = tmp / "pipeline.toml"
    config.write_text(
        f'[pipeline]\ndata_dir = "{tmp / "data"}"\nlog_dir = "{tmp / "logs"}"\n'
        'datasets = ["products", "orders"]\n\n[orchestration]\nproviders = ["shopify"]\n'
    )
    return config


def flaky_interpreter(tmp: Path) -> Path:
    """A stand-in interpreter that fails its first call, then runs the project's."""
    script = tmp / "flaky-python"
    marker = tmp / "failed-once"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ ! -e "{marker}" ]; then\n'
        f'  touch "{marker}"; echo "failing once on purpose"; exit 1\n'
        "fi\n"
        f'exec "{resolve_python()}" "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def adapter_plan(tmp: Path) -> dict[str, Any]:
    """The plan of ``write_config``, its retries quick and its first extract failing once."""
    plan = load_plan(config=write_config(tmp))
    for step in plan["steps"]:
        step["retry_delay_seconds"] = min(step["retry_delay_seconds"], 1)
        if step["name"] == FLAKY_STEP:
            step["command"][0] = str(flaky_interpreter(tmp))
    return plan


def write_plan(tmp: Path) -> tuple[Path, dict[str, Any]]:
    plan = adapter_plan(tmp)
    path = tmp / "plan.json"
    path.write_text(json.dumps(plan))
    return path, plan


def checkpoint(tmp: Path, run_id: str) -> dict[str, Any]:
    return json.loads((tmp / "data/demo/_runs" / run_id / "checkpoint.json").read_text())


def assert_run_complete(tmp: Path, plan: dict[str, Any], run_id: str) -> None:
    """Every step of ``run_id`` done, the flaky one after a failure, and the run logged."""
    assert (tmp / "failed-once").exists(), "the flaky step never failed: retries untested"
    steps = checkpoint(tmp, run_id)["steps"]
    assert {name: s["status"] for name, s in steps.items()} == {
        s["name"]: "done" for s in plan["steps"]
    }
    runs = [json.loads(line) for line in (tmp / "logs/demo/runs.jsonl").read_text().splitlines()]
    assert runs[-1]["run_id"] == run_id
    assert runs[-1]["providers"]["shopify"]["status"] == "ok"
    assert runs[-1]["datasets"]["orders.shopify"]["status"] == "ok"
    assert list((tmp / "data/demo/normalized").rglob("source=shopify/*.parquet"))
    assert list((tmp / "data/demo/orders/normalized").rglob("*.parquet"))


# --- sharded runs: shards = 3, offline, whose merged lake must equal one unsharded run ---------

SHARDS = ["1/3", "2/3", "3/3"]
LAKE_COLUMNS = ["source", "source_id", "change_type", "content_hash"]
# The quality gate applies per run, so per shard: a shard holding part of amazon's items with
# the recording's two rejects would cross the default 5% alone. Both sides get 20%.
SHARDED_TOML = (
    '[quality]\nreject_threshold = 0.2\n\n[orchestration]\nshards = 3\nextra_args = ["--offline"]\n'
)
LAKE_ROWS = (
    "import json, sys\n"
    "from pipelines.lake.lake import Lake\n"
    "from pipelines.lake.storage import open_storage\n"
    "rows = Lake(open_storage(sys.argv[1])).dataset().to_table(columns=sys.argv[2:]).to_pylist()\n"
    "print(json.dumps(sorted([list(row.values()) for row in rows])))\n"
)


def write_sharded_config(tmp: Path) -> Path:
    """A pipeline.toml writing to ``tmp`` whose plan fans out to 3 offline shards."""
    config = tmp / "pipeline.toml"
    config.write_text(
        f'[pipeline]\ndata_dir = "{tmp / "data"}"\nlog_dir = "{tmp / "logs"}"\n\n' + SHARDED_TOML
    )
    return config


def sharded_plan(tmp: Path) -> dict[str, Any]:
    plan = load_plan(config=write_sharded_config(tmp))
    assert [run["shard"] for run in plan["shards"]] == SHARDS
    return plan


def lake_rows(data_dir: Path) -> list[list[Any]]:
    """The offline lake's rows under ``data_dir``, read with the project's interpreter."""
    argv = [resolve_python(), "-c", LAKE_ROWS, str(data_dir / "demo"), *LAKE_COLUMNS]
    done = subprocess.run(argv, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def unsharded_lake(tmp: Path) -> list[list[Any]]:
    """The rows of one plain offline run with the same quality settings, in ``tmp/single``."""
    single = tmp / "single"
    single.mkdir()
    config = write_sharded_config(single)
    argv = [resolve_python(), SCRIPT, "--offline", "--config", str(config)]
    done = subprocess.run(argv, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return lake_rows(single / "data")


def assert_shards_equal_one_run(tmp: Path, plan: dict[str, Any]) -> None:
    """Each shard ran as a run of its own, every step done, and the lakes are equal."""
    runs = [json.loads(line) for line in (tmp / "logs/demo/runs.jsonl").read_text().splitlines()]
    assert sorted(run["shard"] for run in runs) == SHARDS
    for record in runs:
        (shard,) = [run for run in plan["shards"] if run["shard"] == record["shard"]]
        steps = checkpoint(tmp, record["run_id"])["steps"]
        assert {name: s["status"] for name, s in steps.items()} == {
            s["name"]: "done" for s in shard["steps"]
        }
        assert sorted(record["providers"]) == sorted(shard["providers"]), record["providers"]
    rows = lake_rows(tmp / "data")
    assert rows, "the sharded runs wrote nothing"
    assert rows == unsharded_lake(tmp)


# --- steps of one run at once: every extract waits inside its extract for the others ---------

PAUSE_AT = "tests/pipelines/pause_at.py"
EXTRACT = "pipelines.run.extract:Extractor.extract"  # inside the step, before any fetch
BARRIER_SECONDS = 60  # how long an extract waits for the others before going on alone


def shared_config(tmp: Path, providers: list[str]) -> Path:
    """A pipeline.toml whose work folder (``data_dir``) is ``tmp/shared-lake``, not ``data``."""
    config = tmp / "pipeline.toml"
    config.write_text(
        f'[pipeline]\ndata_dir = "{tmp / "shared-lake"}"\nlog_dir = "{tmp / "logs"}"\n\n'
        f"[orchestration]\nproviders = {json.dumps(providers)}\n"
    )
    return config


def barrier_interpreter(tmp: Path, provider: str, other: str) -> Path:
    """A stand-in interpreter for ``extract.<provider>``: the step pauses inside its extract
    (``pause_at.py``) until the extract of ``other`` is inside its own.

    The step creates ``in-<provider>``; its release file ``in-<provider>.go`` is a link to the
    other provider's marker, so with two providers each goes on only once both are paused. A
    scheduler that ran the extracts one after another would leave the first waiting
    ``BARRIER_SECONDS`` and their times would not overlap."""
    marker = tmp / f"in-{provider}"
    marker.with_name(marker.name + ".go").symlink_to(tmp / f"in-{other}")
    script = tmp / f"python-{provider}"
    script.write_text(
        "#!/bin/sh\n"
        "shift  # pipelines/run_pipeline.py: pause_at.py runs its main\n"
        f'exec "{resolve_python()}" {PAUSE_AT} {EXTRACT} 1 "{marker}" {BARRIER_SECONDS} -- "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def barrier_plan(tmp: Path, providers: tuple[str, str]) -> dict[str, Any]:
    """The plan of ``shared_config`` for two providers whose extracts meet (see above)."""
    plan = load_plan(config=shared_config(tmp, list(providers)))
    for step in plan["steps"]:
        kind, _, provider = step["name"].partition(".")
        if kind == "extract":
            (other,) = set(providers) - {provider}
            step["command"][0] = str(barrier_interpreter(tmp, provider, other))
    return plan


def assert_extracts_overlapped(tmp: Path, plan: dict[str, Any], run_id: str) -> None:
    """Every step of ``run_id`` done in the shared work folder, the extracts all inside at once."""
    assert all((tmp / f"in-{name}").exists() for name in plan["providers"])
    path = tmp / "shared-lake/demo/_runs" / run_id / "checkpoint.json"
    steps = json.loads(path.read_text())["steps"]
    assert {name: s["status"] for name, s in steps.items()} == {
        s["name"]: "done" for s in plan["steps"]
    }
    extracts = [steps[f"extract.{name}"] for name in plan["providers"]]
    latest_start = max(s["started_at"] for s in extracts)  # ISO times in UTC sort as text
    assert latest_start < min(s["ended_at"] for s in extracts), extracts
    assert list((tmp / "shared-lake/demo/normalized").rglob("*.parquet"))
    assert not (PROJECT_ROOT / "data/demo/_runs" / run_id).exists()
