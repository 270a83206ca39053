"""Logging set-up: human lines by default, JSON lines with ``--log-format json``.

Every line carries the run id, and secrets are masked before any handler sees them.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from pipelines.net.secrets import SecretMaskingFilter


class _RunIdFilter(logging.Filter):
    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id

    def filter(self, record: logging.LogRecord) -> bool:
        record.run_id = self.run_id
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, run id, message."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "run_id": getattr(record, "run_id", None),
            "message": record.getMessage(),
        }
        if record.exc_info:  # masked by SecretMaskingFilter into exc_text
            entry["exception"] = record.exc_text or self.formatException(record.exc_info)
        return json.dumps(entry)


class _StderrHandler(logging.StreamHandler):
    """Writes to ``sys.stderr`` as it is at each line: a live progress display redirects it
    while it runs, so that log lines print above the display instead of through it."""

    @property
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, _: object) -> None:
        """The stream is always the current ``sys.stderr``."""


def setup_logging(run_id: str, *, verbose: bool = False, fmt: str = "text") -> None:
    """Route the ``pipeline`` loggers to stderr with run id and secret masking."""
    handler = _StderrHandler()
    handler.addFilter(_RunIdFilter(run_id))
    handler.addFilter(SecretMaskingFilter())
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)-7s %(run_id)s %(name)s: %(message)s")
        )
    root = logging.getLogger("pipeline")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    root.propagate = False
