"""Each widget test gets a fresh default session, whose lab notebook is in its tmp folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.sessions import Session, reset_session


@pytest.fixture(autouse=True)
def fresh_session(isolated: Path) -> Iterator[Session]:
    """`wb.panel()` and `wb.log` use a session opened inside this test's isolated HOME."""
    session = reset_session()
    try:
        yield session
    finally:
        session.close()
