"""What gets installed is what was reviewed: hashed locks, hash-checked installs, Dependabot.

``requirements.txt`` and ``requirements-dev.txt`` hold the pins; ``make lock`` (.ci/lock.py)
writes the hashed locks: the core, one per optional extra, dev and uv. The Makefile and the
workflows install them with ``--require-hashes``. These tests fail when a pin changed without
``make lock`` (the message says so).
"""

from __future__ import annotations

import importlib.util
import re
import tomllib
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.utils import canonicalize_name
from ruamel.yaml import YAML

from pipelines.net.extras import EXTRAS
from tests.workflow_syntax import PIPELINE, REPO

_spec = importlib.util.spec_from_file_location("lock", REPO / ".ci" / "lock.py")
lock_script = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(lock_script)
GROUPS = lock_script.direct_pins()  # "" (the core) and each extra -> its direct pins
LOCKS = sorted(
    [lock_script.lock_name(extra) for extra in GROUPS]
    + ["requirements-dev.lock", "requirements-uv.lock"]
)
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


def _names(requirements: list[str]) -> dict[str, str]:
    return {canonicalize_name(r.split("==")[0]): r.split("==")[1] for r in requirements}


@pytest.mark.parametrize("lock", LOCKS)
def test_every_locked_requirement_is_pinned_with_sha256_hashes(lock: str) -> None:
    entries = lock_entries(REPO / lock)
    assert entries
    for requirement, hashes in entries.items():
        assert "==" in requirement, requirement
        assert hashes, f"{lock}: {requirement} has no --hash"
        assert all(re.fullmatch(r"--hash=sha256:[0-9a-f]{64}", h) for h in hashes), requirement
    assert "make lock" in (REPO / lock).read_text().splitlines()[1]


def test_the_dev_lock_holds_exactly_the_pins_of_requirements_dev() -> None:
    locked, pinned = pins(REPO / "requirements-dev.lock"), pins(REPO / "requirements-dev.txt")
    assert locked == pinned, "requirements-dev.lock disagrees with its pins: run `make lock`"


@pytest.mark.parametrize("extra", GROUPS, ids=lambda extra: extra or "core")
def test_each_runtime_lock_is_its_groups_pins_and_their_pinned_dependencies(extra: str) -> None:
    locked, pinned = pins(REPO / lock_script.lock_name(extra)), pins(REPO / "requirements.txt")
    wanted = _names(GROUPS[""] + (GROUPS[extra] if extra else []))
    message = f"{lock_script.lock_name(extra)} disagrees with requirements.txt: run `make lock`"
    assert {name: locked.get(name) for name in wanted} == wanted, message
    assert {name: pinned.get(name) for name in locked} == locked, message
    others = {n for x, reqs in GROUPS.items() if x not in ("", extra) for n in _names(reqs)}
    assert not others & locked.keys(), f"{message}: another extra's pin leaked in"


def test_every_runtime_pin_is_in_some_lock_and_the_core_has_no_extra() -> None:
    locked = {  # on any platform (tzdata is Windows-only)
        canonicalize_name(requirement.split("==")[0])
        for extra in GROUPS
        for requirement in lock_entries(REPO / lock_script.lock_name(extra))
    }
    stale = pins(REPO / "requirements.txt").keys() - locked
    assert not stale, f"requirements.txt pins nothing needs: {sorted(stale)}"
    core = pins(REPO / "requirements.lock")
    for extra, reqs in GROUPS.items():
        assert extra == "" or not _names(reqs).keys() & core.keys(), extra


def test_pyproject_declares_the_same_core_and_extras_as_requirements_txt() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    declared = {"": project["dependencies"], **project["optional-dependencies"]}
    assert {x: sorted(r) for x, r in declared.items()} == {
        x: sorted(r) for x, r in GROUPS.items()
    }, "pyproject.toml's dependencies or optional-dependencies differ from requirements.txt"


def test_every_extra_the_code_asks_for_is_one_requirements_txt_declares() -> None:
    assert EXTRAS.keys() <= GROUPS.keys() - {""}
    for extra, modules in EXTRAS.items():
        assert modules, extra


def test_workflow_and_makefile_installs_verify_hashes() -> None:
    steps = [s for job in PIPELINE["jobs"].values() for s in job.get("steps", ())]
    installs = [s["run"] for s in steps if s.get("name") == "Install"]
    assert len(installs) == 3
    assert all("pip install" in run and "--require-hashes" in run for run in installs)
    run_job, finalize_job, issues_job = installs  # run, finalize: core and every extra
    for job in (run_job, finalize_job):
        assert "-r requirements.lock" in job
        assert "requirements-extra-*.lock" in job
    assert issues_job.strip().endswith("--require-hashes -r requirements.lock")
    make = (REPO / "Makefile").read_text()
    for command in ("PIP_INSTALL := $(BIN)/python -m pip install", "UV_INSTALL  := $(BIN)/uv"):
        assert command in make
        assert "--require-hashes" in make.split(command)[1].splitlines()[0]
    installs = [line.split("install_locks,", 1)[1] for line in make.splitlines()
                if "$(call install_locks," in line]  # fmt: skip
    assert installs == [
        "-r requirements.lock)",
        "-r requirements-dev.lock)",
        "$(foreach x,$(EXTRAS),-r requirements-extra-$(x).lock)))",
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
