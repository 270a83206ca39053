"""Scheduler adapters, each built from the one orchestration plan (``pipelines/ops/plan.py``).

``common`` (standard library only) loads the plan and runs a step; ``cron`` and
``windows_task`` render the whole run for the system schedulers; ``airflow_dag``,
``dagster_job``, ``prefect_flow`` and ``temporal_workflow`` need their orchestrator
installed (``requirements-<name>.txt``) and are never imported by the pipeline itself.
"""
