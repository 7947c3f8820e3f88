"""What verify finds: the first break of a chain named in words, each `Problem`, the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
FILE_MISSING = "stored file missing"
FILE_CHANGED = "stored file changed"
TORN = "torn tail"
"""A warning: an unfinished write set aside (or about to be), not data."""

KNOWN_VERSIONS = frozenset(range(1, SCHEMA_VERSION + 1))


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
    stored_checked: int = 0
    """Stored files (images, PDFs, text sent with prompts) re-hashed."""
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
        if self.stored_checked:
            checked += f" and {counted(self.stored_checked, 'stored file')}"
        if self.ok:
            lines.append(f"ok: {checked}, every chain intact")
        else:
            bad = len(self.problems)
            lines.append(f"FAILED: {bad} file{'s' * (bad != 1)} with problems ({checked} checked)")
        return "\n".join(lines)


def counted(count: int, noun: str = "line") -> str:
    """`count` and `noun`, plural when it is not 1: "1 line", "3 lines"."""
    return f"{count} {noun}{'s' * (count != 1)}"


def _shown(path: Path) -> str:
    """The path relative to the working directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(path)


def first_break(
    path: Path, records: list[dict[str, Any] | str], hashes: list[str | None]
) -> Problem | None:
    """The first break in the chain, or None; `hashes` holds `_quick_hash`es where known."""
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
        intact = (hashes[i] or record_hash(record)) == record["hash"]
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
            f"record {_id(records[at + 1])} was inserted: {counted(i - 1 - at)} not in the "
            f"chain (line {i + 1} {follows})",
        )
    if back is not None and at is None and seq > i:
        gone = seq - i
        before = f"after seq {i - 1}" if i else "at the start"
        return problem(
            i,
            REMOVED,
            f"{counted(gone, 'record')} removed before record {rid} "
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
