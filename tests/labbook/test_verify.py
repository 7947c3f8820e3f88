"""verify() on real lab notebooks, tampered with the ways a person or a crash would."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.labbook.test_query import call
from workbench.labbook import store
from workbench.labbook.book import LabBook
from workbench.labbook.chain import dumps, record_hash, seal
from workbench.labbook.verify import (
    EDITED,
    INSERTED,
    MISSING,
    NOT_A_RECORD,
    NOT_JSON,
    REMOVED,
    REORDERED,
    TORN,
    TRUNCATED,
    UNKNOWN_VERSION,
    CommitHistory,
    Problem,
    VerifyReport,
    verify,
)


def write_session(root: Path, session: str, calls: int = 5) -> Path:
    """A session file of 1 + calls + 2 lines: session record, calls, a decision, a note."""
    book = LabBook(root, session, source="test", git=None)
    try:
        made = [
            call(book, "gpt", "openai:gpt-4o", f"question {i}", f"answer {i}") for i in range(calls)
        ]
        book.decide("pick", [made[0]["id"], made[1]["id"]], choice=made[0]["id"], reason="better")
        book.note("a note", on=[made[-1]["id"]])
        return book.path
    finally:
        book.close()


@pytest.fixture
def path() -> Path:
    return write_session(Path.cwd() / "labbook", "S")


def read(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def record(line: bytes) -> dict[str, Any]:
    value = json.loads(line)
    assert isinstance(value, dict)
    return value


def write(path: Path, lines: list[bytes]) -> None:
    path.write_bytes(b"".join(lines))


def only_problem(report: VerifyReport) -> Problem:
    assert not report.ok
    assert len(report.problems) == 1, report.summary()
    return report.problems[0]


@dataclass
class History:
    """A stand-in for the git layer: how many lines of each file are committed."""

    committed: int

    def first_commits(self, path: Path) -> list[tuple[str, str]]:
        return [("c0ffee" * 6 + "abcd", "2026-11-25T10:00:00+00:00")] * self.committed

    def committed_line_count(self, path: Path) -> int:
        return self.committed


def test_an_untouched_book_verifies(path: Path) -> None:
    other = write_session(path.parent.parent.parent.parent, "T", calls=2)
    report = verify([path, other])
    assert report.ok and report.problems == [] and report.warnings == []
    assert (report.files_checked, report.records_checked) == (2, 8 + 5)
    assert report.summary() == "ok: 13 records in 2 files, every chain intact"
    history: CommitHistory = History(committed=8)
    assert verify([path], history).ok


def test_an_edited_line_is_named_with_its_file_line_and_record(path: Path) -> None:
    lines = read(path)
    target = record(lines[3])
    lines[3] = lines[3].replace(b'"text":"answer 2"', b'"text":"answer 2, improved"')
    write(path, lines)
    problem = only_problem(verify([path]))
    assert (problem.path, problem.line, problem.record_id, problem.kind) == (
        path,
        4,
        target["id"],
        EDITED,
    )
    shown = path.relative_to(Path.cwd())  # e.g. labbook/2026/11/25/S.jsonl
    assert str(problem) == f"{shown}:4: record {target['id']} was edited (hash mismatch)"
    assert verify([path]).summary().startswith(str(problem) + "\n")
    assert (
        verify([path])
        .summary()
        .endswith("FAILED: 1 file with problems (8 records in 1 file checked)")
    )


def test_an_edit_that_recomputes_the_hash_is_still_caught(path: Path) -> None:
    lines = read(path)
    forged = record(lines[3])
    forged["reply"]["text"] = "a better answer"
    forged["hash"] = record_hash(forged)
    lines[3] = dumps(forged)
    write(path, lines)
    problem = only_problem(verify([path]))
    assert (problem.line, problem.record_id, problem.kind) == (4, forged["id"], EDITED)
    assert "re-hashed" in problem.message


def test_a_removed_middle_line(path: Path) -> None:
    lines = read(path)
    after = record(lines[4])
    del lines[3]
    write(path, lines)
    problem = only_problem(verify([path]))
    assert (problem.line, problem.record_id, problem.kind) == (4, after["id"], REMOVED)
    assert problem.message.startswith(f"1 record removed before record {after['id']}")


def test_removed_first_lines(path: Path) -> None:
    lines = read(path)
    write(path, lines[2:])
    problem = only_problem(verify([path]))
    assert (problem.line, problem.record_id, problem.kind) == (1, record(lines[2])["id"], REMOVED)
    assert problem.message.startswith("2 records removed")


def test_swapped_lines(path: Path) -> None:
    lines = read(path)
    lines[2], lines[3] = lines[3], lines[2]
    write(path, lines)
    problem = only_problem(verify([path]))
    assert (problem.line, problem.record_id, problem.kind) == (3, record(lines[2])["id"], REORDERED)
    assert "belongs after line 4" in problem.message


def test_a_line_moved_far_back(path: Path) -> None:
    lines = read(path)
    lines.insert(1, lines.pop(6))
    write(path, lines)
    problem = only_problem(verify([path]))
    assert (problem.line, problem.kind) == (2, REORDERED)


def forge_chained(lines: list[bytes], after: int) -> bytes:
    """A new record that chains perfectly onto line `after` (1-based), hash and all."""
    base = record(lines[after - 1])
    fake = {k: v for k, v in record(lines[after]).items() if k not in ("seq", "prev", "hash")}
    fake["id"] = "01FORGEDFORGEDFORGEDFORGED"
    return dumps(seal(fake, base["seq"] + 1, base["hash"]))


def forge_garbage(lines: list[bytes], after: int) -> bytes:
    fake = record(lines[after])
    fake["id"], fake["hash"] = "01FORGEDFORGEDFORGEDFORGED", "0" * 64
    return dumps(fake)


@pytest.mark.parametrize("forge", [forge_chained, forge_garbage])
def test_an_inserted_forged_line(path: Path, forge: Any) -> None:
    lines = read(path)
    lines.insert(3, forge(lines, 3))
    write(path, lines)
    problem = only_problem(verify([path]))
    assert (problem.line, problem.record_id, problem.kind) == (
        4,
        "01FORGEDFORGEDFORGEDFORGED",
        INSERTED,
    )


def test_an_inserted_first_line(path: Path) -> None:
    lines = read(path)
    fake = {**record(lines[1]), "id": "01FORGEDFORGEDFORGEDFORGED"}
    write(path, [dumps(seal(fake, 0, None)), *lines])
    problem = only_problem(verify([path]))
    assert (problem.line, problem.record_id, problem.kind) == (1, fake["id"], INSERTED)


def test_a_duplicated_line(path: Path) -> None:
    lines = read(path)
    lines.insert(5, lines[2])
    write(path, lines)
    problem = only_problem(verify([path]))
    assert (problem.line, problem.kind) == (6, INSERTED)
    assert "repeats line 3" in problem.message


def test_a_line_that_is_not_json(path: Path) -> None:
    lines = read(path)
    lines[4] = b'{"v":1,"id": broken\n'
    write(path, lines)
    problem = only_problem(verify([path]))
    assert (problem.line, problem.record_id, problem.kind) == (5, None, NOT_JSON)
    assert problem.message.startswith("line 5 is not JSON")
    lines[4] = b'["a list"]\n'
    write(path, lines)
    assert only_problem(verify([path])).message == "line 5 is not a JSON object"


def test_a_line_that_is_not_utf_8(path: Path) -> None:
    lines = read(path)
    lines[4] = lines[4].replace(b"question 3", b"question \xff")
    write(path, lines)
    problem = only_problem(verify([path]))
    assert (problem.line, problem.kind) == (5, NOT_JSON)


def test_an_unknown_schema_version(path: Path) -> None:
    lines = read(path)
    newer = {**record(lines[2]), "v": 99}
    newer["hash"] = record_hash(newer)
    lines[2] = dumps(newer)
    write(path, lines)
    problem = only_problem(verify([path]))
    assert (problem.line, problem.record_id, problem.kind) == (3, newer["id"], UNKNOWN_VERSION)


def test_a_line_without_a_hash(path: Path) -> None:
    lines = read(path)
    bare = record(lines[2])
    del bare["hash"]
    lines[2] = dumps(bare)
    write(path, lines)
    assert (only_problem(verify([path])).line, only_problem(verify([path])).kind) == (
        3,
        NOT_A_RECORD,
    )


def test_committed_records_cut_from_the_end(path: Path) -> None:
    lines = read(path)
    write(path, lines[:-2])
    assert verify([path]).ok  # the chain alone cannot see it
    problem = only_problem(verify([path], History(committed=8)))
    assert (problem.path, problem.line, problem.record_id, problem.kind) == (
        path,
        7,
        None,
        TRUNCATED,
    )
    assert (
        problem.message == "2 committed records removed from the end (git has 8 lines, the file 6)"
    )
    assert verify([path], History(committed=6)).ok  # uncommitted lines may come and go


def test_a_missing_file(path: Path) -> None:
    path.unlink()
    assert only_problem(verify([path])).kind == MISSING
    assert only_problem(verify([path], History(committed=3))).kind == TRUNCATED


def test_torn_tails_are_warnings_not_data(path: Path) -> None:
    before = path.read_bytes()
    path.write_bytes(before + b'{"v":1,"id":"01HALF')
    report = verify([path])
    assert report.ok and report.records_checked == 8
    assert [(w.line, w.kind) for w in report.warnings] == [(9, TORN)]
    assert path.read_bytes() == before + b'{"v":1,"id":"01HALF'  # verify only reads
    list(store.read(path))  # the next reader sets it aside
    aside = list(path.parent.glob("*.torn"))
    assert len(aside) == 1 and path.read_bytes() == before
    report = verify([path])
    assert report.ok and [(w.path, w.line, w.kind) for w in report.warnings] == [
        (aside[0], None, TORN)
    ]
    assert report.summary().startswith(f"warning: {aside[0].relative_to(Path.cwd())}: torn tail")
    passed_directly = verify([aside[0]])
    assert (
        passed_directly.ok
        and passed_directly.files_checked == 0
        and len(passed_directly.warnings) == 1
    )


def test_each_file_reports_its_first_problem(path: Path) -> None:
    other = write_session(path.parent.parent.parent.parent, "T", calls=3)
    lines = read(path)
    lines[2] = lines[2].replace(b"question 1", b"question one")
    lines[5] = lines[5].replace(b"question 4", b"question four")
    write(path, lines)
    more = read(other)
    del more[2]
    write(other, more)
    report = verify([path, other])
    assert [(p.path, p.line, p.kind) for p in report.problems] == [
        (path, 3, EDITED),
        (other, 3, REMOVED),
    ]
    assert len(report.summary().splitlines()) == 3
