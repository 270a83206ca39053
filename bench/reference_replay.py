"""``run_pipeline.py`` with every provider on its per-record path, the reference.

Takes the batch hooks (``BATCH_HOOKS``) of every built-in provider back to ``Provider``'s
defaults, which map nothing themselves, so every record goes through ``normalize`` one at a
time, then runs the command line with the arguments given:

    python bench/reference_replay.py --replay RAW --data-dir LAKE --providers shopify

``bench_targets.py --check`` replays the benchmark's input this way and compares the lake's
rows with the fast path's (``lake_diff.py``). A new batch hook on ``Provider`` belongs in
``BATCH_HOOKS``.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipelines.cli.main import main
from providers.base import Provider
from providers.registry import builtin_providers

BATCH_HOOKS = ("normalize_batch", "raw_keys", "raw_table")


def per_record_only() -> None:
    """Every built-in provider without its batch hooks (``Provider``'s default, or none)."""
    for cls in builtin_providers():
        for hook in BATCH_HOOKS:
            if hasattr(Provider, hook):
                setattr(cls, hook, getattr(Provider, hook))
            elif hook in vars(cls):
                delattr(cls, hook)


if __name__ == "__main__":
    per_record_only()
    sys.exit(main(sys.argv[1:]))
