"""What ``--help`` and ``--version`` print, found without importing the pipeline.

Each command's one-line summary is its module's ``HELP``, read from the source (importing
every command would load pandas, pyarrow and boto3 just to print the help).
"""

from __future__ import annotations

import ast
import importlib.util
import tomllib
from collections.abc import Mapping
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
DISTRIBUTION = "product-pipeline"
SUMMARY_WIDTH = 70


def command_summary(module: str) -> str:
    """The first sentence of ``module``'s ``HELP``, read from its source without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return ""
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "HELP" for t in node.targets
        ):
            text = ast.literal_eval(node.value)
            first = text.split(". ")[0].rstrip(".")
            if len(first) <= SUMMARY_WIDTH:
                return first
            return first[: SUMMARY_WIDTH - 1].rsplit(" ", 1)[0].rstrip(",;:") + " …"
    return ""


def command_summaries(commands: Mapping[str, str]) -> str:
    """One line per command: its name and summary."""
    width = max(map(len, commands))
    return "\n".join(
        f"  {name:<{width}}  {command_summary(module)}".rstrip()
        for name, module in commands.items()
    )


def version() -> str:
    """This checkout's version (pyproject.toml), else the installed package's."""
    if PYPROJECT.exists():
        with PYPROJECT.open("rb") as handle:
            return str(tomllib.load(handle)["project"]["version"])
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed_version

    try:
        return installed_version(DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown"
