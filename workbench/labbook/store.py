"""Append-only JSON Lines files: locked, fsync'd appends, torn-tail recovery, reading back.

Every append takes an exclusive `flock` on the file, so several processes may write one file
at once without interleaving or losing a line; the chain's `prev` is read from the file's
last line under that lock. A line is durable (written, flushed and fsync'd) before `append`
returns. A crash mid-write leaves a last line with no newline: the next writer or reader
moves that torn tail into a `*.torn` file beside it, never mixing it into the data. A file's
first record (a session's facts) is written under the same lock, by whichever writer finds
the file empty.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench.errors import CorruptLine, LabBookUnwritable
from workbench.labbook.chain import dumps, seal

_TAIL_CHUNK = 1 << 16


@dataclass(frozen=True)
class Line:
    """One record as read from a file, with where it was."""

    path: Path
    number: int
    """1-based line number in the file."""
    record: dict[str, Any]


def append(path: Path, record: dict[str, Any]) -> dict[str, Any]:
    """Seal `record` onto the end of the chain in `path` and write it durably; return it."""
    return append_many(path, [record])[0]


def append_many(
    path: Path,
    records: list[dict[str, Any]],
    *,
    header: Callable[[], dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Seal and write several records with one lock and one fsync (a group commit).

    `header` makes the first record of a file: it is called, and its record written before
    `records`, when the file is empty once the lock is held (so of several processes starting
    one file at once, exactly one writes it). The records returned are `records`, sealed.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            set_aside_torn_tail(fd, path)
            last = _last_record(fd, path)
            skip = 0
            if last is None and header is not None:
                records, skip = [header(), *records], 1
            seq = 0 if last is None else int(last["seq"]) + 1
            prev = None if last is None else last["hash"]
            sealed = []
            for offset, record in enumerate(records):
                sealed.append(seal(record, seq + offset, prev))
                prev = sealed[-1]["hash"]
            # After a crash mid-write, whole lines are valid records; a partial last line
            # is a torn tail, set aside by the next open.
            data = memoryview(b"".join(dumps(r) for r in sealed))
            while data:
                data = data[os.write(fd, data) :]
            os.fsync(fd)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
    if created:  # make the new directory entry durable too
        fsync(path.parent)
    return sealed[skip:]


def set_aside_torn_tail(fd: int, path: Path) -> Path | None:
    """Move an unterminated last line into `<file>.torn`; the caller holds the lock."""
    size = os.fstat(fd).st_size
    if size == 0 or os.pread(fd, 1, size - 1) == b"\n":
        return None
    start = _line_start(fd, size)
    torn = os.pread(fd, size - start, start)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    aside = path.with_name(f"{path.name}.{stamp}.torn")
    aside.write_bytes(torn)
    fsync(aside)
    os.ftruncate(fd, start)
    os.fsync(fd)
    return aside


def _last_record(fd: int, path: Path) -> dict[str, Any] | None:
    size = os.fstat(fd).st_size
    if size == 0:
        return None
    end = size - 1  # the file ends with a newline (torn tails were set aside)
    start = _line_start(fd, end)
    line = os.pread(fd, end - start, start)
    try:
        record = json.loads(line)
    except json.JSONDecodeError as e:
        raise CorruptLine(
            path, -1, f"last line is not JSON ({e}); run `workbench log verify`"
        ) from None
    if not isinstance(record, dict) or "hash" not in record or "seq" not in record:
        raise CorruptLine(path, -1, "last line is not a lab notebook record")
    return record


def _line_start(fd: int, end: int) -> int:
    """The offset just after the last newline before `end` (0 if there is none)."""
    start = end
    while start > 0:
        chunk_start = max(0, start - _TAIL_CHUNK)
        newline = os.pread(fd, start - chunk_start, chunk_start).rfind(b"\n")
        if newline >= 0:
            return chunk_start + newline + 1
        start = chunk_start
    return 0


def read(path: Path, *, recover: bool = True) -> Iterator[Line]:
    """Every record in a file, in order; a torn tail is set aside first (or skipped)."""
    if recover and path.exists():
        fd = os.open(path, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                set_aside_torn_tail(fd, path)
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.endswith(b"\n"):
                return  # a torn tail being written right now; not data
            yield Line(path, number, parse_line(path, number, raw))


def parse_line(path: Path, number: int, raw: bytes) -> dict[str, Any]:
    """The record on line `number` of `path`; CorruptLine when the line holds no record."""
    try:
        record = json.loads(raw)
    except json.JSONDecodeError as e:
        raise CorruptLine(path, number, f"not JSON ({e})") from None
    if not isinstance(record, dict):
        raise CorruptLine(path, number, "not a JSON object")
    return record


def make_folder(path: Path) -> None:
    """Create the folder `path` and check that a file can be written in it.

    Raises LabBookUnwritable (one line: where, why, what to do) when it cannot: a file is in
    the way, a parent is a file, or the permissions forbid it.
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".workbench-probe-", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise unwritable(path, e) from None


def unwritable(path: Path, error: OSError) -> LabBookUnwritable:
    """The one-line error for a lab notebook folder or file that cannot be written."""
    if isinstance(error, FileExistsError | NotADirectoryError):
        why = "a file is in the way"
    else:
        why = error.strerror or type(error).__name__
    where = f" ({error.filename})" if error.filename and str(error.filename) != str(path) else ""
    return LabBookUnwritable(
        f"the lab notebook at {path} cannot be written: {why}{where}; choose another folder "
        "with [labbook] path in workbench.toml or $WORKBENCH_LABBOOK, or make it writable"
    )


def fsync(path: Path) -> None:
    """Flush a file or a directory entry to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
