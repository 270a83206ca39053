"""Benchmark: each built-in provider's normalizer, per record against the batch form.

Takes the provider's offline recording (the raw records ``--offline`` fetches), repeats them
with fresh ids to N records, then times ``normalize`` record by record and ``normalize_batch``
block by block (``--block`` records, the run's ``batch_size``) in this process, as CPU seconds
(``time.process_time``, best of ``--repeat``): on a shared machine the figure to compare.

    python bench/bench_normalize.py                    # 5000 records per provider
    python bench/bench_normalize.py --records 20000 --block 1000
"""

from __future__ import annotations

import argparse
import copy
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import pyarrow as pa  # noqa: E402

from pipelines.lake.schema import BUSINESS_FIELDS  # noqa: E402
from pipelines.net.http import HttpClient  # noqa: E402
from pipelines.net.offline import Recording, offline_env, replay_server  # noqa: E402
from pipelines.net.stats import ProviderStats  # noqa: E402
from providers.base import FetchContext, Provider  # noqa: E402
from providers.registry import load_providers  # noqa: E402

BUSINESS_SCHEMA = pa.schema(BUSINESS_FIELDS)
ID_FIELDS = {"shopify": "id", "ebay": "itemId", "amazon": "asin"}


def recorded(provider: Provider) -> list[dict[str, Any]]:
    """The raw records of the provider's offline recording, fetched as ``--offline`` does."""
    recording = Recording(provider.recording_path())
    with replay_server(recording) as base_url:
        env = offline_env(recording, base_url)
        stats = ProviderStats()
        ctx = FetchContext(
            settings=provider.resolve_settings(env),
            options={**{o.name: o.default for o in provider.options}, **recording.options},
            http=HttpClient(provider.name, stats, timeout=(2.0, 5.0)),
            stats=stats,
            log=logging.getLogger("bench"),
            offline=True,
        )
        return list(provider.fetch(ctx))


def scaled(records: list[dict[str, Any]], count: int, id_field: str) -> list[dict[str, Any]]:
    """``count`` records cycling through ``records``, each with its own id."""
    out = []
    for n in range(count):
        record = copy.deepcopy(records[n % len(records)])
        record[id_field] = f"{record.get(id_field)}-{n}"
        out.append(record)
    return out


def reference(provider: Provider, block: list[dict[str, Any]]) -> pa.Table:
    """The per-record path: ``normalize`` each record, then the rows to one Arrow table."""
    rows = [row for raw in block for row in provider.normalize(raw)]
    return pa.Table.from_pylist(rows, schema=BUSINESS_SCHEMA)


def cpu(work: Any, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        work()
        best = min(best, time.process_time() - start)
    return best


def measure(provider: Provider, id_field: str, args: argparse.Namespace) -> None:
    """One line of the table: the provider's records normalized both ways."""
    raws = scaled(recorded(provider), args.records, id_field)
    blocks = [raws[i : i + args.block] for i in range(0, len(raws), args.block)]
    rows = sum(len(provider.normalize(raw)) for raw in raws)
    per_record = cpu(lambda: [reference(provider, block) for block in blocks], args.repeat)
    batch = cpu(lambda: [provider.normalize_batch(block) for block in blocks], args.repeat)
    rest = sum(len(provider.normalize_batch(block).rest) for block in blocks)
    print(f"{provider.name:<9} {len(raws):>7} {rows:>6} {per_record:>12.3f} {batch:>8.3f} "
          f"{per_record / batch:>7.1f}x {rest:>9}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000)
    parser.add_argument("--block", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'provider':<9} {'records':>7} {'rows':>6} {'per record s':>12} {'batch s':>8} "
          f"{'speed-up':>8} {'left over':>9}")  # fmt: skip
    providers = load_providers()
    for name, id_field in ID_FIELDS.items():
        measure(providers[name], id_field, args)
    print(f"load average {os.getloadavg()[0]:.1f} after")


if __name__ == "__main__":
    main()
