"""Benchmark: our ``--replay`` against dlt on the same raw records, interleaved, best of N.

The same landing file (``bench_replay.write_raw``, 1 to 4 variants per product with
``--variants``) is replayed by ``run_pipeline.py --replay`` and loaded by dlt to Parquet, one row
per variant (``dlt_replay.py``, run by the Python of a separate virtual environment that has
dlt; the project never depends on it). The two alternate, ``--repeat`` times each, each into a
fresh folder; the best wall time, the best CPU time (user + system, the fairer figure on a
machine that runs other work) and the highest peak RSS of each are printed, with the ratios
and the load average before and after (what else was running).

    python -m venv /tmp/dlt-venv
    /tmp/dlt-venv/bin/pip install dlt==1.31.0 pyarrow zstandard
    python bench/bench_vs_dlt.py --rows 100000 --repeat 2 --variants
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_replay import REPO, Timing, time_child, time_replay, write_raw

DLT_PYTHON = os.environ.get("DLT_PYTHON", "/tmp/dlt-venv/bin/python")


def time_dlt(python: str, raw: Path, output: Path) -> Timing:
    """One dlt load of ``raw`` into ``output`` in a child process."""
    output.mkdir(parents=True)
    command = [python, str(REPO / "bench" / "dlt_replay.py"), str(raw), str(output)]
    return time_child(command, output)


def best(timings: list[Timing]) -> tuple[float, float, float]:
    """Best wall, best CPU, highest peak RSS; refuses a failed child."""
    failed = [t.code for t in timings if t.code != 0]
    if failed:
        raise SystemExit(f"a child exited {failed[0]}: see its output above")
    return (min(t.wall for t in timings), min(t.cpu for t in timings),
            max(t.rss_mib for t in timings))  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--variants", action="store_true", help="1 to 4 variants per product")
    parser.add_argument("--dlt-python", default=DLT_PYTHON, help="a Python that has dlt")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-vs-dlt-"))
    print(f"load average before: {os.getloadavg()}, {os.cpu_count()} CPUs")
    try:
        raw = write_raw(workdir / "input", args.rows, args.variants)
        ours, theirs = [], []
        for attempt in range(args.repeat):
            (workdir / f"ours-{attempt}").mkdir()
            ours.append(time_replay(raw, workdir / f"ours-{attempt}" / "lake"))
            theirs.append(time_dlt(args.dlt_python, raw, workdir / f"dlt-{attempt}"))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"load average after: {os.getloadavg()}")
    print(
        f"{'system':>8} {'rows':>9} {'wall s':>7} {'CPU s':>7} {'rows/CPU s':>11} {'peak RSS':>9}"
    )
    figures = {"ours": best(ours), "dlt": best(theirs)}
    for name, (wall, cpu, rss) in figures.items():
        print(f"{name:>8} {args.rows:>9} {wall:>7.1f} {cpu:>7.1f} "
              f"{args.rows / cpu:>11,.0f} {rss:>5.0f} MiB")  # fmt: skip
    (our_wall, our_cpu, _), (dlt_wall, dlt_cpu, _) = figures["ours"], figures["dlt"]
    print(f"ours vs dlt: {dlt_wall / our_wall:.2f}x by wall time, {dlt_cpu / our_cpu:.2f}x by CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
