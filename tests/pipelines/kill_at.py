"""Run the pipeline CLI, SIGKILL-ing it on the Nth call of a function (crash tests only).

python kill_at.py pipelines.lake.lake:_sha256 2 -- --offline
"""

from __future__ import annotations

import functools
import importlib
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[2])


def on_nth_call(target: str, nth: int, action: Callable[[], None]) -> None:
    """Wrap ``module:attr.path`` so that ``action`` runs just before its ``nth`` call."""
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
            action()
        return original(*args, **kwargs)

    setattr(owner, name, wrapper)


def arm(target: str, nth: int) -> None:
    """Kill the process (SIGKILL) on the ``nth`` call of ``module:attr.path``."""
    on_nth_call(target, nth, lambda: os.kill(os.getpid(), signal.SIGKILL))


if __name__ == "__main__":
    target, nth, _, *argv = sys.argv[1:]
    arm(target, int(nth))
    from pipelines.run_pipeline import main

    sys.exit(main(argv))
