"""Orchestrator tests: airflow/, dagster/, prefect/ and temporal/ need their orchestrator.

Plain ``make test`` (the project's venv, which has none of them) does not collect those
folders, and says so at the end of its report. ``make test-<name>`` installs the
orchestrator in ``.venv-<name>`` and runs its folder with ``ORCHESTRATOR_TESTS=<name>``;
there a missing orchestrator is a usage error, never a skip.
"""

from __future__ import annotations

import importlib.util
import os

import pytest

ORCHESTRATORS = {"airflow": "airflow", "dagster": "dagster", "prefect": "prefect",
                 "temporal": "temporalio"}  # fmt: skip
SELECTED = {name for name in os.environ.get("ORCHESTRATOR_TESTS", "").split(",") if name}

collect_ignore = sorted(set(ORCHESTRATORS) - SELECTED)


def pytest_configure(config: pytest.Config) -> None:
    for name in sorted(SELECTED):
        if name not in ORCHESTRATORS:
            raise pytest.UsageError(
                f"ORCHESTRATOR_TESTS: unknown orchestrator {name!r} "
                f"(known: {', '.join(ORCHESTRATORS)})"
            )
        if importlib.util.find_spec(ORCHESTRATORS[name]) is None:
            raise pytest.UsageError(
                f"ORCHESTRATOR_TESTS={name} but {ORCHESTRATORS[name]} is not importable: "
                f"run `make test-{name}`, which installs it in .venv-{name}"
            )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not SELECTED:
        terminalreporter.write_line(
            f"orchestrator tests not collected here ({', '.join(collect_ignore)}): "
            "`make test-orchestrators` runs them, each in its own venv"
        )
