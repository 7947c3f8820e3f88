"""A cache of what `read_frame` builds from each session file, so a big lab notebook loads fast.

Session files only ever grow, so the columns parsed from a file stay right while it grows.
Each file's columns are pickled in the user's own cache folder
(`$XDG_CACHE_HOME/workbench/frames/<hash of the lab notebook's root>/YYYY/MM/DD/`, mode 0700),
never inside the lab notebook: a pickle can run code when loaded, so an entry must never
arrive by git or from a folder other users can write. Each entry holds the file's device,
inode, size and mtime, and its first and last parsed lines. The next load uses them as they
are when the file is unchanged; when it has grown and those two lines are still where they
were, only the new lines are parsed and the entry extended. Anything else (a shrink, an edit
that changed size or mtime without growing, another inode, an unreadable entry) rebuilds the
entry from the file.

The cache only speeds up `read_frame`: `verify` always re-hashes the raw bytes, and
`load_records` always parses them. Only files laid out as `<root>/YYYY/MM/DD/<name>.jsonl`
are cached; a folder that cannot be written is simply not cached.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

FORMAT = 8
"""Bump when what is cached changes shape: older entries are then rebuilt."""
_PROBE = 512
"""Bytes of the first and last parsed lines kept to recognise the file's start and end."""


@dataclass
class Entry:
    """One file's cached columns and what they were parsed from."""

    format: str
    """`FORMAT` and the caller's version (of the libraries whose objects are cached)."""
    dev: int
    ino: int
    size: int
    """The file's size when last seen."""
    mtime_ns: int
    end: int
    """Bytes parsed: everything up to and including the last newline."""
    count: int
    """Lines parsed."""
    head: bytes
    tail: bytes
    columns: Any


def location(path: Path) -> Path | None:
    """Where `path`'s entry lives, or None when it is not a dated session file."""
    day, month, year = path.parent, path.parent.parent, path.parent.parent.parent
    dated = (len(year.name), len(month.name), len(day.name)) == (4, 2, 2)
    if not dated or not (year.name + month.name + day.name).isdigit():
        return None
    return folder_for(year.parent) / year.name / month.name / day.name / f"{path.name}.pickle"


def folder_for(root: Path) -> Path:
    """The cache folder of the lab notebook at `root` (delete it to start cold)."""
    key = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:24]
    return cache_home() / "frames" / key


def cache_home() -> Path:
    """The user's cache folder for the workbench (`$XDG_CACHE_HOME/workbench`)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "workbench"


def columns(
    path: Path,
    parse: Callable[[bytes, int], T],
    extend: Callable[[T, T], T],
    version: str = "",
) -> T:
    """`path`'s columns, from the cache where it is valid.

    `parse(body, first)` turns complete lines (each with its newline, so one empty line is
    not taken for none; empty for none) into columns; `first` is the 1-based number of the
    first line. `extend(old, new)` appends the columns of new lines to old ones. An entry
    made under another `version` (say, of the libraries whose objects the columns hold) is
    rebuilt.
    """
    where = location(path)
    stamp = f"{FORMAT}/{version}"
    with open(path, "rb") as handle:
        stat = os.fstat(handle.fileno())
        entry = _load(where, stat, stamp) if where is not None else None
        if entry is not None and (entry.size, entry.mtime_ns) == (stat.st_size, stat.st_mtime_ns):
            return entry.columns  # type: ignore[no-any-return]
        start = 0
        if entry is not None and stat.st_size > entry.size and _unchanged(handle, entry):
            start = entry.end
        handle.seek(start)
        data = handle.read(stat.st_size - start)  # never past the size the key records
    end = data.rfind(b"\n")
    if start:
        assert entry is not None
        found: T = entry.columns
        if end >= 0:  # else only a torn tail was added
            found = extend(found, parse(data[: end + 1], entry.count + 1))
        head, base, last = entry.head, entry.count, entry.tail
    else:
        found = parse(data[: end + 1], 1)
        head, base, last = data[: min(_PROBE, end + 1)], 0, b""
    count = data.count(b"\n", 0, end + 1)
    covered = start + end + 1
    tail = data[max(0, end + 1 - _PROBE) : end + 1] if end >= 0 else last
    if where is not None:
        _save(
            where,
            Entry(stamp, stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns,
                  covered, base + count, head, tail, found),
        )  # fmt: skip
    return found


def _load(where: Path, stat: os.stat_result, stamp: str) -> Entry | None:
    try:
        with open(where, "rb") as handle:
            if os.fstat(handle.fileno()).st_uid != os.getuid():
                return None  # only ever unpickle what this user wrote
            entry = pickle.load(handle)
    except Exception:  # a missing, partial or foreign entry: rebuilt
        return None
    if not isinstance(entry, Entry) or entry.format != stamp:
        return None
    if (entry.dev, entry.ino) != (stat.st_dev, stat.st_ino) or entry.size > stat.st_size:
        return None
    return entry


def _unchanged(handle: Any, entry: Entry) -> bool:
    """Whether the first and last parsed lines are still where they were."""
    handle.seek(0)
    if handle.read(len(entry.head)) != entry.head:
        return False
    handle.seek(entry.end - len(entry.tail))
    return bool(handle.read(len(entry.tail)) == entry.tail)


def _save(where: Path, entry: Entry) -> None:
    """Write the entry atomically; a folder that cannot be written is not cached."""
    try:
        home = cache_home()
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        where.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=where.parent, prefix=f".{where.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                pickle.dump(entry, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(temp, where)
        except BaseException:
            os.unlink(temp)
            raise
    except OSError:
        pass
