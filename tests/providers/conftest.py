"""Fixtures every provider's tests share."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``tmp_path`` as the working folder (where a run writes ``data/``)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path
