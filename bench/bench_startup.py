"""Start-up time of the commands that should answer at once (docs/performance.md, Start-up).

Each command runs ``--repeat`` times in a child process, in a work folder that holds one offline
run (made first, so ``status`` has a run log and a checkpoint to read); the best wall time, the
best CPU time (user + system, from ``wait4``) and the least ``-X importtime`` total (the sum of
every module's own import time) are printed. ``--base PATH`` times another checkout (say, the
commit before a change, from ``git archive``) the same way, alternating with this one, so both
see the same load. The load average before and after is printed: on a busy machine compare the
CPU times, which move far less than the wall times.

    .venv/bin/python bench/bench_startup.py --repeat 5
    .venv/bin/python bench/bench_startup.py --base /tmp/base --repeat 5
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_replay import REPO
from measure import time_child

COMMANDS = (
    ["--help"], ["status"], ["status", "--json"], ["providers"], ["providers", "--json"],
    ["run", "--help"], ["completion", "bash"],
)  # fmt: skip


def import_ms(tree: Path, argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    """The sum of every module's own import time (``-X importtime``), in milliseconds."""
    script = str(tree / "pipelines" / "run_pipeline.py")
    done = subprocess.run([sys.executable, "-X", "importtime", script, *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip
    own = [line.split("|")[0].rpartition(":")[2] for line in done.stderr.splitlines()
           if line.startswith("import time:") and "self [us]" not in line]  # fmt: skip
    return sum(int(value) for value in own) / 1000


def measure(tree: Path, argv: list[str], cwd: Path, repeat: int) -> tuple[float, float, float]:
    """Best wall and CPU seconds of ``repeat`` starts, and the least import total (ms)."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    script = str(tree / "pipelines" / "run_pipeline.py")
    timings = [time_child([sys.executable, script, *argv], cwd, env) for _ in range(repeat)]
    imports = min(import_ms(tree, argv, cwd, env) for _ in range(repeat))
    return min(t.wall for t in timings), min(t.cpu for t in timings), imports


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="starts per command (default 5)")
    parser.add_argument("--base", type=Path, help="another checkout to time the same way")
    args = parser.parse_args()
    trees = [("base", args.base)] if args.base else []
    trees.append(("this", REPO))
    print(f"load average before: {os.getloadavg()}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        offline = [sys.executable, str(REPO / "pipelines" / "run_pipeline.py"), "run",
                   "--offline", "--limit", "5"]  # fmt: skip
        subprocess.run(offline, cwd=work, capture_output=True, check=False)
        print(f"{'command':<22} {'tree':<5} {'wall s':>7} {'CPU s':>7} {'imports ms':>11}")
        for argv in COMMANDS:
            for name, tree in trees:
                wall, cpu, imports = measure(tree, argv, work, args.repeat)
                print(f"{' '.join(argv):<22} {name:<5} {wall:>7.3f} {cpu:>7.3f} {imports:>11.0f}")
    print(f"load average after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
