"""Checks of the local paths and ports a run will use, made before it does any work.

Each failure is a ``ConfigError`` naming the flag (or setting) and the path: one line on
stderr and exit 2, never a traceback half-way through a run.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from pipelines.config import PipelineConfig
from pipelines.errors import ConfigError


def check_writable_folder(path: Path, name: str) -> None:
    """``path`` is a folder this process can create files in (it is made if missing)."""
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{name}: {path} is a file, not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-check-"):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(f"{name}: cannot write in {path} ({reason})") from None


def check_run_paths(args: argparse.Namespace, config: PipelineConfig, work_root: Path) -> None:
    """The lake's work folder, the run log folder and ``--metrics-file`` are usable."""
    if not getattr(args, "dry_run", False):
        name = "--data-dir" if args.data_dir else "pipeline.data_dir"
        for folder in (*reversed(work_root.parents[: len(work_root.parts) - 1]), work_root):
            if folder.exists() and not folder.is_dir():
                raise ConfigError(f"{name}: {folder} is a file, not a folder")
        check_writable_folder(work_root, name)
        check_writable_folder(Path(config.log_dir), "pipeline.log_dir")
    metrics = args.metrics_file
    if metrics is not None:
        if metrics.is_dir():
            raise ConfigError(f"--metrics-file: {metrics} is a folder; give a file path")
        check_writable_folder(metrics.parent, "--metrics-file")


def port_error(number: int, exc: OSError) -> ConfigError:
    """The error for a ``--prometheus-port`` that cannot be served (in use, not allowed)."""
    reason = exc.strerror or type(exc).__name__
    return ConfigError(f"--prometheus-port: cannot serve on 127.0.0.1:{number} ({reason})")
