"""Airflow reads its configuration when first imported: point it at a throwaway home first."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
HOME = Path(tempfile.mkdtemp(prefix="airflow-home-"))
os.environ.update(
    AIRFLOW_HOME=str(HOME),
    AIRFLOW__CORE__LOAD_EXAMPLES="False",
    AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "orchestration"),  # dag.test() needs the file in it
    AIRFLOW__CORE__UNIT_TEST_MODE="False",
)


@pytest.fixture(scope="session", autouse=True)
def airflow_db() -> Iterator[None]:
    """A fresh sqlite metadata database for the session."""
    from airflow.utils.db import initdb

    initdb()
    yield
    shutil.rmtree(HOME, ignore_errors=True)
