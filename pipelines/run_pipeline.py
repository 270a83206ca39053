"""The command users run: ``python pipelines/run_pipeline.py [flags | SUBCOMMAND]``.

The command line itself lives in ``pipelines/cli/``; this file stays where the
README, the Makefile, the workflow and every scheduler already point.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script, sys.path[0] is pipelines/: put the repository root there instead, so
    # that `pipelines` and `providers` import as packages.
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from pipelines.cli.main import main

if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
