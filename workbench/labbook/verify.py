"""Re-check a lab notebook's files: every line a record, every record sealed, every link intact.

`verify(files)` re-reads each file (read-only: a torn tail is reported, never moved) and walks
its chain: line N must parse as a JSON object of a known schema version, carry `seq` N-1,
`prev` equal to the hash of line N-1 (None on line 1), and a `hash` equal to `record_hash` of
itself. The first place a file breaks is reported in words: a record was *edited*, records
were *removed*, *reordered* or *inserted*, or a line is *not JSON*. With a git history, a file
shorter than what git has committed has had *committed records removed from the end* (which
the chain alone cannot see: the last line of a truncated file still chains).

Every file a call record names (`prompt.messages[].files[].sha256`) must be stored in the
lab notebook (`files/ab/abcdef...`, see `workbench.labbook.filestore`) with exactly that
hash: a stored file *missing* or *changed* is reported at the first record that names it.

This module reads the files (in worker processes when that pays) and asks git and the file
store; `findings` names a chain's first break and holds the report.
"""

from __future__ import annotations

import gc
import glob
import hashlib
import json
import multiprocessing
import os
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

from workbench.labbook import filestore
from workbench.labbook.findings import (
    EDITED,
    FILE_CHANGED,
    FILE_MISSING,
    INSERTED,
    KNOWN_VERSIONS,
    MISSING,
    NOT_A_RECORD,
    NOT_JSON,
    REMOVED,
    REORDERED,
    TORN,
    TRUNCATED,
    UNKNOWN_VERSION,
    Problem,
    VerifyReport,
    counted,
    first_break,
)

__all__ = [
    "EDITED", "FILE_CHANGED", "FILE_MISSING", "INSERTED", "KNOWN_VERSIONS", "MISSING",
    "NOT_A_RECORD", "NOT_JSON", "PARALLEL_BYTES", "REMOVED", "REORDERED", "TORN", "TRUNCATED",
    "UNKNOWN_VERSION", "CommitHistory", "Problem", "VerifyReport", "verify",
]  # fmt: skip


class CommitHistory(Protocol):
    """What verify and export need from git (`workbench.labbook.git.GitSync` offers it)."""

    def first_commits(self, path: Path) -> list[tuple[str, str]]:
        """Per committed line of `path`, in order: the first commit holding it and its date."""
        ...

    def committed_line_count(self, path: Path) -> int:
        """How many lines of `path` the latest commit holds."""
        ...


def verify(
    files: Iterable[Path], git: CommitHistory | None = None, *, processes: int | None = None
) -> VerifyReport:
    """Re-check every file's chain (and, with `git`, that no committed line was cut off).

    Files are checked side by side in `processes` worker processes; by default one per core
    once there is more than `PARALLEL_BYTES` to read, else in this process. Workers are
    forked, so only a process with no other thread forks them (a CLI command or a script,
    not a Jupyter kernel, whose threads could hold locks a forked child would inherit).
    """
    report = VerifyReport()
    paths = [Path(path) for path in files]
    chains = [path for path in paths if not path.name.endswith(".torn")]
    found = dict(zip(chains, _examine_all(chains, processes), strict=True))
    for path in paths:
        if path.name.endswith(".torn"):
            report.warnings.append(_torn(path))
            continue
        report.files_checked += 1
        for aside in sorted(path.parent.glob(f"{glob.escape(path.name)}.*.torn")):
            report.warnings.append(_torn(aside))
        problem = _check(path, found[path], git, report)
        if problem is not None:
            report.problems.append(problem)
    _check_stored(chains, found, report)
    return report


def _check_stored(chains: list[Path], found: dict[Path, _Chain], report: VerifyReport) -> None:
    """Re-hash each stored file the records name, once; a problem per missing or changed one."""
    seen: set[Path] = set()
    for path in chains:
        root = filestore.root_of(path)
        if root is None:
            continue
        for line, rid, name, sha in found[path].named:
            if not _HEX.fullmatch(sha):
                message = f"record {rid} names {name} by {sha!r}, which is not a sha256"
                report.problems.append(Problem(path, line, rid, FILE_MISSING, message))
                continue
            where = filestore.path_of(root, sha)
            if where in seen:
                continue
            seen.add(where)
            report.stored_checked += 1
            try:
                intact = filestore.digest(where) == sha
            except FileNotFoundError:
                kind, why = FILE_MISSING, "is missing"
            except OSError as e:
                kind, why = FILE_MISSING, f"cannot be read ({e.strerror or e})"
            else:
                if intact:
                    continue
                kind, why = FILE_CHANGED, "was changed (its bytes no longer have that hash)"
            message = (
                f"record {rid} names {name} (sha256 {sha[:12]}…), but "
                f"{filestore.relative(sha)} {why}"
            )
            report.problems.append(Problem(path, line, rid, kind, message))


_HEX = re.compile("[0-9a-f]{64}")


PARALLEL_BYTES = 64 << 20


def _examine_all(paths: list[Path], processes: int | None) -> list[_Chain]:
    """`_examine` each file, in worker processes when that pays."""
    workers = processes if processes is not None else min(len(paths), os.cpu_count() or 1)
    if workers > 1 and processes is None:
        size = sum(path.stat().st_size for path in paths if path.is_file())
        workers = workers if size >= PARALLEL_BYTES else 1
    if workers > 1 and threading.active_count() == 1:
        from concurrent.futures import ProcessPoolExecutor
        from concurrent.futures.process import BrokenProcessPool

        # fork: no re-import of __main__ (spawn and forkserver would re-run a script)
        context = multiprocessing.get_context("fork")
        chunk = max(1, len(paths) // (workers * 8))
        try:
            with ProcessPoolExecutor(workers, mp_context=context) as pool:
                return list(pool.map(_examine, paths, chunksize=chunk))
        except (OSError, BrokenProcessPool):  # no processes here: check in this one
            pass
    return [_examine(path) for path in paths]


def _torn(path: Path) -> Problem:
    size = path.stat().st_size if path.exists() else 0
    return Problem(
        path, None, None, TORN, f"torn tail set aside ({size} bytes): an unfinished write, not data"
    )


@dataclass(frozen=True)
class _Chain:
    """What `_examine` found in one file (sent back by worker processes)."""

    exists: bool
    lines: int = 0
    records: int = 0
    torn: Problem | None = None
    problem: Problem | None = None
    named: tuple[tuple[int, str | None, str, str], ...] = ()
    """(line, record id, file name, sha256) of each stored file a call record names."""


def _examine(path: Path) -> _Chain:
    """Parse one file and walk its chain (no git: that is `_check`'s, in the caller).

    The cyclic GC is paused meanwhile: it would rescan thousands of fresh records, none of
    them garbage (~15 % of verify's CPU).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _examine_file(path)
    finally:
        if enabled:
            gc.enable()


def _examine_file(path: Path) -> _Chain:
    try:
        raw = path.read_bytes().split(b"\n")
    except FileNotFoundError:
        return _Chain(exists=False)
    tail = raw.pop()  # empty when the file ends with a newline
    torn = None
    if tail:
        message = "unterminated last line: an unfinished write, not data"
        torn = Problem(path, len(raw) + 1, None, TORN, message)
    records: list[dict[str, Any] | str] = []
    hashes: list[str | None] = []
    named: list[tuple[int, str | None, str, str]] = []
    for number, line in enumerate(raw, start=1):
        try:
            value = orjson.loads(line)
        except orjson.JSONDecodeError:
            value = None
        quick = _quick_hash(value) if type(value) is dict else None
        records.append(value if quick is not None else _parse(line))
        hashes.append(quick)
        if b'"sha256"' in line and isinstance(records[-1], dict):  # a record naming files
            named += [(number, *ref) for ref in filestore.named(records[-1])]
    count = sum(isinstance(r, dict) for r in records)
    return _Chain(True, len(records), count, torn, first_break(path, records, hashes), tuple(named))


def _check(
    path: Path, found: _Chain, git: CommitHistory | None, report: VerifyReport
) -> Problem | None:
    if not found.exists:
        committed = git.committed_line_count(path) if git else 0
        if committed:
            return Problem(
                path, 1, None, TRUNCATED, f"the file is gone: {counted(committed)} were committed"
            )
        return Problem(path, None, None, MISSING, "the file is missing")
    if found.torn is not None:
        report.warnings.append(found.torn)
    report.records_checked += found.records
    if found.problem is None and git is not None:
        committed = git.committed_line_count(path)
        if committed > found.lines:
            gone = committed - found.lines
            return Problem(
                path,
                found.lines + 1,
                None,
                TRUNCATED,
                f"{counted(gone, 'committed record')} removed from the end "
                f"(git has {counted(committed)}, the file {found.lines})",
            )
    return found.problem


def _parse(line: str | bytes) -> dict[str, Any] | str:
    """The record on a line as json parses it, or why it is none."""
    try:
        value = json.loads(line)
    except ValueError as e:
        return f"is not JSON ({e})"
    return value if isinstance(value, dict) else "is not a JSON object"


_DIGITS = frozenset(b"0123456789")


def _quick_hash(record: dict[str, Any]) -> str | None:
    """`record_hash(record)` through orjson (10x faster), or None when it might differ.

    orjson's sorted, compact output is byte for byte `canonical`'s (strings, keys and their
    order, integers, literals) except for floats below 1e-4, which it writes in full where
    json writes an exponent, and for what it refuses (integers past 64 bits). A record whose
    output holds an exponent or `0.0000`, or that orjson cannot write, is hashed by json.
    Only records orjson parsed come here: json parses NaN and huge integers differently.
    """
    if "hash" not in record:
        return None
    seal = record.pop("hash")  # hashed without it (no copy of the record: put back after)
    try:
        data = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # orjson.JSONEncodeError
        return None
    finally:
        record["hash"] = seal
    if b"0.0000" in data or _exponent(data, b"e-") or _exponent(data, b"e+"):
        return None
    return hashlib.sha256(data).hexdigest()


def _exponent(data: bytes, mark: bytes) -> bool:
    """Whether `mark` stands between two digits (as in 1e-07) anywhere in `data`."""
    at = data.find(mark, 1)
    while at >= 0:
        if data[at - 1] in _DIGITS and data[at + 2 : at + 3] and data[at + 2] in _DIGITS:
            return True
        at = data.find(mark, at + 2)
    return False
