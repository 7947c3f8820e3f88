"""verify's fast paths: orjson hashes as canonical json does; forked workers as one process.

Records with the values where orjson and json write differently are sealed by the real store,
then verified (intact) and edited by one character (caught). Parallel verify runs in a fresh
interpreter (workers are forked only from a process with no other thread, which a pytest
process need not be), counting forks with an audit hook, and must report exactly what a
single process reports.
"""

from __future__ import annotations

import json
import os
import random
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.labbook.test_query import call
from workbench.labbook import store
from workbench.labbook.book import LabBook
from workbench.labbook.chain import dumps, new_id, record_hash, seal
from workbench.labbook.verify import EDITED, MISSING, PARALLEL_BYTES, REMOVED, TORN, verify
from workbench.labbook.verify import _quick_hash as quick_hash

# (name, value, its JSON in the file, a one-character edit of that, orjson must hash it)
TRICKY: list[tuple[str, Any, bytes, bytes, bool]] = [
    ("2.5e-05", 2.5e-05, b"2.5e-05", b"2.6e-05", False),
    ("1e-7", 1e-7, b"1e-07", b"1e-08", False),
    ("1e20", 1e20, b"1e+20", b"1e+21", False),
    ("1e16", 1e16, b"1e+16", b"1e+17", False),
    ("0.0001", 0.0001, b"0.0001", b"0.0002", True),
    ("0.1", 0.1, b"0.1", b"0.2", True),
    ("-0.0", -0.0, b"-0.0", b" 0.0", True),
    ("u64 max", 2**64 - 1, b"18446744073709551615", b"18446744073709551614", True),
    ("i64 min", -(2**63), b"-9223372036854775808", b"-9223372036854775807", True),
    ("past 64 bits", 2**70, b"1180591620717411303424", b"1180591620717411303425", False),
    ("below i64", -(2**63) - 1, b"-9223372036854775809", b"-9223372036854775808", False),
    ("non-ASCII", "naïve café, Ωμέγα", "café".encode(), "cafè".encode(), True),
    ("emoji", "lab 🧪 launch 🚀", "🚀".encode(), "🛸".encode(), True),
    ("controls", "tab\tline\nbell\x07del\x7f\u2028", b"bell", b"bull", True),
    (
        "nested, unsorted",
        {"z": {"b": 1, "a": [{"y": 0.5, "c": "é"}]}, "\ufffd": 1, "😀": 2, "Z": None},
        b'"b":1',
        b'"b":2',
        True,
    ),
]


def note(session: str, value: Any) -> dict[str, Any]:
    return {
        "v": 1,
        "id": new_id(),
        "ts": "2026-11-25T10:00:00Z",
        "kind": "note",
        "session": session,
        "data": {"text": "t", "x": value},
    }


@pytest.mark.parametrize(
    ("value", "token", "edited", "fast"), [t[1:] for t in TRICKY], ids=[t[0] for t in TRICKY]
)
def test_tricky_values_verify_and_a_one_character_edit_is_caught(
    value: Any, token: bytes, edited: bytes, fast: bool
) -> None:
    path = Path.cwd() / "labbook" / "2026" / "11" / "25" / "S.jsonl"
    written = store.append_many(path, [note("S", 1), note("S", value), note("S", "after")])
    lines = path.read_bytes().splitlines(keepends=True)
    for line in lines:
        quick, canonical = quick_hash(orjson.loads(line)), record_hash(json.loads(line))
        assert quick in (None, canonical)
    if fast:  # the orjson path is the one compared (elsewhere, json's may be)
        assert quick_hash(orjson.loads(lines[1])) is not None
    report = verify([path])
    assert report.ok and report.records_checked == 3, report.summary()
    at = lines[1].index(token, lines[1].index(b'"x":'))
    assert len(token) == len(edited)
    lines[1] = lines[1][:at] + edited + lines[1][at + len(token) :]
    path.write_bytes(b"".join(lines))
    report = verify([path])
    assert [(p.line, p.record_id, p.kind) for p in report.problems] == [
        (2, written[1]["id"], EDITED)
    ]


def test_orjson_hashes_agree_with_json_on_random_values() -> None:
    rng = random.Random(20261126)
    values: list[Any] = []
    for _ in range(3000):
        bits = struct.unpack("<d", rng.getrandbits(64).to_bytes(8, "little"))[0]
        if bits == bits and abs(bits) != float("inf"):
            values.append(bits)
        values.append(round(rng.uniform(-1e4, 1e4), rng.randint(0, 9)))
        values.append(rng.randint(-(2**70), 2**70) >> rng.randint(0, 70))
        values.append(
            "".join(
                chr(rng.choice([rng.randint(0, 0xD7FF), rng.randint(0xE000, 0x10FFFF)]))
                for _ in range(rng.randint(0, 12))
            )
        )
    fast = 0
    prev = None
    for i in range(0, len(values), 3):
        record = seal(
            note(
                "S",
                {str(v): v for v in values[i : i + 3] if isinstance(v, str)}
                | {"values": values[i : i + 3]},
            ),
            i,
            prev,
        )
        line = dumps(record)
        quick = quick_hash(orjson.loads(line))
        assert quick in (None, record["hash"]), line
        fast += quick is not None
        prev = record["hash"]
    assert fast > len(values) // 3 // 4  # the orjson path was taken often enough to count


_VERIFY = """
import json, sys
from pathlib import Path
forks = 0
def count(event, args):
    global forks
    forks += event == "os.fork"
sys.addaudithook(count)
from workbench.labbook.verify import verify
def rows(problems):
    return [[str(p.path), p.line, p.record_id, p.kind, p.message] for p in problems]
found = []
for files, processes in json.loads(sys.argv[1]):
    before = forks
    report = verify([Path(p) for p in files], processes=processes)
    found.append({
        "forks": forks - before,
        "summary": report.summary(),
        "problems": rows(report.problems),
        "warnings": rows(report.warnings),
        "counts": [report.files_checked, report.records_checked],
    })
print(json.dumps(found))
"""


def verified(*runs: tuple[list[Path], int | None]) -> list[dict[str, Any]]:
    """Each (files, processes) verified in a fresh interpreter: its report and its forks."""
    argv = json.dumps([[[str(p) for p in files], processes] for files, processes in runs])
    done = subprocess.run(
        [sys.executable, "-c", _VERIFY, argv], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    found: list[dict[str, Any]] = json.loads(done.stdout)
    return found


def same_but_forks(one: dict[str, Any], other: dict[str, Any]) -> bool:
    return {k: v for k, v in one.items() if k != "forks"} == {
        k: v for k, v in other.items() if k != "forks"
    }


def write_session(root: Path, session: str, calls: int = 4) -> Path:
    book = LabBook(root, session, source="test", git=None)
    try:
        for i in range(calls):
            call(book, "gpt", "openai:gpt-4o", f"question {i}", f"answer {i:03d} 🧪 2.5e-05")
        book.note("done", tags=["é"])
        return book.path
    finally:
        book.close()


def test_two_processes_report_what_one_does_on_intact_and_tampered_books() -> None:
    root = Path.cwd() / "labbook"
    paths = [write_session(root, name) for name in ("A", "B", "C", "D", "E")]
    a, b, c, d, _ = paths
    intact_one, intact_two, small_default = verified((paths, 1), (paths, 2), (paths, None))
    assert intact_one["summary"] == "ok: 30 records in 5 files, every chain intact"
    assert same_but_forks(intact_one, intact_two) and same_but_forks(intact_one, small_default)
    assert (intact_one["forks"], intact_two["forks"], small_default["forks"]) == (0, 2, 0)

    a.write_bytes(a.read_bytes().replace(b"answer 002", b"answer 003"))
    lines = b.read_bytes().splitlines(keepends=True)
    b.write_bytes(b"".join(lines[:2] + lines[3:]))
    with open(c, "ab") as handle:
        handle.write(b'{"v":1,"id":"torn')
    d.unlink()
    one, two = verified((paths, 1), (paths, 2))
    assert same_but_forks(one, two) and (one["forks"], two["forks"]) == (0, 2)
    kinds = [(Path(p[0]).name, p[1], p[3]) for p in one["problems"]]
    assert kinds == [("A.jsonl", 4, EDITED), ("B.jsonl", 3, REMOVED), ("D.jsonl", None, MISSING)]
    assert [(Path(w[0]).name, w[3]) for w in one["warnings"]] == [("C.jsonl", TORN)]


def test_a_book_past_the_threshold_is_verified_in_parallel_by_default() -> None:
    root = Path.cwd() / "labbook" / "2026" / "11" / "25"
    paths, size = [], PARALLEL_BYTES // 4 + (1 << 20)
    for name in "ABCD":  # 4 files of 17 MB: long answers, a megabyte each
        texts = [f"{name}.{i} lorem ipsum dolor sit amet " * 36000 for i in range(size >> 20)]
        records = [note(name, text) for text in texts]
        store.append_many(root / f"{name}.jsonl", records)
        paths.append(root / f"{name}.jsonl")
    assert sum(p.stat().st_size for p in paths) >= PARALLEL_BYTES
    workers = min(len(paths), os.cpu_count() or 1)
    serial, default = verified((paths, 1), (paths, None))
    assert serial["summary"] == "ok: 68 records in 4 files, every chain intact"
    assert same_but_forks(serial, default)
    assert (serial["forks"], default["forks"]) == (0, workers if workers > 1 else 0)

    data = paths[2].read_bytes()
    at = data.index(b"C.9 lorem") + 4
    paths[2].write_bytes(data[:at] + b"L" + data[at + 1 :])
    serial, default = verified((paths, 1), (paths, None))
    assert same_but_forks(serial, default)
    assert [(Path(p[0]).name, p[1], p[3]) for p in serial["problems"]] == [("C.jsonl", 10, EDITED)]
    for path in paths:  # pytest keeps the last runs' folders: not 68 MB each
        path.unlink()
