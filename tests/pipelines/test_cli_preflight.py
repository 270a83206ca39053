"""Paths and ports a run cannot use are one line and exit 2 before any work, never a traceback."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest

from pipelines.ops.metrics import export_run_metrics
from tests.pipelines.test_cli import cli

RECORD = {"run_id": "r1", "mode": "offline", "providers": {}, "exit_code": 0}


def one_error_line(result, message: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]


def no_work_done(root: Path) -> None:
    assert not list(root.rglob("*.jsonl.zst"))
    assert not list(root.rglob("checkpoint.json"))
    assert not (root / "logs/runs.jsonl").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--config", "."], "--config: . is a folder, not a settings file"),
        (["--config", "binary.toml"], "--config: binary.toml is not a text file"),
        (["--data-dir", "/proc/pipeline-data"], "--data-dir: cannot write in /proc/pipeline-data"),
        (["--data-dir", "/sys/pipeline-data"], "--data-dir: cannot write in /sys/pipeline-data"),
        (["--data-dir", "binary.toml"], "--data-dir: binary.toml is a file, not a folder"),
        (["--prometheus-port", "70000"], "--prometheus-port: must be a port from 1 to 65535"),
        (["--prometheus-port", "0"], "--prometheus-port: must be a port from 1 to 65535"),
        (["--metrics-file", "."], "--metrics-file: . is a folder; give a file path"),
    ],
)
def test_unusable_paths_and_ports_are_one_line_and_exit_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "binary.toml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe" * 20)
    result = cli("--offline", *args, cwd=tmp_path)
    one_error_line(result, message)
    no_work_done(tmp_path)


def test_a_prometheus_port_in_use_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("--offline", "--prometheus-port", str(port), cwd=tmp_path)
    one_error_line(result, f"--prometheus-port: cannot serve on 127.0.0.1:{port}")
    no_work_done(tmp_path)


def test_a_metrics_file_unwritable_after_the_commit_is_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        export_run_metrics(RECORD, None, {}, metrics_file=tmp_path)  # a folder by then
    assert any(f"could not write --metrics-file {tmp_path}" in r.message for r in caplog.records)
