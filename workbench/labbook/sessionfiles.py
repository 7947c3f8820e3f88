"""A lab notebook's session files: where each is, which to read, and their records read back."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from workbench.labbook import store


def session_file(root: Path, day: datetime, session: str) -> Path:
    """Where a session that starts on `day` writes: `<root>/YYYY/MM/DD/<session>.jsonl`."""
    return root / f"{day:%Y}" / f"{day:%m}" / f"{day:%d}" / f"{session}.jsonl"


def files(root: Path) -> list[Path]:
    """Every session file under a lab notebook's root, oldest folder first."""
    return sorted(root.glob("[0-9][0-9][0-9][0-9]/[0-9][0-9]/[0-9][0-9]/*.jsonl"))


def lines(root: Path) -> Iterator[store.Line]:
    """Every record of every session, file by file, with where it was."""
    for path in files(root):
        yield from store.read(path)


def files_between(root: Path, since: date | None, until: date | None) -> list[Path]:
    """The session files that can hold records of the days since..until (UTC, inclusive).

    A file holds nothing from before the day of its folder (give or take the instant its
    first record waited to be written), and nothing from after it was last modified.
    Both tests only ever keep a file in doubt: a clone's checkout makes mtimes newer.
    """
    start = None if since is None else datetime.combine(since, time(), UTC).timestamp()
    kept = []
    for path in files(root):
        folder = date(int(path.parent.parent.parent.name), int(path.parent.parent.name),
                      int(path.parent.name))  # fmt: skip
        if until is not None and folder > until + timedelta(days=1):
            continue
        if start is not None and path.stat().st_mtime < start:
            continue
        kept.append(path)
    return kept


def recent(
    root: Path, limit: int, keep: Callable[[dict[str, Any]], bool] | None = None
) -> list[dict[str, Any]]:
    """The `limit` newest records (that `keep` accepts), oldest first, reading few files.

    Files are read newest-modified first; once `limit` records are in hand, a file last
    modified before the oldest of them cannot hold a newer one, so the search stops.
    """
    found = recent_within(root, limit, keep, budget=None)
    assert found is not None  # no budget: read as far as needed
    return found


def recent_within(
    root: Path, limit: int, keep: Callable[[dict[str, Any]], bool] | None, budget: int | None
) -> list[dict[str, Any]] | None:
    """`recent`, or None once more than `budget` bytes of files were read without the answer."""
    stamped = sorted(((p.stat(), p) for p in files(root)), key=lambda s: s[0].st_mtime)
    kept: list[dict[str, Any]] = []
    spent = 0
    for stat, path in reversed(stamped):
        if len(kept) >= limit:
            oldest = datetime.fromisoformat(str(kept[0]["ts"]))
            if stat.st_mtime < oldest.timestamp():
                break
        spent += stat.st_size
        if budget is not None and spent > budget:
            return None
        found = (line.record for line in store.read(path))
        kept.extend(found if keep is None else filter(keep, found))
        kept.sort(key=in_time_order)
        kept = kept[-limit:]
    return kept


def records(root: Path) -> list[dict[str, Any]]:
    """Every record of every session, in time order."""
    return sorted((line.record for line in lines(root)), key=in_time_order)


def in_time_order(record: dict[str, Any]) -> tuple[Any, ...]:
    """The sort key of records read back: time, then session, then place in its chain."""
    return (record["ts"], record["session"], record["seq"])
