"""Re-check a lab notebook's files: every line a record, every record sealed, every link intact.

`verify(files)` re-reads each file (read-only: a torn tail is reported, never moved) and walks
its chain: line N must parse as a JSON object of a known schema version, carry `seq` N-1,
`prev` equal to the hash of line N-1 (None on line 1), and a `hash` equal to `record_hash` of
itself. The first place a file breaks is reported in words: a record was *edited*, records
were *removed*, *reordered* or *inserted*, or a line is *not JSON*. With a git history, a file
shorter than what git has committed has had *committed records removed from the end* (which
the chain alone cannot see: the last line of a truncated file still chains).
"""

from __future__ import annotations

import glob
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from workbench.labbook.chain import SCHEMA_VERSION, record_hash

EDITED = "edited"
REMOVED = "removed"
REORDERED = "reordered"
INSERTED = "inserted"
NOT_JSON = "not JSON"
NOT_A_RECORD = "not a record"
UNKNOWN_VERSION = "unknown version"
TRUNCATED = "committed records removed from the end"
MISSING = "missing"
TORN = "torn tail"
"""A warning: an unfinished write set aside (or about to be), not data."""

KNOWN_VERSIONS = frozenset(range(1, SCHEMA_VERSION + 1))


class CommitHistory(Protocol):
    """What verify and export need from git (`workbench.labbook.git.GitSync` offers it)."""

    def first_commits(self, path: Path) -> list[tuple[str, str]]:
        """Per committed line of `path`, in order: the first commit holding it and its date."""
        ...

    def committed_line_count(self, path: Path) -> int:
        """How many lines of `path` the latest commit holds."""
        ...


@dataclass(frozen=True)
class Problem:
    """One finding: where, which record, what kind, and what is wrong in words."""

    path: Path
    line: int | None
    record_id: str | None
    kind: str
    message: str

    def __str__(self) -> str:
        where = _shown(self.path) if self.line is None else f"{_shown(self.path)}:{self.line}"
        return f"{where}: {self.message}"


@dataclass
class VerifyReport:
    """What `verify` found: at most one problem per file (its first), and warnings."""

    files_checked: int = 0
    records_checked: int = 0
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every file's chain is intact (warnings do not count)."""
        return not self.problems

    def summary(self) -> str:
        """One line per problem, then one per warning, then the verdict."""
        lines = [str(p) for p in self.problems] + [f"warning: {w}" for w in self.warnings]
        checked = (
            f"{self.records_checked} record{'s' * (self.records_checked != 1)} in "
            f"{self.files_checked} file{'s' * (self.files_checked != 1)}"
        )
        if self.ok:
            lines.append(f"ok: {checked}, every chain intact")
        else:
            bad = len(self.problems)
            lines.append(f"FAILED: {bad} file{'s' * (bad != 1)} with problems ({checked} checked)")
        return "\n".join(lines)


def verify(files: Iterable[Path], git: CommitHistory | None = None) -> VerifyReport:
    """Re-check every file's chain (and, with `git`, that no committed line was cut off)."""
    report = VerifyReport()
    for path in files:
        path = Path(path)
        if path.name.endswith(".torn"):
            report.warnings.append(_torn(path))
            continue
        report.files_checked += 1
        for aside in sorted(path.parent.glob(f"{glob.escape(path.name)}.*.torn")):
            report.warnings.append(_torn(aside))
        problem = _check(path, git, report)
        if problem is not None:
            report.problems.append(problem)
    return report


def _torn(path: Path) -> Problem:
    size = path.stat().st_size if path.exists() else 0
    return Problem(
        path, None, None, TORN, f"torn tail set aside ({size} bytes): an unfinished write, not data"
    )


def _check(path: Path, git: CommitHistory | None, report: VerifyReport) -> Problem | None:
    if not path.exists():
        committed = git.committed_line_count(path) if git else 0
        if committed:
            return Problem(
                path, 1, None, TRUNCATED, f"the file is gone: {_lines(committed)} were committed"
            )
        return Problem(path, None, None, MISSING, "the file is missing")
    data = path.read_bytes()
    try:  # parsing str lines is far faster than bytes ones (no decode per line)
        raw: list[str] | list[bytes] = data.decode("utf-8").split("\n")
    except UnicodeDecodeError:  # parse bytes, so the bad line is the one reported
        raw = data.split(b"\n")
    tail = raw.pop()  # empty when the file ends with a newline
    if tail:
        report.warnings.append(
            Problem(
                path,
                len(raw) + 1,
                None,
                TORN,
                "unterminated last line: an unfinished write, not data",
            )
        )
    records: list[dict[str, Any] | str] = [_parse(line) for line in raw]
    report.records_checked += sum(isinstance(r, dict) for r in records)
    problem = _walk(path, records)
    if problem is None and git is not None:
        committed = git.committed_line_count(path)
        if committed > len(records):
            gone = committed - len(records)
            return Problem(
                path,
                len(records) + 1,
                None,
                TRUNCATED,
                f"{_lines(gone, 'committed record')} removed from the end "
                f"(git has {_lines(committed)}, the file {len(records)})",
            )
    return problem


def _parse(line: str | bytes) -> dict[str, Any] | str:
    """The record on a line, or why it is none."""
    try:
        value = json.loads(line)
    except ValueError as e:
        return f"is not JSON ({e})"
    return value if isinstance(value, dict) else "is not a JSON object"


def _walk(path: Path, records: list[dict[str, Any] | str]) -> Problem | None:
    """The first break in the chain, or None."""
    prev: str | None = None
    for i, record in enumerate(records):
        if isinstance(record, str):
            return Problem(path, i + 1, None, NOT_JSON, f"line {i + 1} {record}")
        rid = record.get("id")
        if record.get("v") not in KNOWN_VERSIONS:
            message = f"record {rid} has unknown schema version {record.get('v')!r}"
            return Problem(path, i + 1, _text(rid), UNKNOWN_VERSION, message)
        if not _shaped(record):
            message = f"record {rid} lacks a proper id, seq, prev or hash"
            return Problem(path, i + 1, _text(rid), NOT_A_RECORD, message)
        intact = record_hash(record) == record["hash"]
        if intact and record["seq"] == i and record["prev"] == prev:
            prev = record["hash"]
            continue
        return _classify(path, records, i, prev, intact)
    return None


def _shaped(record: dict[str, Any]) -> bool:
    seq, prev = record.get("seq"), record.get("prev")
    return (
        isinstance(record.get("id"), str)
        and isinstance(seq, int)
        and not isinstance(seq, bool)
        and (prev is None or isinstance(prev, str))
        and isinstance(record.get("hash"), str)
    )


def _classify(
    path: Path, records: list[dict[str, Any] | str], i: int, prev: str | None, intact: bool
) -> Problem:
    """Name the break at index `i`: records[:i] chain correctly and end in `prev`."""
    record = records[i]
    assert isinstance(record, dict)
    rid, seq, back = record["id"], record["seq"], record["prev"]
    first: dict[str, int] = {}  # hash -> index of its first line
    for j, r in enumerate(records):
        if isinstance(r, dict) and isinstance(r.get("hash"), str):
            first.setdefault(r["hash"], j)
    at = first.get(back) if back is not None else -1  # -1: the start of the chain
    after = records[i + 1] if i + 1 < len(records) else None

    def problem(index: int, kind: str, message: str) -> Problem:
        target = records[index]
        target_id = _text(target.get("id")) if isinstance(target, dict) else None
        return Problem(path, index + 1, target_id, kind, message)

    if intact and first.get(record["hash"], i) < i:
        copy = first[record["hash"]] + 1
        return problem(i, INSERTED, f"record {rid} was inserted: it repeats line {copy}")
    if intact and at is not None and at > i:
        return problem(
            i,
            REORDERED,
            f"record {rid} is out of order: it belongs after line {at + 1} (seq {seq})",
        )
    if isinstance(after, dict) and after.get("prev") == prev and after.get("seq") == i:
        return problem(
            i, INSERTED, f"record {rid} was inserted: line {i + 2} chains to the line before it"
        )
    if not intact:
        return problem(i, EDITED, f"record {rid} was edited (hash mismatch)")
    if at is not None and at < i - 1:
        follows = f"chains to line {at + 1}" if at >= 0 else "starts the chain"
        return problem(
            at + 1,
            INSERTED,
            f"record {_id(records[at + 1])} was inserted: {_lines(i - 1 - at)} not in the "
            f"chain (line {i + 1} {follows})",
        )
    if back is not None and at is None and seq > i:
        gone = seq - i
        before = f"after seq {i - 1}" if i else "at the start"
        return problem(
            i,
            REMOVED,
            f"{_lines(gone, 'record')} removed before record {rid} "
            f"(seq {seq} {before}; its prev matches no record in the file)",
        )
    if i > 0 and back is not None and at is None and seq == i:
        return problem(
            i - 1,
            EDITED,
            f"record {_id(records[i - 1])} was edited and re-hashed "
            f"(the next record's prev no longer matches it)",
        )
    if seq < i:
        return problem(i, REORDERED, f"record {rid} is out of order (seq {seq} at line {i + 1})")
    return problem(
        i, EDITED, f"record {rid} was edited (seq {seq} or prev does not fit line {i + 1})"
    )


def _id(record: dict[str, Any] | str) -> str | None:
    return _text(record.get("id")) if isinstance(record, dict) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _lines(count: int, noun: str = "line") -> str:
    return f"{count} {noun}{'s' * (count != 1)}"


def _shown(path: Path) -> str:
    """The path relative to the working directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)
