"""Audit tests share one matplotlib cache (HOME is fresh in every test; the font cache is slow)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def _matplotlib_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("matplotlib")


@pytest.fixture(autouse=True)
def shared_matplotlib_cache(_matplotlib_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MPLCONFIGDIR", str(_matplotlib_cache))
