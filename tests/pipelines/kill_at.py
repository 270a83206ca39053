"""Run the pipeline CLI, SIGKILL-ing it on the Nth call of a function (crash tests only).

python kill_at.py pipelines.lake.lake:_sha256 2 -- --offline
"""

from __future__ import annotations

import functools
import importlib
import os
import signal
import sys
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[2])


def arm(target: str, nth: int) -> None:
    """Replace ``module:attr.path`` by a wrapper that kills the process on its ``nth`` call."""
    module_name, _, path = target.partition(":")
    owner = importlib.import_module(module_name)
    *parents, name = path.split(".")
    for parent in parents:
        owner = getattr(owner, parent)
    original = getattr(owner, name)
    calls = 0

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        nonlocal calls
        calls += 1
        if calls == nth:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(*args, **kwargs)

    setattr(owner, name, wrapper)


if __name__ == "__main__":
    target, nth, _, *argv = sys.argv[1:]
    arm(target, int(nth))
    from pipelines.run_pipeline import main

    sys.exit(main(argv))
