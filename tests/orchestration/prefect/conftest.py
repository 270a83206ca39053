"""Prefect reads its settings when first imported: a throwaway home, no analytics."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

HOME = Path(tempfile.mkdtemp(prefix="prefect-home-"))
os.environ.update(PREFECT_HOME=str(HOME), PREFECT_SERVER_ANALYTICS_ENABLED="false")
# The temporary API server takes 10-20 s to start here; give slow CI machines room.
SERVER_STARTUP_TIMEOUT_SECONDS = 90


@pytest.fixture(scope="session")
def prefect_server() -> Iterator[None]:
    """One temporary Prefect API server (with its own database) for the session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=SERVER_STARTUP_TIMEOUT_SECONDS):
        yield
    shutil.rmtree(HOME, ignore_errors=True)
