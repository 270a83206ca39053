"""One command line: subcommands for every action, global options anywhere, the older flags as
aliases, ``--version``, ``--json``, completion, the console command, and a cheap start."""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from pipelines.cli.commands.completion import SHELLS
from pipelines.cli.main import SUBCOMMANDS, main, parse_command
from pipelines.cli.status import step_order
from pipelines.cli.tables import format_table
from tests.pipelines.test_cli import clean_env, cli

REPO = Path(__file__).resolve().parents[2]
HEAVY = (
    "pandas", "pyarrow", "numpy", "boto3", "botocore", "deltalake", "apprise", "duckdb",
    "requests", "amazon_creatorsapi", "creatorsapi_python_sdk",  # the last two: the Amazon SDK
)  # fmt: skip


def command(argv: list[str]) -> tuple[str, argparse.Namespace]:
    module, args = parse_command(argv)
    return module.__name__.rpartition(".")[2], args


def test_global_options_go_before_or_after_the_subcommand() -> None:
    for argv in (["--verbose", "--config", "x.toml", "status", "R1"],
                 ["status", "R1", "--config=x.toml", "--verbose"],
                 ["--config", "x.toml", "status", "--verbose", "R1"]):  # fmt: skip
        name, args = command(argv)
        assert (name, args.run_id, args.verbose, args.config) == (
            "status",
            "R1",
            True,
            Path("x.toml"),
        ), argv
    name, args = command(["--json", "--log-format", "json", "doctor"])
    assert (name, args.json, args.log_format) == ("doctor", True, "json")


@pytest.mark.parametrize(
    ("argv", "name", "run_id"),
    [
        (["--status"], "status", None),
        (["--status", "R7"], "status", "R7"),
        (["--resume", "R7", "--offline"], "resume", "R7"),
        (["--resume"], "resume", None),
        (["--list-providers"], "providers", None),
        (["--check", "--verbose"], "doctor", None),
        (["--dump-orchestration-plan"], "plan", None),
    ],
)
def test_the_older_action_flags_stand_for_their_subcommands(argv, name, run_id) -> None:
    found, args = command(argv)
    assert found == name
    assert getattr(args, "run_id", None) == run_id


def test_the_seed_run_flags_still_make_a_run() -> None:
    argv = ["--providers", "shopify", "--limit", "10", "--dry-run", "--no-cache", "--verbose"]
    for line in (argv, ["run", *argv]):
        name, args = command(line)
        assert name == "run"
        assert (args.providers, args.limit, args.dry_run, args.no_cache, args.verbose) == (
            ("shopify",),
            10,
            True,
            True,
            True,
        )


def test_help_lists_every_subcommand_and_what_each_older_flag_stands_for(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    usage = out.split("\n\n")[0]
    assert usage.startswith("usage: run_pipeline.py [GLOBAL OPTIONS] {run,status,resume,")
    assert set(usage.split("{")[1].split("}")[0].split(",")) == set(SUBCOMMANDS)
    listed = {
        line.split()[0] for line in out.split("commands (")[1].split("\n\n")[0].splitlines()[1:]
    }
    assert listed == set(SUBCOMMANDS)
    aliases = {"--status": "status", "--check": "doctor", "--resume": "resume",
               "--list-providers": "providers", "--dump-orchestration-plan": "plan"}  # fmt: skip
    for flag, name in aliases.items():
        block = out.split(flag, 1)[1]
        assert f"same as `{name}" in " ".join(block.split()[:6]), flag


def test_version_is_the_projects(capsys) -> None:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    with pytest.raises(SystemExit):
        main(["--version"])
    assert capsys.readouterr().out == f"run_pipeline.py {version}\n"


def test_the_console_command_is_declared_and_resolves_to_the_cli() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    target = pyproject["project"]["scripts"]["pipeline"]
    module, _, name = target.partition(":")
    entry = getattr(importlib.import_module(module), name)
    assert entry.__module__ == "pipelines.cli.main"
    assert pyproject["build-system"]["build-backend"] == "setuptools.build_meta"
    found = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    assert {"pipelines*", "providers*", "orchestration*"} <= set(found)
    shipped = pyproject["tool"]["setuptools"]["package-data"]["providers"]
    assert all(list((REPO / "providers").glob(pattern)) for pattern in shipped)


def test_the_console_command_names_itself(monkeypatch, capsys) -> None:
    from pipelines.cli.main import console

    monkeypatch.setattr(sys, "argv", ["pipeline", "--version"])
    with pytest.raises(SystemExit):
        console()
    assert capsys.readouterr().out.startswith("pipeline ")


def heavy_imports(argv: list[str], cwd: Path = REPO) -> tuple[int, list[str]]:
    """Run ``main(argv)`` in a fresh interpreter: its exit code and the modules of ``HEAVY``
    it left in ``sys.modules`` (what makes a start slow: pandas, pyarrow, boto3, …)."""
    code = (
        "import sys\nfrom pipelines.cli.main import main\n"
        f"try:\n    code = main({argv!r})\nexcept SystemExit as exit_:\n    code = exit_.code\n"
        f"sys.stderr.write(repr((code, sorted(m for m in {HEAVY!r} if m in sys.modules))))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                          env=clean_env(PYTHONPATH=str(REPO)), timeout=60, check=True)  # fmt: skip
    return ast.literal_eval(done.stderr.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "argv", [["--help"], ["--version"], ["status", "--help"], ["--verbose", "providers", "-h"]]
)
def test_help_and_version_import_no_heavy_module(argv: list[str]) -> None:
    """Not a timing: the modules that make a start slow (pandas, pyarrow, boto3…) stay out."""
    assert heavy_imports(argv) == (0, [])


def test_status_providers_and_every_help_import_no_heavy_module(workdir: Path) -> None:
    """Not a timing: with a run in the lake, ``status`` reads its log and checkpoint as JSON,
    ``providers`` reads the providers' settings, and help and completion read the grammar, all
    without the modules that make a start slow. ``completion`` imports every subcommand's
    module and builds its parser, as ``COMMAND --help`` does."""
    assert main(["run", "--offline", "--limit", "2"]) in (0, 3)  # 3: the demo's quality gate
    assert list((workdir / "data" / "demo" / "_runs").iterdir())
    for argv in (["status"], ["status", "--json"], ["providers"], ["providers", "--json"],
                 ["run", "--help"], ["completion", "bash"]):  # fmt: skip
        assert heavy_imports(argv, workdir) == (0, []), argv


@pytest.mark.parametrize("shell", SHELLS)
def test_completion_names_every_subcommand(shell: str, capsys) -> None:
    assert main(["completion", shell]) == 0
    words = {w.lstrip("-") for w in re.findall(r"[\w-]+", capsys.readouterr().out)}
    assert set(SUBCOMMANDS) - words == set(), f"{shell} completion misses a subcommand"
    assert {"dry-run", "retention-hours", "run-id"} <= words  # run flags, subcommands' flags


def test_json_output_is_json_alone_on_stdout(workdir: Path, capsys) -> None:
    assert main(["--json", "--log-format", "json", "status"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert (status["runs"], status["in_progress"], status["run"]) == ([], [], None)
    assert "ebay: 0 of 5000 API calls used on " in status["budgets"][-1]
    assert main(["providers", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [p["name"] for p in listed] == ["shopify", "amazon", "ebay", "amazon_sp"]
    assert all(not p["configured"] for p in listed)
    assert main(["doctor", "--json"]) == 1  # nothing configured
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    assert report["checks"] == []
    assert set(report["not_configured"]) == {"shopify", "amazon", "ebay", "amazon_sp"}
    assert main(["--json", "plan"]) == 0
    assert json.loads(capsys.readouterr().out)["steps"]


def test_json_where_there_is_none_is_one_line_and_exit_2(workdir: Path, capsys) -> None:
    assert main(["run", "--json"]) == 2
    err = capsys.readouterr().err
    assert err == ("run_pipeline.py: error: --json: run has no JSON output "
                   "(status, providers, doctor and plan have)\n")  # fmt: skip
    assert main(["plan", "--json", "--emit", "crontab"]) == 2
    assert "--json prints the plan as JSON; not with --emit crontab" in capsys.readouterr().err


def test_status_of_an_unknown_run_is_an_error_before_any_output(workdir: Path, capsys) -> None:
    assert main(["--status", "nosuch"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("run_pipeline.py: error: status: no run 'nosuch' under ")


def test_a_runs_steps_are_listed_in_run_order() -> None:
    names = ["write", "report", "normalize.ebay", "quality", "extract.shopify", "detect",
             "extract.ebay", "normalize.shopify"]  # fmt: skip
    assert sorted(names, key=step_order) == [
        "extract.ebay", "extract.shopify", "normalize.ebay", "normalize.shopify",
        "quality", "write", "detect", "report",
    ]  # fmt: skip


def test_tables_show_provider_text_as_data() -> None:
    table = format_table(("provider", "detail"), [("ebay", "[bold red]x[/] \x1b[2Jgone\nnext")])
    assert table.splitlines() == ["provider  detail", "ebay      [bold red]x[/] [2Jgone next"]


def test_an_offline_run_then_status_json_from_the_shell(tmp_path: Path) -> None:
    run = cli("run", "--offline", "--providers", "ebay", "--limit", "5", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    status = cli(
        "--log-format", "json", "status", "--json", "--offline", cwd=tmp_path, env=clean_env()
    )  # fmt: skip
    report = json.loads(status.stdout)
    assert [r["mode"] for r in report["runs"]] == ["offline"]
    steps = [s["step"] for s in report["run"]["steps"]]
    assert steps[:2] == ["extract.ebay", "normalize.ebay"]
    assert steps[-1] == "report"
    assert all(s["status"] == "done" for s in report["run"]["steps"])


def test_an_unknown_command_is_one_line_naming_it(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--verbose", "nosuch", "--limit", "2"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith("run_pipeline.py: error: unknown command 'nosuch' (commands: run, ")
