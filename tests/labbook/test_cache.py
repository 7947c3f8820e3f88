"""read_frame's columnar sidecars on real lab notebooks: the same frame as without them, always.

Every test compares `read_frame(..., cache=True)` (DuckDB or the record-by-record parser, the
Arrow sidecars) with `read_frame(..., cache=False)` (records parsed one by one, no cache) after
something happened to the files (growth, a torn tail, edits, a shrink, a replacement, a damaged
entry), and where it matters proves which path the cache took from what it kept or returned.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
import xxhash
from pandas.testing import assert_frame_equal

from tests.labbook.helpers import git
from tests.labbook.test_query import call
from workbench.labbook import book as book_module
from workbench.labbook import cache, columnar, entries, store
from workbench.labbook.book import LabBook
from workbench.labbook.chain import dumps, new_id, record_hash, seal
from workbench.labbook.query import load_records, read_frame, to_frame
from workbench.labbook.verify import verify


def write_book(root: Path, session: str = "S", calls: int = 6) -> Path:
    """A session file written by LabBook: the session record, calls, a decision and a note."""
    book = LabBook(root, session, source="test", git=None)
    try:
        made = [
            call(book, "gpt", "openai:gpt-4o", f"question {i}", f"answer {i:03d}")
            for i in range(calls)
        ]
        book.decide("pick", [made[0]["id"], made[1]["id"]], choice=made[0]["id"], reason="better")
        book.note("a note", on=[made[-1]["id"]])
        return book.path
    finally:
        book.close()


def grown(path: Path, count: int, label: str = "more") -> list[dict[str, Any]]:
    """Append `count` calls (the file's first call with new ids and answers) through the store."""
    lines = store.read(path, recover=False)
    first = next(line.record for line in lines if line.record["kind"] == "call")
    records = []
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    for i in range(count):
        record = {k: v for k, v in first.items() if k not in ("seq", "prev", "hash")}
        record |= {"id": new_id(), "ts": now, "reply": {**first["reply"], "text": f"{label} {i}"}}
        records.append(record)
    return store.append_many(path, records)


def frame(*paths: Path, **filters: Any) -> pd.DataFrame:
    """read_frame through the cache, checked against read_frame without it."""
    cached = read_frame(list(paths), cache=True, **filters)
    assert_frame_equal(cached, read_frame(list(paths), cache=False, **filters))
    return cached


def entry(path: Path) -> entries.Entry:
    """The sidecar kept for `path`."""
    where = cache.location(path)
    assert where is not None
    found = entries.load(where, columnar.SCHEMA)
    assert found is not None
    return found


def digest(data: bytes) -> str:
    return xxhash.xxh3_128(data).hexdigest()


def edit(path: Path, old: bytes, new: bytes) -> int:
    """Replace the one `old` in the file by `new` of the same length, in place; its offset."""
    assert len(old) == len(new)
    data = path.read_bytes()
    assert data.count(old) == 1, old
    at = data.index(old)
    with open(path, "r+b") as handle:
        handle.seek(at)
        handle.write(new)
    return at


def set_mtime(path: Path, mtime_ns: int) -> None:
    os.utime(path, ns=(mtime_ns, mtime_ns))


def texts(frame: pd.DataFrame) -> list[str]:
    return [t for t in frame["text"] if isinstance(t, str)]


@pytest.fixture
def root() -> Path:
    return Path.cwd() / "labbook"


def test_a_fresh_build_is_the_uncached_frame_and_is_kept(root: Path) -> None:
    paths = [write_book(root, "A"), write_book(root, "B", calls=3)]
    first = frame(*paths)
    assert len(first) == 9 + 6
    for path in paths:
        kept, data = entry(path), path.read_bytes()
        assert kept.key == cache.Key(len(data), digest(data))
        assert kept.table.num_rows == len(data.splitlines())
    assert len(list(cache.folder_for(root).glob("sorted-*.arrow"))) == 1
    assert_frame_equal(frame(*paths), first)  # from the sorted sidecar now
    frame(*paths, kind="call", model="gpt")
    frame(*paths, session="B")


def test_a_same_size_edit_keeping_the_mtime_is_seen(root: Path) -> None:
    """Never trusted over the JSONL: the bytes are hashed, not only their size and mtime."""
    path = write_book(root)
    frame(path)
    mtime = path.stat().st_mtime_ns
    edit(path, b'"answer 002"', b'"ANSWER 002"')
    set_mtime(path, mtime)
    assert "ANSWER 002" in texts(frame(path))
    assert entry(path).key.digest == digest(path.read_bytes())


def _tables(path: Path, seen: list[tuple[bytes, int]]) -> list[str]:
    """`cache.tables` of one file with a parser of lines that records what it was handed."""
    schema = pa.schema([("line", pa.large_string())])

    def parse(where: Path, lines: bytes, first: int) -> pa.Table:
        seen.append((lines, first))
        return pa.table({"line": pa.array(lines.decode().splitlines(), pa.large_string())})

    tables, _ = cache.tables([path], parse, lambda paths, keys: {}, schema)
    return [str(v) for v in tables[0].column("line").to_pylist()]


def test_growth_hands_only_the_new_lines_to_the_parser(root: Path) -> None:
    path = write_book(root, calls=2)
    seen: list[tuple[bytes, int]] = []
    before = path.read_bytes()
    assert _tables(path, seen) == before.decode().splitlines()
    assert seen == [(before, 1)]
    assert _tables(path, seen) == before.decode().splitlines()
    assert len(seen) == 1  # the same bytes: not parsed again
    grown(path, 2)
    after = path.read_bytes()
    assert _tables(path, seen) == after.decode().splitlines()
    assert seen[1:] == [(after[len(before) :], len(before.splitlines()) + 1)]


@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_growth_after_an_edit_anywhere_rebuilds(root: Path, where: str) -> None:
    path = write_book(root)
    frame(path)
    lines = path.read_bytes().splitlines()
    if where == "first":
        at = lines[0].index(b'"id":"')
        first_id = lines[0][at : at + 33]  # "id":"<26 characters>"
        edit(path, first_id, first_id[:-2] + (b"0" if first_id[-2:-1] != b"0" else b"1") + b'"')
    elif where == "middle":
        edit(path, b'"answer 002"', b'"ANSWER 002"')
    else:
        edit(path, b'"text":"a note"', b'"text":"A note"')
    made = grown(path, 1)
    rows = frame(path)
    assert ("A note" in list(rows["note"])) == (where == "last")
    assert ("ANSWER 002" in texts(rows)) == (where == "middle")
    assert rows["id"].iloc[-1] == made[0]["id"]


def test_a_torn_tail_is_skipped_until_complete_then_set_aside(root: Path) -> None:
    path = write_book(root)
    rows = len(frame(path))
    before = path.read_bytes()
    previous = store.read(path, recover=False)
    tip = [line.record for line in previous][-1]
    body = {k: v for k, v in tip.items() if k not in ("seq", "prev", "hash")} | {"id": new_id()}
    line = dumps(seal(body, tip["seq"] + 1, tip["hash"]))
    size = path.stat().st_size
    with open(path, "ab") as handle:
        handle.write(line[:100])
    assert len(frame(path)) == rows
    assert entry(path).key == cache.Key(size, digest(before))
    with open(path, "ab") as handle:
        handle.write(line[100:])
    assert len(frame(path)) == rows + 1
    assert verify([path]).ok
    with open(path, "ab") as handle:
        handle.write(b'{"v":1,"id":"torn')
    frame(path)
    grown(path, 2)  # the store sets the torn tail aside, then appends
    assert len(frame(path)) == rows + 3
    assert len(list(path.parent.glob("*.torn"))) == 1


def test_a_same_size_edit_with_a_new_mtime_rebuilds(root: Path) -> None:
    path = write_book(root)
    frame(path)
    mtime = path.stat().st_mtime_ns
    edit(path, b'"answer 002"', b'"ANSWER 002"')
    set_mtime(path, mtime + 1_000_000_000)
    assert "ANSWER 002" in texts(frame(path))


@pytest.mark.parametrize("then", ["nothing", "more records"])
def test_a_shrunk_file_rebuilds(root: Path, then: str) -> None:
    path = write_book(root)
    frame(path)
    size = path.stat().st_size
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-2]))
    if then == "more records":
        grown(path, 3, label="rewritten")
        assert path.stat().st_size > size
    rows = frame(path)
    assert "a note" not in list(rows["note"])
    assert len(rows) == len(lines) - 2 + 3 * (then == "more records")


def test_a_replaced_file_rebuilds_even_with_the_same_size_and_mtime(root: Path) -> None:
    path = write_book(root)
    frame(path)
    old = path.stat()
    copy = path.with_name("copy.tmp")
    copy.write_bytes(path.read_bytes().replace(b'"answer 002"', b'"ANSWER 002"'))
    os.replace(copy, path)
    set_mtime(path, old.st_mtime_ns)
    new = path.stat()
    assert (new.st_size, new.st_mtime_ns) == (old.st_size, old.st_mtime_ns)
    assert new.st_ino != old.st_ino
    assert "ANSWER 002" in texts(frame(path))


def _sidecar(table: pa.Table, meta: dict[str, str]) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_file(sink, table.schema.with_metadata(meta)) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


@pytest.mark.parametrize("damage", ["garbage", "empty", "truncated", "foreign", "stale", "lying"])
def test_a_damaged_entry_is_rebuilt_silently(
    root: Path, damage: str, capfd: pytest.CaptureFixture[str]
) -> None:
    path = write_book(root)
    expected = frame(path)
    where = cache.location(path)
    assert where is not None
    good = where.read_bytes()
    kept = entry(path)
    meta = {"format": entries.FORMAT, "end": str(kept.key.end), "digest": kept.key.digest}
    where.write_bytes(
        {
            "garbage": b"ARROW1\x00\x00garbage \x00\xff" * 40,
            "empty": b"",
            "truncated": good[: len(good) // 2],
            "foreign": _sidecar(pa.table({"a": [1]}), meta),
            "stale": _sidecar(kept.table, meta | {"format": "0"}),
            "lying": _sidecar(kept.table.slice(0, 3), meta | {"digest": "0" * 32}),
        }[damage]
    )
    for sorted_table in cache.folder_for(root).glob("sorted-*.arrow"):
        sorted_table.unlink()
    capfd.readouterr()
    assert_frame_equal(frame(path), expected)
    assert capfd.readouterr() == ("", "")  # silently (warnings are errors in this suite)
    assert entry(path).table.num_rows == len(expected)


@pytest.mark.parametrize("bad", [b"{not json", b'{"a":1},{"b":2}', b"", b"[1]"])
def test_a_bad_line_is_named_the_same_with_or_without_the_cache(root: Path, bad: bytes) -> None:
    path = write_book(root)
    frame(path)
    with open(path, "ab") as handle:
        handle.write(bad + b"\n")
    for cached in (True, False):
        with pytest.raises(store.CorruptLine) as caught:
            read_frame([path], cache=cached)
        assert caught.value.number == 10


def test_files_outside_dated_folders_and_unwritable_caches_are_read_uncached(
    root: Path, tmp_path: Path
) -> None:
    loose = tmp_path / "loose" / "S.jsonl"
    loose.parent.mkdir()
    loose.write_bytes(write_book(root).read_bytes())
    assert cache.location(loose) is None
    frame(loose)
    assert not list(tmp_path.rglob(".cache"))
    (root / ".cache").write_text("not a folder\n")  # the cache cannot be written
    frame(*book_module.files(root))
    frame(*book_module.files(root))
    assert (root / ".cache").read_text() == "not a folder\n"


def test_integers_past_64_bits_are_read_exactly(root: Path) -> None:
    """orjson reads them as floats: those lines are read by json, so records still hash."""
    path = write_book(root, calls=2)
    wide = [
        {"text": "x:12345678901234567890123", "n": 2**70},
        {"low": -(2**63) - 1},
        {"list": [2**64, 1]},
        {"fits": [2**64 - 1, -(2**63)], "text": "id 12345678901234567890123"},
    ]
    records = [
        {
            "v": 1,
            "id": new_id(),
            "ts": f"2026-11-25T10:00:0{i}Z",
            "kind": "note",
            "session": "S",
            "data": data,
        }
        for i, data in enumerate(wide)
    ]
    store.append_many(path, records)
    grown(path, 1)
    loaded = load_records([path])
    assert [r["data"] for r in loaded[-5:-1]] == wide
    assert b"".join(dumps(r) for r in loaded) == path.read_bytes()
    assert all(record_hash(r) == r["hash"] for r in loaded)
    assert_frame_equal(frame(path), to_frame(list(store.read(path))))


def test_values_orjson_refuses_are_read_by_json_in_new_lines_too(root: Path) -> None:
    path = write_book(root, calls=2)
    frame(path)
    odd, ids = [float("nan"), float("inf"), -float("inf")], []
    for value in odd:  # json writes NaN, Infinity and -Infinity; orjson refuses them
        grown(path, 1)
        lines = [line.record for line in store.read(path, recover=False)]
        last = {k: v for k, v in lines[-1].items() if k not in ("seq", "prev", "hash")}
        ids.append(new_id())
        store.append_many(path, [last | {"id": ids[-1], "reply": {"cost_usd": value}}])
        rows = frame(path)
        assert_frame_equal(rows, to_frame(list(store.read(path))))
    costs = rows.set_index("id")["cost_usd"][ids].to_numpy(dtype=float, na_value=0.0)
    assert costs.tolist() == [0.0, float("inf"), -float("inf")]  # NaN: a missing cost
    assert verify([path]).ok


@pytest.mark.parametrize("inside", [True, False], ids=["in the research repo", "own repo"])
def test_the_cache_stays_out_of_git_and_verify_never_reads_it(
    repo: Path, tmp_path: Path, inside: bool
) -> None:
    from workbench import log
    from workbench.labbook.git import GitSync

    root = (repo if inside else tmp_path / "standalone") / "labbook"
    sync = GitSync.open(root, research_repo=repo if inside else None)
    book = LabBook(root, "S", source="test", git=sync)
    try:
        call(book, "gpt", "openai:gpt-4o", "question", "answer")
        book.commit("first")
        frame(*book.files())
        call(book, "gpt", "openai:gpt-4o", "question 2", "answer 2")
        assert book.commit("second") is not None
        frame(*book.files())
    finally:
        book.close()
        sync.close()
    top = repo if inside else root
    assert not list(root.rglob("*.arrow")), "a cache entry inside the lab notebook"
    kept = list(cache.cache_home().rglob("*.arrow"))
    assert len(kept) == 1 + cache.KEEP  # the file's, and the last sorted tables
    assert git(top, "status", "--porcelain", "--untracked-files=all") == ""
    for damaged in kept:
        damaged.write_bytes(b"garbage")
    decoy = root / ".cache" / "decoy.jsonl"
    decoy.parent.mkdir()
    decoy.write_bytes(b"{not a record\n")
    report = log.verify(root)
    assert report.ok, report.summary()
    assert (report.files_checked, report.records_checked) == (1, 3)


@pytest.mark.skipif(os.getuid() != 0, reason="giving a file to another user needs root")
def test_an_entry_another_user_owns_is_never_read(tmp_path: Path) -> None:
    path = write_book(tmp_path / "labbook")
    fresh = frame(path)
    where = cache.location(path)
    assert where is not None and where.is_file()
    kept = entry(path)
    lie = kept.table.set_column(
        columnar.SCHEMA.get_field_index("text"),
        "text",
        pa.array(["planted"] * kept.table.num_rows, pa.large_string()),
    )
    meta = {"format": entries.FORMAT, "end": str(kept.key.end), "digest": kept.key.digest}
    where.write_bytes(_sidecar(lie, meta))
    for sorted_table in where.parents[3].glob("sorted-*.arrow"):
        sorted_table.unlink()
    os.chown(where, 12345, 12345)
    assert_frame_equal(frame(path), fresh)


def test_entries_live_in_the_users_cache_never_in_the_lab_notebook(tmp_path: Path) -> None:
    path = write_book(tmp_path / "labbook")
    frame(path)
    where = cache.location(path)
    assert where is not None and where.is_file()
    assert where.is_relative_to(Path(os.environ["XDG_CACHE_HOME"]) / "workbench" / "frames")
    assert [p.name for p in (tmp_path / "labbook").rglob("*") if p.is_file()] == [path.name]
    assert (cache.cache_home().stat().st_mode & 0o777) == 0o700
    other = write_book(tmp_path / "another" / "labbook")
    assert cache.location(other) != where  # same day and session name, another lab notebook


def test_a_big_load_returns_before_its_sidecars_are_written_and_the_next_load_reads_them(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past `BACKGROUND_BYTES` the frame comes first; the next load waits for the writes."""
    from workbench.labbook import query

    paths = [write_book(root, "S-one"), write_book(root, "S-two", calls=3)]
    monkeypatch.setattr(query, "BACKGROUND_BYTES", 0)
    cache.Writes().later(lambda: None)  # the writer thread is up
    cache.Writes.settle()
    assert cache.Writes._pool is not None
    gate = threading.Event()
    cache.Writes._pool.submit(gate.wait)  # the writer is busy: nothing this load writes is done
    first = read_frame(paths)
    assert all(not (cache.location(p) or root).exists() for p in paths)
    assert not list(cache.folder_for(root).glob("sorted-*.arrow"))
    gate.set()
    second = read_frame(paths)  # waits for the writes, then maps them
    assert_frame_equal(second, first)
    assert_frame_equal(first, read_frame(paths, cache=False))
    assert [entry(p).table.num_rows for p in paths] == [9, 6]
    assert len(list(cache.folder_for(root).glob("sorted-*.arrow"))) == 1


def test_a_load_from_the_kept_sorted_table_marks_it_recently_used(root: Path) -> None:
    """The most recently used sorted tables are the ones kept: a warm load counts as a use."""
    paths = [write_book(root, "S-one"), write_book(root, "S-two")]
    first = read_frame(paths)
    (kept,) = cache.folder_for(root).glob("sorted-*.arrow")
    os.utime(kept, (1000, 1000))
    assert_frame_equal(read_frame(paths), first)
    assert kept.stat().st_mtime > 1000


def test_a_killed_writers_temporary_entries_are_cleared_by_the_next_write(root: Path) -> None:
    """A kernel killed while it wrote sidecars leaves temporary files (a sorted one is GBs): the
    next write in that folder removes those an hour old, never one being written now."""
    paths = [write_book(root, "S-one"), write_book(root, "S-two")]
    read_frame(paths)
    day = cache.location(paths[0])
    assert day is not None
    folders = [day.parent, cache.folder_for(root)]
    old = [folder / f".sorted-x.arrow.{i}.tmp" for i, folder in enumerate(folders)]
    fresh = day.parent / ".S-one.jsonl.arrow.now.tmp"
    for temp in [*old, fresh]:
        temp.write_bytes(b"half an entry")
    for temp in old:
        os.utime(temp, (1000, 1000))
    grown(paths[0], 2)  # S-one's entry is written again
    frame(*paths, write_book(root, "S-three"))  # and the sorted table of the three files
    assert [temp.exists() for temp in old] == [False, False]
    assert fresh.exists()
