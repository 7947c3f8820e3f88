"""`recent`: the newest records for `workbench log`, without reading the whole lab notebook."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from workbench.labbook.book import LabBook, recent, records
from workbench.labbook.store import CorruptLine


def session(root: Path, name: str, notes: int) -> Path:
    """A session file of `notes` notes, written now."""
    book = LabBook(root, name, source="test")
    try:
        for i in range(notes):
            book.append("note", data={"text": f"{name} {i}"})
    finally:
        book.close()
    return book.path


@pytest.mark.parametrize("limit", [1, 3, 7, 12, 50])
def test_recent_is_the_tail_of_every_record_in_time_order(tmp_path: Path, limit: int) -> None:
    root = tmp_path / "labbook"
    for name in ("a", "b", "c"):
        session(root, name, 3)  # with its session record: 4 records each
    assert recent(root, limit) == records(root)[-limit:]


def test_files_older_than_what_was_found_are_not_read(tmp_path: Path) -> None:
    root = tmp_path / "labbook"
    old = session(root, "old", 2)
    old.write_bytes(old.read_bytes() + b"{this line is not JSON}\n")
    past = time.time() - 3600
    os.utime(old, (past, past))
    session(root, "new", 5)
    newest = recent(root, 4)
    assert [r["data"]["text"] for r in newest] == ["new 1", "new 2", "new 3", "new 4"]
    with pytest.raises(CorruptLine):  # asking for more does reach the old file
        recent(root, 20)
