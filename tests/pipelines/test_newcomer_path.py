"""A newcomer's first minutes: the README's shell commands run as written and each exits 0.

Every line of every ```sh block of README.md runs, in order, in a copy of the checkout with no
provider credentials and no CI variables (so the run is the offline demo, as on a fresh
machine). ``make run-pipeline [ARGS="…"]`` runs the line make would run, with this
interpreter (make itself would build a venv), and ``.venv/bin/python`` is this interpreter too.
``make test`` is this very suite: only its recipe is checked (``make -n test``).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from providers.registry import load_providers

REPO = Path(__file__).resolve().parents[2]
SH_BLOCK = re.compile(r"^```(?:sh|bash)\n(.*?)^```", re.M | re.S)


def readme_commands(readme: str) -> list[list[str]]:
    """Each command line of the README's ```sh blocks, split as the shell would, comments off."""
    return [
        shlex.split(line, comments=True)
        for block in SH_BLOCK.findall(readme)
        for line in block.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def as_run(argv: list[str]) -> list[str]:
    """The command to run for a README line (see the module docstring)."""
    if argv[:2] == ["make", "run-pipeline"]:
        extra = [a.removeprefix("ARGS=") for a in argv[2:] if a.startswith("ARGS=")]
        return [sys.executable, "pipelines/run_pipeline.py", *shlex.split(" ".join(extra))]
    if argv == ["make", "test"]:
        return ["make", "-n", "test"]
    assert argv[0] != "make", f"no translation for README command {shlex.join(argv)}"
    return [sys.executable if argv[0] == ".venv/bin/python" else argv[0], *argv[1:]]


def _checkout_copy(dest: Path) -> Path:
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    for name in filter(None, files):
        source = REPO / name
        if source.is_file() and not name.startswith(("data/", "logs/")):
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def _newcomer_env() -> dict[str, str]:
    settings = {s.env for p in load_providers().values() for s in p.settings}
    dropped = settings | {"CI", "GITHUB_ACTIONS", "PYTHONPATH"}
    return {k: v for k, v in os.environ.items() if k not in dropped}


def _rows_per_source(text: str) -> dict[str, int]:
    """The README's first query as ``query`` prints it: a ``source  products`` table."""
    table = re.search(r"^source +products\n((?:[a-z]+ +\d+\n)+)", text, re.M)
    assert table, "the README's first query printed no table"
    return {name: int(count) for name, count in map(str.split, table[1].splitlines())}


def test_the_readme_commands_are_the_ones_translated() -> None:
    commands = readme_commands((REPO / "README.md").read_text())
    assert ["make", "run-pipeline"] in commands
    assert ["make", "test"] in commands
    assert as_run(["make", "run-pipeline", "ARGS=--limit 3 --dry-run"])[1:] == [
        "pipelines/run_pipeline.py", "--limit", "3", "--dry-run"]  # fmt: skip


def test_the_readme_commands_run_as_written_and_exit_0(tmp_path: Path) -> None:
    checkout, env = _checkout_copy(tmp_path / "clone"), _newcomer_env()
    outputs = []
    for argv in readme_commands((checkout / "README.md").read_text()):
        done = subprocess.run(
            as_run(argv), cwd=checkout, env=env, capture_output=True, text=True, timeout=120,
            check=False,
        )  # fmt: skip
        assert done.returncode == 0, f"{shlex.join(argv)}: exit {done.returncode}\n{done.stderr}"
        outputs.append(done.stdout)
    text = "\n".join(outputs)
    assert _rows_per_source(text) == {"shopify": 71, "amazon": 45, "ebay": 59}
    assert "list_price_not_below_price" in text  # the quarantine query shows the rules broken
    preview = text.split("Rows that would be written")[-1]  # the dry run, after the demo run
    assert "shopify  nothing: no new, changed or deleted row" in preview
    assert re.search(r"shopify +ok +22 +0 +0 +21 +1 ", text), "--limit 10: 1 of 22 quarantined"
    assert not (checkout / "data" / "normalized").exists(), "the demo wrote outside data/demo"
