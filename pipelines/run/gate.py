"""The quality step: each provider's reject share against the gate (``[quality]``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from pipelines.checks.quality import gate_verdict
from pipelines.checks.quality_config import QualityConfig
from pipelines.run.process import ProviderCounts

log = logging.getLogger("pipeline.quality")


def gate_verdicts(
    normalized: Mapping[str, Mapping[str, Any]], quality: QualityConfig, *, defer: bool = False
) -> dict[str, dict[str, Any]]:
    """The quality step's outputs: each normalized provider's gate over its reject share
    (``quality_failed`` with why, or nothing). ``defer`` (a shard whose run is joined): nothing
    fails here, ``{"gate": "deferred", "share": why-or-None}`` says what this shard's own share
    would have given, and the join gates the whole run's share."""
    verdicts: dict[str, dict[str, Any]] = {}
    for name, outputs in normalized.items():
        if outputs.get("status") != "ok":
            continue
        counts = ProviderCounts.from_dict(outputs["counts"])
        verdict = gate_verdict(name, counts.fetched, counts.quarantined, counts.quality,
                               counts.rejected_examples, quality)  # fmt: skip
        if defer:
            verdicts[name] = {"gate": "deferred", "share": verdict}
        elif verdict:
            verdicts[name] = {"status": "quality_failed", "error": verdict}
        if verdict:
            log.log(logging.WARNING if defer else logging.ERROR, "%s", verdict)
    return verdicts
