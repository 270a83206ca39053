"""The README is the user's manual: it must match the code."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from pipelines.cli.docs import render_readme
from pipelines.cli.main import SUBCOMMANDS, _subcommand_parser, build_parser
from providers.registry import load_providers

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text()


def _flags(parser) -> list[tuple[str, str | None]]:
    return [
        (flag, action.help)
        for action in parser._actions
        for flag in action.option_strings
        if flag.startswith("--") and flag != "--help"
    ]


def test_settings_reference_is_generated_from_the_declarations() -> None:
    assert render_readme(README, load_providers()) == README, "run: python -m pipelines.cli.docs"


def test_every_flag_has_help_and_is_in_the_readme() -> None:
    for flag, help_text in _flags(build_parser()):
        assert help_text, f"{flag} has no help text"
        assert f"`{flag}" in README, f"{flag} is not documented in README.md"


def test_every_subcommand_and_its_flags_are_in_the_readme() -> None:
    for name in SUBCOMMANDS:
        assert f"`{name}" in README, f"subcommand {name} is not documented in README.md"
        parser, _ = _subcommand_parser(name)
        for flag, help_text in _flags(parser):
            assert help_text, f"{name} {flag} has no help text"
            assert flag in README, f"{name} {flag} is not documented in README.md"


def test_make_targets_named_in_the_readme_exist() -> None:
    for target in sorted(set(re.findall(r"`make ([a-z][a-z-]+)", README))):
        dry_run = subprocess.run(
            ["make", "-n", target], cwd=REPO, capture_output=True, text=True, check=False
        )
        assert dry_run.returncode == 0, f"README mentions `make {target}`: {dry_run.stderr}"
