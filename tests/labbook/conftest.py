"""Fixtures for the lab notebook's end-to-end tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.labbook.helpers import new_repo


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A research repository with one commit; the working directory is its root."""
    path = new_repo(tmp_path / "research")
    monkeypatch.chdir(path)
    return path
