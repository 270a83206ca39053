"""What gets installed is what was reviewed: hashed locks, hash-checked installs, Dependabot.

``requirements.txt`` and ``requirements-dev.txt`` hold the pins; ``make lock`` writes the
hashed locks the workflows and the Makefile install with ``pip --require-hashes``. These
tests fail when a pin changed without ``make lock`` (the message says so).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.utils import canonicalize_name
from ruamel.yaml import YAML

from tests.workflow_syntax import PIPELINE, REPO, WORKFLOWS

LOCKS = {"requirements.lock": "requirements.txt", "requirements-dev.lock": "requirements-dev.txt"}
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)\s*(?:;\s*([^\\]+))?")


def pins(path: Path) -> dict[str, str]:
    """name -> version of every ``name==version`` line, following ``-r``; other platforms' out."""
    found: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split(" #")[0].strip()
        if line.startswith("-r "):
            found.update(pins(path.parent / line[3:].strip()))
            continue
        match = _PIN.match(line)
        if match and (match[3] is None or Marker(match[3].strip()).evaluate()):
            found[canonicalize_name(match[1])] = match[2]
    return found


def lock_entries(path: Path) -> dict[str, list[str]]:
    """Each requirement of a lock with the ``--hash`` options of its continuation lines."""
    entries: dict[str, list[str]] = {}
    current = None
    for line in path.read_text().splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            current = line.split(" ")[0]
            entries[current] = []
        elif current and line.strip().startswith("--hash="):
            entries[current].append(line.strip().removesuffix(" \\"))
    return entries


@pytest.mark.parametrize("lock", LOCKS)
def test_every_locked_requirement_is_pinned_with_sha256_hashes(lock: str) -> None:
    entries = lock_entries(REPO / lock)
    assert entries
    for requirement, hashes in entries.items():
        assert "==" in requirement, requirement
        assert hashes, f"{lock}: {requirement} has no --hash"
        assert all(re.fullmatch(r"--hash=sha256:[0-9a-f]{64}", h) for h in hashes), requirement


@pytest.mark.parametrize(("lock", "source"), LOCKS.items())
def test_each_lock_holds_exactly_the_pins_of_its_requirements_file(lock: str, source: str) -> None:
    locked, pinned = pins(REPO / lock), pins(REPO / source)
    assert locked == pinned, f"{lock} disagrees with {source}: run `make lock`"
    assert "make lock" in (REPO / lock).read_text().splitlines()[1]


def _pip_installs(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.search(r"pip install", line)]


def test_workflow_and_makefile_installs_verify_hashes() -> None:
    installs = _pip_installs((WORKFLOWS / "pipeline.yml").read_text())
    assert len(installs) == 3  # the run, finalize and issues jobs
    assert all("--require-hashes -r requirements.lock" in line for line in installs)
    make = (REPO / "Makefile").read_text()
    assert "PIP_INSTALL := $(BIN)/python -m pip install" in make
    assert "--require-hashes" in make.split("PIP_INSTALL :=")[1].splitlines()[0]
    assert re.findall(r"\$\(PIP_INSTALL\) -r (\S+)", make) == [
        "requirements.lock",
        "requirements-dev.lock",
    ]


def test_dependabot_watches_the_actions_and_the_python_pins() -> None:
    config = YAML(typ="safe").load((REPO / ".github" / "dependabot.yml").read_text())
    ecosystems = {u["package-ecosystem"]: u["directory"] for u in config["updates"]}
    assert ecosystems == {"github-actions": "/", "pip": "/"}


def test_the_run_job_can_be_scoped_to_an_environment_by_a_repository_variable() -> None:
    run = PIPELINE["jobs"]["run"]
    assert run["environment"] == "${{ vars.PIPELINE_ENVIRONMENT }}"
    holders = [n for n, job in PIPELINE["jobs"].items() if "secrets." in str(job)]
    # the only jobs that read secrets (finalize: the lake's) are those an environment scopes
    assert holders == ["run", "finalize"]
    assert PIPELINE["jobs"]["finalize"]["environment"] == run["environment"]
