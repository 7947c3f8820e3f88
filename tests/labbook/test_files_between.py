"""`files_between`: an export or a frame of a few days reads only the files that can hold them."""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from workbench import log
from workbench.labbook import store
from workbench.labbook.book import files, files_between
from workbench.labbook.chain import SCHEMA_VERSION, new_id
from workbench.labbook.query import load_records

AUTHOR = {"name": "Ada", "email": "ada@example.org"}


def note(ts: str, text: str) -> dict[str, Any]:
    """A note record stamped `ts`."""
    return {
        "v": SCHEMA_VERSION, "id": new_id(), "ts": ts, "kind": "note", "session": "S",
        "author": AUTHOR, "source": "test", "repo_head": None, "data": {"text": text},
    }  # fmt: skip


def session_file(root: Path, folder: str, name: str, stamps: list[str]) -> Path:
    """A session file in `folder` (YYYY/MM/DD) whose mtime is its last record's time."""
    path = root / folder / f"{name}.jsonl"
    store.append_many(path, [note(ts, f"{name} at {ts}") for ts in stamps])
    last = datetime.fromisoformat(stamps[-1].replace("Z", "+00:00")).timestamp()
    os.utime(path, (last, last))
    return path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """Three days; the session started on the 1st runs past midnight into the 2nd."""
    root = tmp_path / "labbook"
    session_file(root, "2026/11/01", "a", ["2026-11-01T09:00:00Z", "2026-11-01T10:00:00Z"])
    session_file(root, "2026/11/01", "late", ["2026-11-01T23:50:00Z", "2026-11-02T00:30:00Z"])
    session_file(root, "2026/11/02", "b", ["2026-11-02T12:00:00Z"])
    session_file(root, "2026/11/03", "c", ["2026-11-03T08:00:00Z", "2026-11-03T09:00:00Z"])
    return root


def names(paths: list[Path]) -> list[str]:
    """The session names of `paths`."""
    return [p.stem for p in paths]


def test_files_outside_the_period_are_left_unread(root: Path) -> None:
    assert names(files_between(root, None, None)) == ["a", "late", "b", "c"]
    # a file of the day after is in doubt (its first record may have waited past midnight)
    assert names(files_between(root, date(2026, 11, 2), date(2026, 11, 2))) == ["late", "b", "c"]
    assert names(files_between(root, None, date(2026, 11, 1))) == ["a", "late", "b"]
    assert names(files_between(root, date(2026, 11, 3), None)) == ["c"]


@pytest.mark.parametrize(
    ("since", "until"),
    [(None, None), ("2026-11-01", "2026-11-01"), ("2026-11-02", "2026-11-02"),
     ("2026-11-02", None), (None, "2026-11-02"), ("2026-11-03", "2026-11-03")],
)  # fmt: skip
def test_an_export_of_a_period_is_the_same_as_from_every_file(
    root: Path, since: str | None, until: str | None
) -> None:
    from workbench.export import export

    everything = export(load_records(files(root)), "jsonl", since=since, until=until)
    assert log.export("jsonl", since=since, until=until, folder=root) == everything
    assert everything.strip(), "each period holds records"
