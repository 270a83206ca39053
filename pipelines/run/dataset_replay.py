"""What a ``--replay`` run feeds to a dataset beyond products: one version of each record id.

The same guarantees as the products replay (``replay.py``), for any dataset: the raw files are
read in landing order (``replay_world.landing_order``), demo and real records never cross
(``replay_world.check_world``), and of the records that give a row of the same id in the
dataset's first table (an order id, for ``orders``) only the one landed last is kept, so a
folder of many runs' raw files rebuilds each record as it was last seen. A record the provider
cannot normalize is kept too, so the row stage drops and counts it, once.

Two passes over the files: the first normalizes each record (``Provider.normalize_dataset``)
only to learn its ids, the second yields the records to keep. The ids are held in a dict, one
entry per id: datasets beyond products are orders, not catalogs of millions of variants.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pipelines.lake.datasets import Dataset
from pipelines.lake.lake import read_raw
from pipelines.run.replay_world import check_world, demo_place, landing_order
from providers.base import Provider


def dataset_replay_records(
    provider: Provider, dataset: Dataset, files: Iterable[Path], demo: bool
) -> Iterator[dict[str, Any]]:
    """The records of ``dataset`` to normalize again: per id, the one landed last."""
    ordered = landing_order(files)
    keep = _kept_positions(provider, dataset, ordered, demo)
    position = 0
    for path in ordered:
        for record in read_raw(path):
            if position in keep:
                yield record
            position += 1


def _kept_positions(
    provider: Provider, dataset: Dataset, ordered: list[Path], demo: bool
) -> set[int]:
    """Positions (records counted across ``ordered``) of the latest record of every id, and
    of every record that gives no id."""
    latest: dict[str, int] = {}
    rowless: set[int] = set()
    position = 0
    for path in ordered:
        place = demo_place(path)
        for record in read_raw(path):
            check_world(record, path, demo, place)
            ids = _ids(provider, dataset, record)
            for key in ids:
                latest[key] = position
            if not ids:
                rowless.add(position)
            position += 1
    return rowless | set(latest.values())


def _ids(provider: Provider, dataset: Dataset, record: dict[str, Any]) -> list[str]:
    try:
        rows = provider.normalize_dataset(dataset.name, record)
    except Exception:  # the second pass keeps it: the row stage drops and counts it
        return []
    return [str(row.get("source_id")) for row in rows.get(dataset.home.name, [])]
