"""Benchmark: replay N synthetic Shopify records into each kind of lake.

The same raw landing file (``bench_replay.write_raw``) is replayed with ``run_pipeline.py
--replay`` in a child process into:

* ``local``: a lake folder (Parquet, the default);
* ``s3``: an S3 lake on moto's server on 127.0.0.1 (started here; an in-memory stand-in for
  S3 or MinIO, so the figure is the pipeline's cost of talking S3, not a network's);
* ``delta``: a local lake with ``table_format = "delta"`` (only when ``pipelines/lake/delta.py``
  exists), so the Parquet commit plus the three Delta transactions.

Each prints rows/s and the child's peak RSS (``wait4``). Not a test: figures depend on the
machine.

    python bench/bench_lake.py                       # 1M rows, every lake
    python bench/bench_lake.py --rows 100000 --lakes local s3
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

from bench_replay import REPO, write_raw  # noqa: E402

LAKES = ("local", "s3", "delta")


def replay(raw: Path, workdir: Path, args: list[str], env: dict[str, str]) -> tuple:
    """Seconds, peak RSS (KiB) and exit code of one replay in a child process."""
    command = [sys.executable, str(REPO / "pipelines" / "run_pipeline.py"), "--replay", str(raw),
               "--providers", "shopify", *args]  # fmt: skip
    started = time.perf_counter()
    child = subprocess.Popen(command, cwd=workdir, env=env, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    return time.perf_counter() - started, usage.ru_maxrss, os.waitstatus_to_exitcode(status)


def lake_setup(kind: str, workdir: Path, s3: object | None) -> tuple[list[str], dict[str, str]]:
    """The CLI arguments and environment that point a replay at a ``kind`` lake."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if kind == "local":
        return ["--lake-uri", str(workdir / "lake")], env
    if kind == "delta":
        (workdir / "delta.toml").write_text('[pipeline]\ntable_format = "delta"\n')
        return ["--lake-uri", str(workdir / "lake"), "--config", "delta.toml"], env
    return ["--lake-uri", f"s3://{s3.new_bucket()}/lake"], {**env, **s3.env()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--lakes", nargs="+", choices=LAKES, default=list(LAKES))
    args = parser.parse_args()
    lakes = [
        k for k in args.lakes if k != "delta" or importlib.util.find_spec("pipelines.lake.delta")
    ]
    if lakes != args.lakes:
        print("delta: skipped, pipelines/lake/delta.py does not exist yet")
    s3 = None
    if "s3" in lakes:
        from tests.fakes.s3 import FakeS3

        s3 = FakeS3()
    workdir = Path(tempfile.mkdtemp(prefix="bench-lake-"))
    try:
        raw = write_raw(workdir / "input", args.rows)
        print(f"{'lake':>6} {'rows':>10} {'seconds':>8} {'rows/s':>9} {'peak RSS':>10}  exit")
        for kind in lakes:
            run_dir = workdir / kind
            run_dir.mkdir()
            seconds, rss_kib, code = replay(raw, run_dir, *lake_setup(kind, run_dir, s3))
            print(f"{kind:>6} {args.rows:>10} {seconds:>8.1f} {args.rows / seconds:>9,.0f} "
                  f"{rss_kib / 1024:>7.0f} MiB  {code}")  # fmt: skip
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if s3 is not None:
            s3.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
