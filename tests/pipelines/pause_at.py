"""Run the pipeline CLI, pausing it on the Nth call of a function (concurrency tests only).

python pause_at.py pipelines.run.process:NormalizeStage.flush 1 MARKER SECONDS -- --offline

On that call it creates the file MARKER (so a test knows the run got there) and sleeps
SECONDS, or until the file MARKER.go appears, whichever comes first.
"""

from __future__ import annotations

import functools
import importlib
import sys
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[2])


def arm(target: str, nth: int, marker: Path, seconds: float) -> None:
    """Wrap ``module:attr.path`` so that its ``nth`` call pauses first."""
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
            marker.write_text("paused")
            release = marker.with_name(marker.name + ".go")
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline and not release.exists():
                time.sleep(0.05)
        return original(*args, **kwargs)

    setattr(owner, name, wrapper)


if __name__ == "__main__":
    target, nth, marker, seconds, _, *argv = sys.argv[1:]
    arm(target, int(nth), Path(marker), float(seconds))
    from pipelines.run_pipeline import main

    sys.exit(main(argv))
