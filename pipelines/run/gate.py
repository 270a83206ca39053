"""The quality step: the reject gate applied to each provider's normalized product rows."""

from __future__ import annotations

import logging
from typing import Any

from pipelines.checks.quality import gate_verdict
from pipelines.checks.quality_config import QualityConfig
from pipelines.run.checkpoint import Checkpoint
from pipelines.run.process import ProviderCounts

log = logging.getLogger("pipeline.runner")


def quality_verdicts(checkpoint: Checkpoint, quality: QualityConfig) -> dict[str, Any]:
    """Per provider: ``{}`` when it passes the gate, else its ``quality_failed`` status."""
    verdicts: dict[str, Any] = {}
    for name in checkpoint.providers:
        normalized = checkpoint.outputs(f"normalize.{name}")
        if normalized.get("status") != "ok":
            continue
        counts = ProviderCounts.from_dict(normalized["counts"])
        verdict = gate_verdict(
            name, counts.fetched, counts.quarantined, counts.quality,
            counts.rejected_examples, quality,
        )  # fmt: skip
        verdicts[name] = {"status": "quality_failed", "error": verdict} if verdict else {}
        if verdict:
            log.error("%s", verdict)
    return verdicts
