"""Where a replay's time goes: ``--replay`` of N synthetic rows under cProfile, summarised.

Writes ``bench_replay.write_raw``'s input (1 to 4 variants per product), replays it into an
empty lake under ``python -m cProfile`` in a child process, and prints the functions with the
most time of their own and the project's functions with the most time in all (their callees
included), each as a share of the whole run. cProfile slows Python calls more than C ones, so
read the shares as a map, not a measurement; the bench table (``bench_targets.py``) has the
times.

    python bench/profile_replay.py --rows 1000000 --top 25
"""

from __future__ import annotations

import argparse
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_replay import REPO, replay_command, write_raw


def profile(rows: int, seed: int, output: Path) -> None:
    """Replay ``rows`` rows into an empty lake under cProfile, the profile to ``output``."""
    workdir = Path(tempfile.mkdtemp(prefix="bench-profile-"))
    try:
        raw = write_raw(workdir / "input", rows, seed=seed)
        command = replay_command(raw, workdir / "lake")
        command[1:1] = ["-m", "cProfile", "-o", str(output)]
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        subprocess.run(command, cwd=workdir, env=env, stdout=subprocess.DEVNULL, check=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def where(function: tuple[str, int, str]) -> str:
    path, line, name = function
    if path == "~":
        return name  # a built-in
    shown = os.path.relpath(path, REPO) if path.startswith(str(REPO)) else Path(path).name
    return f"{shown}:{line} {name}"


def summary(stats: pstats.Stats, top: int) -> list[str]:
    """The ``top`` functions by own time, then the project's by time in all."""
    table = stats.stats  # type: ignore[attr-defined]
    total = stats.total_tt  # type: ignore[attr-defined]
    own = sorted(table.items(), key=lambda item: item[1][2], reverse=True)[:top]
    lines = [f"whole run: {total:.1f} s under cProfile", "", "own time:"]
    lines += [f"{tt / total:6.1%} {tt:7.2f} s  {where(f)}" for f, (_, _, tt, _, _) in own]
    ours = [(f, ct) for f, (_, _, _, ct, _) in table.items()
            if f[0].startswith(str(REPO)) and "/bench/" not in f[0]]  # fmt: skip
    ours.sort(key=lambda item: item[1], reverse=True)
    lines += ["", "in all (the project's functions):"]
    lines += [f"{ct / total:6.1%} {ct:7.2f} s  {where(f)}" for f, ct in ours[:top]]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--save", type=Path, help="keep the profile (pstats) here")
    args = parser.parse_args()
    output = args.save or Path(tempfile.mkstemp(suffix=".prof")[1])
    profile(args.rows, args.seed, output)
    print("\n".join(summary(pstats.Stats(str(output)), args.top)))
    if args.save is None:
        output.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
