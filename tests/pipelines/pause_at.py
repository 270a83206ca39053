"""Run the pipeline CLI, pausing it on the Nth call of a function (concurrency tests only).

python pause_at.py pipelines.run.process:NormalizeStage.flush 1 MARKER SECONDS -- --offline

On that call it creates the file MARKER (so a test knows the run got there) and sleeps
SECONDS, or until the file MARKER.go appears, whichever comes first.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[2])

from tests.pipelines.kill_at import on_nth_call  # noqa: E402


def arm(target: str, nth: int, marker: Path, seconds: float) -> None:
    """Pause the ``nth`` call of ``module:attr.path``: create ``marker``, then wait ``seconds``
    or until ``marker.go`` appears."""

    def pause() -> None:
        marker.write_text("paused")
        release = marker.with_name(marker.name + ".go")
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not release.exists():
            time.sleep(0.05)

    on_nth_call(target, nth, pause)


if __name__ == "__main__":
    target, nth, marker, seconds, _, *argv = sys.argv[1:]
    arm(target, int(nth), Path(marker), float(seconds))
    from pipelines.run_pipeline import main

    sys.exit(main(argv))
