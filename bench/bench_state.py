"""Benchmark: the dedup state at N keys, a run that changes K of them (load, classify, save).

Builds a lake whose state holds N keys (not timed), then times, in this process: loading the
state, classifying a batch of K rows (half of them changed keys, half new ones), and saving it;
and measures the state's memory with ``tracemalloc`` (the state loaded whole, per key).

``--before`` does the same with the state of before buckets (one dict of Python strings, one
Parquet file), taken from the commit ``--before-commit`` of this repository's history
(``git show``), so both can be compared on one machine. Not a test: figures depend on the
machine; run it on an idle one and give the load average with the figures.

    python bench/bench_state.py                    # 1M keys, a 10k change, after
    python bench/bench_state.py --before           # the same with the state of before
    python bench/bench_state.py --keys 100000 --change 1000
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from types import ModuleType

import pyarrow as pa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

BEFORE_COMMIT = "33d9830"  # the last commit with the single-file state


def rows(ids: range, tag: str) -> pa.Table:
    """``len(ids)`` state rows of source ``shopify`` with hex hashes made of ``tag``."""
    raw = [hashlib.sha256(f"{tag}r{i}".encode()).hexdigest() for i in ids]
    content = [hashlib.sha256(f"{tag}c{i}".encode()).hexdigest() for i in ids]
    return pa.table(
        {
            "source": pa.array(["shopify"] * len(ids)),
            "source_id": pa.array(
                [f"gid://shopify/ProductVariant/{4_000_000_000 + i}" for i in ids]
            ),
            "raw_hash": pa.array(raw),
            "content_hash": pa.array(content),
            "change_type": pa.nulls(len(ids), pa.string()),
        }
    )


def before_module(commit: str) -> ModuleType:
    """``pipelines/lake/dedup.py`` as it was at ``commit``."""
    source = subprocess.run(
        ["git", "-C", str(REPO), "show", f"{commit}:pipelines/lake/dedup.py"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    path = Path(tempfile.mkdtemp()) / "dedup_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("dedup_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["dedup_before"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def timed(label: str, call, *args):
    """Call; print its wall and CPU seconds (CPU: what a loaded machine does not inflate)."""
    start, cpu = time.perf_counter(), time.process_time()
    result = call(*args)
    print(f"  {label:<28} {time.perf_counter() - start:7.3f} s wall "
          f"{time.process_time() - cpu:7.3f} s CPU")  # fmt: skip
    return result


def memory_per_key(dedup: ModuleType, lake: Path, keys: int) -> None:
    """The state loaded whole: traced bytes per key."""
    gc.collect()
    tracemalloc.start()
    state = dedup.load_state(lake)
    if hasattr(state, "index"):
        state._load(range(256))  # every bucket in memory
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"  memory, state loaded whole  {current / keys:7.1f} B/key "
          f"({current / 2**20:.1f} MiB, peak while loading {peak / 2**20:.1f} MiB)")  # fmt: skip
    del state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--change", type=int, default=10_000)
    parser.add_argument("--before", action="store_true", help="the single-file state of before")
    parser.add_argument("--before-commit", default=BEFORE_COMMIT)
    args = parser.parse_args()
    if args.before:
        dedup = before_module(args.before_commit)
    else:
        from pipelines.lake import dedup
    lake = Path(tempfile.mkdtemp(prefix="bench-state-"))
    state = dedup.DedupState()
    for start in range(0, args.keys, 100_000):  # not timed: the lake as a first run leaves it
        state.classify(rows(range(start, min(start + 100_000, args.keys)), "v1"))
    dedup.save_state(lake, state)
    del state
    half = args.change // 2
    change = pa.concat_tables(
        [rows(range(0, args.keys, args.keys // half)[:half], "v2"),
         rows(range(args.keys, args.keys + args.change - half), "v1")]
    )  # fmt: skip
    print(f"{'before' if args.before else 'after'}: {args.keys} keys, a change of "
          f"{change.num_rows} keys, load average {os.getloadavg()[0]:.2f}")  # fmt: skip
    gc.collect()
    total, cpu = time.perf_counter(), time.process_time()
    state = timed("load", dedup.load_state, lake)
    _, counts = timed("classify", state.classify, change)
    timed("save", dedup.save_state, lake, state)
    print(f"  {'load + classify + save':<28} {time.perf_counter() - total:7.3f} s wall "
          f"{time.process_time() - cpu:7.3f} s CPU  ({counts})")  # fmt: skip
    del state
    memory_per_key(dedup, lake, args.keys + args.change - half)


if __name__ == "__main__":
    main()
