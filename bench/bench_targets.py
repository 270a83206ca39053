"""Benchmark: issue 13's targets in one command, printed as a markdown table.

For each size (canonical rows: Shopify variants of ``bench_replay.write_raw``'s synthetic
products, 1 to 4 per product), ``--repeat`` times, alternating which goes first:

- **first run**: ``run_pipeline.py --replay`` of the landing file into an empty lake, and dlt
  loading the same file to Parquet (``dlt_replay.py``, in dlt's own virtual environment);
- **unchanged re-run**: the same file replayed into the lake just written (0 rows to write);
- **change run**: a landing file holding ``--changes`` of the same products with new prices
  and stock, replayed into that lake.

Each is a child process: the best wall time and the best CPU time (user + system of the whole
process tree) of the repeats, and the highest peak RSS (``measure.py``). The load average and
the other busy processes are printed before and after. ``--check-up-to N``: at sizes up to N,
the same three runs through the per-record reference path (``reference_replay.py``) into a
lake of their own, and ``lake_diff.py`` compares the two lakes' rows.

    python bench/bench_targets.py                                    # make bench
    python bench/bench_targets.py --sizes 10000 --repeat 1 --no-dlt  # a smoke run, seconds
"""

from __future__ import annotations

import argparse
import compileall
import datetime
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_replay import REPO, time_replay, write_changes, write_raw
from lake_diff import differences
from measure import Timing, machine_load, time_child
from results import Result, Run, replace_block, table

DLT_PYTHON = os.environ.get("DLT_PYTHON", str(REPO / ".venv-dlt" / "bin" / "python"))
DEFAULT_SIZES = (100_000, 1_000_000, 5_000_000)


@dataclass
class Lakes:
    """The inputs of one size and the folder its runs write under."""

    size: int
    raw: Path
    changes: Path
    changed: int
    work: Path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES), help="rows per first run")
    add("--repeat", type=int, default=2, help="runs of each, the best kept (default 2)")
    add("--changes", type=int, default=10_000, help="products the change run changes")
    add("--seed", type=int, default=0, help="the generator's seed")
    add("--no-dlt", action="store_true", help="ours only")
    add("--dlt-python", default=DLT_PYTHON, help="a Python that has dlt (default: .venv-dlt)")
    add("--check-up-to", type=int, default=1_000_000, metavar="ROWS",
        help="compare with the per-record reference at sizes up to ROWS (0: never)")  # fmt: skip
    add("--write-docs", type=Path, metavar="FILE", help="put the table in FILE's bench block")
    add("--workdir", type=Path, help="inputs and lakes go here (default: a temporary folder)")
    args = parser.parse_args(argv)
    if min(args.sizes) < 1 or args.repeat < 1 or args.changes < 1:
        parser.error("--sizes, --repeat and --changes take positive numbers")
    if not args.no_dlt and not Path(args.dlt_python).exists():
        parser.error(f"--dlt-python: no Python at {args.dlt_python} (`make bench` installs "
                     ".venv-dlt from bench/requirements-dlt.lock; or pass --no-dlt)")  # fmt: skip
    args.dlt_python = os.path.abspath(args.dlt_python)  # not resolved: a venv's python is a link
    args.dlt_version = None if args.no_dlt else dlt_version(args.dlt_python)
    return args


def dlt_version(python: str) -> str:
    """The version of dlt that ``python`` imports; stops with one line when it cannot."""
    asked = subprocess.run([python, "-c", "import dlt; print(dlt.__version__)"],
                           capture_output=True, text=True, check=False)  # fmt: skip
    if asked.returncode != 0:
        raise SystemExit(f"--dlt-python: {python} cannot import dlt (`make bench` installs it)")
    return asked.stdout.strip()


def written(lake: Path) -> int:
    """Rows the last run into ``lake`` wrote, from its run log (``lake``'s parent's ``logs/``)."""
    lines = (lake.parent / "logs" / "runs.jsonl").read_text().splitlines()
    return int(json.loads(lines[-1])["providers"]["shopify"]["written"])


def our_runs(lakes: Lakes, name: str, command: list[str] | None = None) -> list[Run]:
    """First run, unchanged re-run, change run into a new lake ``name``; each must exit 0."""
    lake = lakes.work / name / "lake"
    runs = []
    for raw in (lakes.raw, lakes.raw, lakes.changes):
        timing = replay(raw, lake, command)
        if timing.code != 0:
            raise SystemExit(f"a replay into {lake} exited {timing.code}: see its output above")
        runs.append(Run(timing, written(lake)))
    return runs


def replay(raw: Path, lake: Path, command: list[str] | None) -> Timing:
    """One replay, by ``run_pipeline.py`` or, with ``command``, by the reference."""
    if command is None:
        return time_replay(raw, lake)
    lake.parent.mkdir(parents=True, exist_ok=True)
    argv = [*command, "--replay", str(raw), "--data-dir", str(lake), "--providers", "shopify"]
    return time_child(argv, lake.parent)


def dlt_run(python: str, lakes: Lakes, attempt: int) -> Run:
    output = lakes.work / f"dlt-{attempt}"
    output.mkdir(parents=True)
    timing = time_child([python, str(REPO / "bench" / "dlt_replay.py"), str(lakes.raw),
                         str(output)], output)  # fmt: skip
    if timing.code != 0:
        raise SystemExit(f"dlt exited {timing.code}: see its output above")
    shutil.rmtree(output)
    return Run(timing, None)


def measure_size(lakes: Lakes, args: argparse.Namespace) -> list[Result]:
    """Every scenario of one size, ``--repeat`` times, ours and dlt alternating."""
    ours: list[list[Run]] = []
    theirs: list[Run] = []
    for attempt in range(args.repeat):
        order = ("ours", "dlt") if attempt % 2 == 0 else ("dlt", "ours")
        for system in order:
            if system == "dlt" and not args.no_dlt:
                theirs.append(dlt_run(args.dlt_python, lakes, attempt))
            elif system == "ours":
                ours.append(our_runs(lakes, f"ours-{attempt}"))
    first = Result.best(lakes.size, "first run", "ours", [r[0] for r in ours])
    results = [first]
    if theirs:
        dlt = Result.best(lakes.size, "first run", f"dlt {args.dlt_version}", theirs)
        results.append(dlt.against(first))
    rerun = Result.best(lakes.size, "unchanged re-run", "ours", [r[1] for r in ours])
    change = f"{lakes.changed:,}-product change run"
    changed = Result.best(lakes.size, change, "ours", [r[2] for r in ours])
    return [*results, rerun.share_of(first), replace(changed, per_row=False)]


def check(lakes: Lakes) -> str:
    """The same three runs by the per-record reference, and how the two lakes compare."""
    reference = [sys.executable, str(REPO / "bench" / "reference_replay.py")]
    first = our_runs(lakes, "reference", reference)[0].timing
    found = differences(lakes.work / "ours-0" / "lake", lakes.work / "reference" / "lake")
    verdict = "; ".join(found) if found else "every row identical"
    return (f"{lakes.size:,} rows, first run, re-run and change run: {verdict} (the per-record "
            f"reference's first run: {first.wall:.1f} s wall, {first.cpu:.1f} s CPU)")  # fmt: skip


def compile_checkout() -> None:
    """Byte-compile the program before timing it, as an install does (pip compiled dlt's
    venv): where PYTHONDONTWRITEBYTECODE is set, every run would compile it again."""
    for package in ("pipelines", "providers"):
        compileall.compile_dir(REPO / package, quiet=1)


def run_all(args: argparse.Namespace, workdir: Path) -> tuple[list[Result], list[str]]:
    compile_checkout()
    results, checks = [], []
    for size in args.sizes:
        base = workdir / f"rows-{size}"
        raw = write_raw(base / "input", size, seed=args.seed)
        changes, changed = write_changes(base / "changes", size, args.changes, seed=args.seed)
        lakes = Lakes(size, raw, changes, changed, base)
        results += measure_size(lakes, args)
        if size <= args.check_up_to:
            checks.append(check(lakes))
        shutil.rmtree(base)
    return results, checks


def commit() -> str:
    found = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                           capture_output=True, text=True, check=False)  # fmt: skip
    return found.stdout.strip() or "unknown"


def report(args: argparse.Namespace, argv: list[str], before: str) -> str:
    """Run everything; the markdown: what ran, where, the table, the checks."""
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-targets-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        results, checks = run_all(args, workdir)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    after = machine_load()
    when = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Measured {when}, commit {commit()}, best of {args.repeat}:",
        "",
        "```sh",
        "python bench/bench_targets.py " + " ".join(argv),
        "```",
        "",
        table(results),
        "",
        f"- Before: {before}.",
        f"- After: {after}.",
    ]
    lines += [f"- Check, {line}." for line in checks]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    markdown = report(args, argv, machine_load())
    print(markdown)
    if args.write_docs:
        replace_block(args.write_docs, markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
