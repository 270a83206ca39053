"""The orchestrators stay optional: the pipeline never imports them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.pipelines.test_cli import REPO

ORCHESTRATORS = ("airflow", "dagster", "prefect", "temporalio")
PIPELINE_MODULES = (
    "pipelines.run_pipeline", "pipelines.run.runner", "pipelines.ops.plan", "pipelines.ops.metrics",
    "pipelines.cli.commands.plan", "orchestration.common", "orchestration.cron",
    "orchestration.windows_task",
)  # fmt: skip


def test_importing_the_pipeline_imports_no_orchestrator(tmp_path: Path) -> None:
    # Importable stand-ins, so that even a guarded `try: import airflow` would show up.
    for name in ORCHESTRATORS:
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text("")
    code = (
        "import importlib, json, sys\n"
        f"for m in {PIPELINE_MODULES!r}: importlib.import_module(m)\n"
        "from pipelines.cli.main import SUBCOMMANDS\n"
        "for m in SUBCOMMANDS.values(): importlib.import_module(m)\n"
        "from providers.registry import load_providers; load_providers()\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={"PYTHONPATH": f"{REPO}:{tmp_path}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    loaded = set(json.loads(result.stdout))
    assert {"pipelines", "providers", "orchestration"} <= loaded
    assert loaded.isdisjoint(ORCHESTRATORS)
