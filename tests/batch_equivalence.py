"""Both normalize paths of a provider through the normalize stage, for the equivalence tests.

The stage runs once with the provider as it is (its ``raw_table`` or ``normalize_batch``) and
once with a wrapper that only has ``normalize``, the reference: hashes, gtin14, the quality
check, drops and their messages all run, so the staged candidates, the quarantine and the
counts compare. Records go in as the lines a run lands (``landed``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from pipelines.checks.quality_config import QualityConfig
from pipelines.errors import SkippableRecordError
from pipelines.lake.lake import StagedFile
from pipelines.lake.schema import PRODUCT_SCHEMA
from pipelines.net import strict_json
from pipelines.net.offline import Recording, offline_env, replay_server
from pipelines.run.candidates import read_candidates
from pipelines.run.process import NormalizeStage, RunContext
from providers.base import Provider


class PerRecordOnly:
    """A provider written per record only: the reference path."""

    def __init__(self, provider: Provider) -> None:
        self.name, self.normalize = provider.name, provider.normalize


def landed(records: list[Any]) -> list[bytes]:
    """``records`` as ``RawWriter`` lands them (canonical JSON lines); lines stay as they are."""
    return [r if isinstance(r, bytes) else strict_json.dumps(r, canonical=True) for r in records]


def staged(provider: Any, records: list[Any], folder: Path, batch: int = 7):
    """The candidate and quarantine rows and the counts the stage gives ``records`` (dicts,
    landed first, or landed lines)."""
    run = RunContext("20261206T000000Z-abcdef", datetime(2026, 12, 6, tzinfo=UTC), batch, 1000)
    folder.mkdir(parents=True, exist_ok=True)
    files = [StagedFile(folder / f"{zone}.parquet", f"{zone}/x", zone, provider.name)
             for zone in ("candidates", "quarantine")]  # fmt: skip
    stage = NormalizeStage(provider, run, QualityConfig(), *files)
    stage.feed(landed(records))
    written = {f.zone: f.staged for f in stage.close()}
    candidates = written.get("candidates")
    rows = [] if candidates is None else read_candidates(candidates, PRODUCT_SCHEMA, batch)
    quarantine = written.get("quarantine")
    rejected = [] if quarantine is None else pq.read_table(quarantine).to_pylist()
    return [[r for t in rows for r in t.to_pylist()], rejected], stage.counts.to_dict()


def assert_same(
    provider: Provider, records: list[dict[str, Any]], tmp_path: Path, batch: int = 7
) -> None:
    """Both paths stage the same rows (hashes included), drops and counts."""
    columnar = staged(provider, records, tmp_path / "columnar", batch)
    reference = staged(PerRecordOnly(provider), records, tmp_path / "reference", batch)
    assert columnar == reference


def recorded_records(provider: Provider, fetch_context: Callable[..., Any]) -> list[dict[str, Any]]:
    """Every raw record of the provider's offline recording, fetched as ``--offline`` does."""
    recording = Recording(provider.recording_path())
    with replay_server(recording) as base_url:
        ctx = fetch_context(provider, offline_env(recording, base_url), options=recording.options)
        ctx.offline = True
        return list(provider.fetch(ctx))


def assert_raw_keys_match(provider: Provider, record: Any) -> None:
    """``raw_keys`` names the ids ``normalize`` gives (a refused record: nothing to compare)."""
    try:
        rows = provider.normalize(record)
    except (SkippableRecordError, KeyError, TypeError, ValueError, AttributeError):
        return  # refused: the stage drops it, whatever its keys
    assert provider.raw_keys(record) == [str(row["source_id"]) for row in rows]
