"""Benchmark: ``--replay`` of N synthetic Shopify variant rows with 1 and with 2 (or more)
worker processes (``--workers``), interleaved.

For each run: wall time; CPU time of the whole process tree (the run, its workers and their
fork server, each as last sampled from ``/proc``, every 50 ms); the tree's peak
memory, the sum of its processes' PSS (shared pages split between the processes sharing
them; a peak shorter than 50 ms can be missed); and the 1-minute load average when it ended
(on a shared machine, other work competes for the cores).

    python bench/bench_workers.py --rows 100000 --variants
    python bench/bench_workers.py --rows 1000000 --variants --workers 1 2 --repeat 2
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench_replay import REPO, write_raw

TICK = os.sysconf("SC_CLK_TCK")


def tree(root: int) -> dict[int, tuple[float, int]]:
    """CPU seconds (user + system) and proportional resident bytes (PSS: shared pages split
    between the processes sharing them) of ``root`` and every process descending from it."""
    parents: dict[int, int] = {}
    usage: dict[int, tuple[float, int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(entry.path, "stat").read_text().rpartition(")")[2].split()
            rollup = Path(entry.path, "smaps_rollup").read_text().splitlines()
        except OSError:
            continue  # ended meanwhile, or not ours
        pss = next((int(line.split()[1]) for line in rollup if line.startswith("Pss:")), 0)
        parents[int(entry.name)] = int(fields[1])
        usage[int(entry.name)] = ((int(fields[11]) + int(fields[12])) / TICK, pss * 1024)
    members, grew = {root}, True
    while grew:
        found = {pid for pid, parent in parents.items() if parent in members} - members
        grew = bool(found)
        members |= found
    return {pid: usage[pid] for pid in members if pid in usage}


def run(raw: Path, lake: Path, workers: int) -> tuple[float, float, float, float, int]:
    """One replay: wall s, CPU s, peak tree RSS MiB, load average, exit code."""
    command = [
        sys.executable, str(REPO / "pipelines" / "run_pipeline.py"), "--replay", str(raw),
        "--data-dir", str(lake), "--providers", "shopify", "--workers", str(workers),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=lake.parent, env=env, stdout=subprocess.DEVNULL)
    peak, cpu, done = [0], {}, threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            seen = tree(child.pid)
            peak[0] = max(peak[0], sum(pss for _, pss in seen.values()))
            cpu.update({pid: seconds for pid, (seconds, _) in seen.items()})

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, _ = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    done.set()
    sampler.join()
    load = os.getloadavg()[0]
    return wall, sum(cpu.values()), peak[0] / 2**20, load, os.waitstatus_to_exitcode(status)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--variants", action="store_true", help="1 to 4 variants per product")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=2, help="rounds, interleaved")
    args = parser.parse_args()
    print(f"{'rows':>9} {'workers':>7} {'wall s':>7} {'CPU s':>7} {'rows/s':>8} "
          f"{'tree PSS':>9} {'load':>5}  exit")  # fmt: skip
    workdir = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    try:
        raw = write_raw(workdir / "input", args.rows, args.variants)
        for round_ in range(args.repeat):
            for workers in args.workers:
                lake = workdir / f"lake-{round_}-{workers}"
                wall, cpu, rss, load, code = run(raw, lake, workers)
                speed = args.rows / wall
                print(f"{args.rows:>9} {workers:>7} {wall:>7.1f} {cpu:>7.1f} {speed:>8,.0f} "
                      f"{rss:>5.0f} MiB {load:>5.1f}  {code}")  # fmt: skip
                shutil.rmtree(lake, ignore_errors=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
