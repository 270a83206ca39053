"""The Airflow DAG: its shape follows the plan, and ``dag.test()`` runs a real offline run."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

from orchestration.airflow_dag import create_dag
from orchestration.common import PLAN_ENV, load_plan
from tests.orchestration.helpers import (
    OFFLINE,
    SHARDS,
    assert_run_complete,
    assert_shards_equal_one_run,
    sharded_plan,
    write_plan,
)

REPO = Path(__file__).resolve().parents[3]


def product_dag():
    bag = DagBag(dag_folder=str(REPO / "orchestration"))
    assert bag.import_errors == {}
    return bag.dags["product_pipeline"]


def test_dag_has_one_task_per_step_with_the_plans_dependencies_and_retries() -> None:
    plan = load_plan()
    dag = product_dag()
    assert set(dag.task_ids) == {"run_id", *(step["name"] for step in plan["steps"])}
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert dag.timetable.expression == plan["schedule"]["cron"]
    assert str(dag.timetable.timezone) == plan["schedule"]["timezone"]
    for step in plan["steps"]:
        task = dag.get_task(step["name"])
        assert task.upstream_task_ids == {"run_id", *step["depends_on"]}
        assert task.retries == step["retries"]
        assert task.execution_timeout == timedelta(seconds=step["timeout_seconds"])
        if step["network"]:
            assert task.retries == 3
            assert task.retry_delay == timedelta(seconds=step["retry_delay_seconds"])
            assert task.retry_exponential_backoff == 2.0
        else:
            assert task.retries == 0


def test_dag_test_runs_every_step_offline_retrying_a_failed_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan_path, plan = write_plan(tmp_path)
    monkeypatch.setenv(PLAN_ENV, str(plan_path))
    dag_run = product_dag().test(run_conf={"extra_args": OFFLINE})
    assert dag_run.state == "success"
    (run_dir,) = (tmp_path / "data/demo/_runs").iterdir()
    assert re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{6}", run_dir.name)
    assert_run_complete(tmp_path, plan, run_dir.name)


def test_a_sharded_plan_gets_one_task_group_per_shard_each_with_its_run_id(
    tmp_path: Path,
) -> None:
    plan = sharded_plan(tmp_path)
    dag = create_dag(plan)
    for run in plan["shards"]:
        group = "shard_{}_of_{}".format(*run["shard"].split("/"))
        for step in run["steps"]:
            task = dag.get_task(f"{group}.{step['name']}")
            upstream = {f"{group}.{name}" for name in step["depends_on"]}
            assert task.upstream_task_ids == {f"{group}.run_id", *upstream}
            assert task.execution_timeout == timedelta(seconds=step["timeout_seconds"])
    assert len(dag.task_ids) == sum(len(run["steps"]) + 1 for run in plan["shards"])


def test_dag_test_of_a_sharded_plan_equals_one_unsharded_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """~50 s: 3 shards (16 step processes, ~2 s of imports each) and one reference run."""
    plan = sharded_plan(tmp_path)
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    monkeypatch.setenv(PLAN_ENV, str(tmp_path / "plan.json"))
    dag_run = product_dag().test()
    assert dag_run.state == "success"
    run_ids = {path.name for path in (tmp_path / "data/demo/_runs").iterdir()}
    assert len(run_ids) == len(SHARDS)
    assert_shards_equal_one_run(tmp_path, plan)
