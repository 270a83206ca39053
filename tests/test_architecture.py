"""The house rules, read from the source: which wing may import which, no circles, small modules.

The layering (see docs/architecture.md): cli → ops → run → (checks → lake, providers) → net,
with ``errors`` (and ``validation``, the base of the settings models) under everything and
``config`` under ``run``; ``exports`` (files made from the lake for other tools) sits under
``cli`` and reads ``lake`` and ``providers``; the ``plan`` command renders with
``orchestration``'s plain-Python cron and Windows modules. A module may import its own wing and
the wings listed for it below, nothing else.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("pipelines", "providers", "orchestration")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 50

ALLOWED: dict[str, set[str]] = {
    "pipelines.errors": set(),
    "pipelines.validation": {"pipelines.errors"},
    "pipelines.net": {"pipelines.errors"},
    "providers": {"pipelines.net", "pipelines.errors"},
    "pipelines.lake": {"pipelines.net", "pipelines.errors"},
    "pipelines.checks": {
        "pipelines.lake", "pipelines.net", "pipelines.validation", "pipelines.errors",
    },
    "pipelines.config": {"providers", "pipelines.net", "pipelines.validation", "pipelines.errors"},
    "pipelines.exports": {"pipelines.lake", "providers", "pipelines.net", "pipelines.errors"},
    "pipelines.run": {
        "pipelines.config", "pipelines.checks", "pipelines.lake", "providers", "pipelines.net",
        "pipelines.validation", "pipelines.errors",
    },
    "pipelines.ops": {
        "pipelines.run", "pipelines.config", "pipelines.checks", "pipelines.lake", "providers",
        "pipelines.net", "pipelines.validation", "pipelines.errors",
    },
    "pipelines.cli": {
        "orchestration", "pipelines.exports", "pipelines.ops", "pipelines.run",
        "pipelines.config", "pipelines.checks", "pipelines.lake", "providers", "pipelines.net",
        "pipelines.validation", "pipelines.errors",
    },
    "pipelines.run_pipeline": {"pipelines.cli"},
    "orchestration": {"pipelines.errors"},
}  # fmt: skip


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


MODULES = _modules()


def _wing(module: str) -> str | None:
    """The longest entry of ``ALLOWED`` that ``module`` sits in (by whole dotted parts)."""
    matches = [w for w in ALLOWED if module == w or module.startswith(w + ".")]
    return max(matches, key=len) if matches else None


def _imports(name: str, path: Path) -> set[str]:
    """First-party modules ``name`` imports, anywhere in the file (lazy imports included)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import sub` imports the module pkg.sub; `from mod import name`, mod.
            targets = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        else:
            continue
        found.update(t for t in targets if t in MODULES)
    return found - {name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def test_every_module_belongs_to_a_wing() -> None:
    homeless = [m for m in MODULES if m not in PACKAGES and _wing(m) is None]
    assert not homeless, f"modules outside every wing of ALLOWED: {homeless}"


def test_imports_follow_the_layering() -> None:
    broken = []
    for module, targets in GRAPH.items():
        wing = _wing(module)
        if wing is None:
            continue
        for target in targets:
            other = _wing(target)
            if other not in (None, wing) and other not in ALLOWED[wing]:
                broken.append(f"{module} imports {target} ({wing} may not import {other})")
    assert not broken, "\n".join(broken)


def _cycle_from(start: str) -> list[str] | None:
    """A path of imports from ``start`` back to itself, if there is one."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        module, path = stack.pop()
        for target in GRAPH.get(module, ()):
            if target == start:
                return [*path, start]
            if target not in seen:
                seen.add(target)
                stack.append((target, [*path, target]))
    return None


def test_there_are_no_import_circles() -> None:
    cycles = {" → ".join(cycle) for module in GRAPH if (cycle := _cycle_from(module))}
    assert not cycles, "\n".join(sorted(cycles))


@pytest.mark.parametrize("package", ["pipelines", "providers"])
def test_no_module_is_over_the_size_guide(package: str) -> None:
    big = {
        str(path.relative_to(REPO)): lines
        for name, path in MODULES.items()
        if name.split(".")[0] == package
        and (lines := len(path.read_text().splitlines())) > MAX_MODULE_LINES
    }
    assert not big, f"modules over {MAX_MODULE_LINES} lines: {big}"


def test_long_functions_say_why_in_their_docstring() -> None:
    unexplained = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            length = node.end_lineno - node.lineno + 1
            if length > MAX_FUNCTION_LINES and "long" not in (ast.get_docstring(node) or ""):
                unexplained.append(f"{name}.{node.name}: {length} lines")
    assert not unexplained, "\n".join(unexplained)
