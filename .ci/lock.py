"""Write the hashed locks from the pins (``make lock``); uv resolves against PyPI.

requirements.txt pins every runtime dependency. Its direct pins (the lines above
``# transitive``) without a tag are the core; ``# extra: NAME`` puts a pin in the extra NAME.
Written here:

- requirements.lock: the core, what ``make run-pipeline`` installs;
- requirements-extra-NAME.lock: the core plus extra NAME, for each extra;
- requirements-dev.lock: requirements-dev.txt (every extra, the test tools);
- requirements-uv.lock: uv alone, which the Makefile installs first to install the rest.

Every pin of requirements.txt and requirements-dev.txt constrains every lock, so the locks agree
on each version and any set of them installs together. Usage: ``python .ci/lock.py UV``.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RUNTIME, DEV = REPO / "requirements.txt", REPO / "requirements-dev.txt"
_DIRECT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._\[\]-]*==\S+)\s*(?:#\s*extra:\s*([a-z0-9-]+))?")


def direct_pins(path: Path = RUNTIME) -> dict[str, list[str]]:
    """extra name ("" for the core) -> its direct ``name==version`` pins, in file order."""
    groups: dict[str, list[str]] = {"": []}
    for line in path.read_text().splitlines():
        if line.strip() == "# transitive":
            break
        match = _DIRECT.match(line)
        if match:
            groups.setdefault(match[2] or "", []).append(match[1])
    return groups


def lock_name(extra: str) -> str:
    """The lock file of ``extra`` ("" for the core)."""
    return f"requirements-extra-{extra}.lock" if extra else "requirements.lock"


def compile_lock(uv: str, output: str, pins: list[str], constraints: Path) -> None:
    """``uv pip compile`` of ``pins`` (plus the core) into ``output``, hashed and universal."""
    with tempfile.NamedTemporaryFile("w", suffix=".in", dir=REPO, delete=False) as source:
        source.write("\n".join(pins) + "\n")
    try:
        subprocess.run(
            [uv, "pip", "compile", "--quiet", "--generate-hashes", "--universal",
             "--python-version", "3.11.5", "--custom-compile-command", "make lock",
             "--no-annotate", "-c", str(constraints), "-o", output, source.name],
            cwd=REPO, check=True,
        )  # fmt: skip
    finally:
        Path(source.name).unlink()


def main(uv: str) -> None:
    """Write every lock: the core, each extra, the dev set and uv."""
    groups = direct_pins()
    with tempfile.NamedTemporaryFile("w", suffix=".txt", dir=REPO, delete=False) as every:
        every.write(f"-r {DEV.name}\n")
    constraints = Path(every.name)
    try:
        for extra, pins in groups.items():
            compile_lock(uv, lock_name(extra), groups[""] + (pins if extra else []), constraints)
        compile_lock(uv, "requirements-dev.lock", [f"-r {DEV.name}"], constraints)
        uv_pin = next(p for p in DEV.read_text().split() if p.startswith("uv=="))
        compile_lock(uv, "requirements-uv.lock", [uv_pin], constraints)
    finally:
        constraints.unlink()


if __name__ == "__main__":
    main(sys.argv[1])
