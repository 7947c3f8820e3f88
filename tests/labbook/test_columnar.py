"""The columnar path (DuckDB, Arrow sidecars) gives the frame the record-by-record path gives.

Records with every odd case the workbench writes (non-ASCII, missing and null values, several
system messages, follow-ups, files, structured answers, thinking, errors, every decision, notes,
pauses, prompt files) are read both ways and compared value by value and dtype by dtype; values
DuckDB cannot read exactly (NaN, integers past 2**53) send their file the record-by-record way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from pandas.testing import assert_frame_equal

from workbench.errors import CorruptLine
from workbench.labbook import cache, columnar, store
from workbench.labbook.arrowframe import decode
from workbench.labbook.chain import new_id
from workbench.labbook.parse import parse_records
from workbench.labbook.query import read_frame, to_frame

DAY = "2026/11/25"


def base(kind: str, ts: str, session: str = "S-odd", **fields: Any) -> dict[str, Any]:
    return {
        "v": 1,
        "id": new_id(),
        "ts": ts,
        "kind": kind,
        "session": session,
        "author": {"name": "Zoë Ångström", "email": "z@lab.example"},
        "source": "analysis.ipynb",
        "repo_head": "ab" * 20,
        **fields,
    }


def call(ts: str, messages: list[dict[str, Any]], reply: dict[str, Any], **more: Any) -> Any:
    prompt = {"messages": messages, "params": more.pop("params", {"temperature": 0.2})}
    prompt |= more.pop("prompt", {})
    return base(
        "call", ts, model="gpt", resolved="openai:gpt-4o", request_hash="cd" * 32,
        prompt=prompt, reply=reply, **more,
    )  # fmt: skip


FILE = {"name": "chart.png", "media_type": "image/png", "size": 120, "sha256": "ef" * 32}


def odd_records() -> list[dict[str, Any]]:
    """One record of each odd case the lab notebook holds."""
    ok = {"text": "東京は晴れ — déjà vu 🌤", "usage": {"input_tokens": 3, "output_tokens": 9},
          "cost_usd": 0.25, "latency_s": 1.5, "first_token_s": 0.5, "finish_reason": "stop",
          "model_version": "gpt-4o-2026", "error": None, "attempts": 1}  # fmt: skip
    first = call("2026-11-25T09:00:00.000001Z", [{"role": "user", "content": "Wo ist Zürich?"}], ok)
    records = [
        base("session", "2026-11-25T09:00:00Z", data={"workbench": "0.1", "python": "3.11"}),
        first,
        call(  # a follow-up: three turns, two system messages, files, thinking, full usage
            "2026-11-25T09:00:01Z",
            [
                {"role": "system", "content": "Be terse."},
                {"role": "system", "content": None},
                {"role": "user", "content": "Wo ist Zürich?", "files": [FILE]},
                {"role": "assistant", "content": "In der Schweiz."},
                {"role": "user", "content": "Und Genf?", "files": [FILE, FILE | {"size": 7}]},
            ],
            ok
            | {
                "thinking": "Let me think…",
                "usage": {
                    "input_tokens": 30,
                    "output_tokens": 90,
                    "reasoning_tokens": 50,
                    "cached_input_tokens": 10,
                    "cache_write_tokens": 0,
                    "source": "provider",
                },
            },
            parent=first["id"],
            params={"temperature": 0.0, "max_tokens": 64, "stop": ["\n"], "seed": None},
            prompt={"origin": {"name": "geo", "blob": "0123456789abcdef", "dirty": True}},
        ),
        call(  # one system message then the user: the system is that message
            "2026-11-25T09:00:02Z",
            [{"role": "system", "content": "Reply in JSON."}, {"role": "user", "content": "x"}],
            ok | {"data": {"city": "Genf", "nested": {"list": [1, 2.5, None, "ü"]}}},
            prompt={"origin": {"name": "json", "blob": "fedcba9876543210", "dirty": False}},
        ),
        call(  # failed: an error, no cost, no usage, no finish reason
            "2026-11-25T09:00:03Z",
            [{"role": "user", "content": ""}],
            {
                "text": "",
                "usage": None,
                "cost_usd": None,
                "latency_s": None,
                "error": {"type": "RateLimited", "message": "429: slow down", "status": 429},
                "attempts": 3,
            },
            params={},
        ),
        call(  # no user message at all, an empty error (still a success), data false
            "2026-11-25T09:00:03Z",
            [{"role": "assistant", "content": "hm"}],
            {"text": None, "error": {}, "data": False, "cost_usd": 0},
        ),
        base(
            "decision",
            "2026-11-25T09:00:04Z",
            links=[first["id"]],
            tags=["eval", "é"],
            data={"verdict": "pick", "choice": first["id"], "reason": "shorter <b>&</b>"},
        ),
        base(
            "decision",
            "2026-11-25T09:00:05Z",
            links=[first["id"]],
            data={
                "verdict": "rating",
                "choice": first["id"],
                "score": 4,
                "supersedes": None,
                "reason": None,
            },
        ),
        base("note", "2026-11-25T09:00:06Z", links=[], tags=None, data={"text": "ñandú\nline 2"}),
        base("pause", "2026-11-25T09:00:07Z", data={"reason": "lunch 🍜"}),
        base("resume", "2026-11-25T09:00:08Z", data={}),
        base("audit", "2026-11-25T09:00:09Z", data={"run": "x", "reason": {"not": "a string"}}),
        base("note", "2026-11-25T09:00:09Z", author="a plain string", data={"text": None}),
        base("call", "2026-11-25T08:59:59Z"),  # a bare call: no prompt, no reply
        base("note", "2026-11-25T10:00:00.5+02:00", data={"text": "an offset"}),
    ]
    return records


def write(root: Path, name: str, records: list[dict[str, Any]]) -> Path:
    path = root / DAY / f"{name}.jsonl"
    store.append_many(path, records)
    return path


def ends(*paths: Path) -> dict[Path, int]:
    return {path: path.stat().st_size for path in paths}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "labbook"


def test_duckdb_reads_every_odd_case_exactly(root: Path) -> None:
    path = write(root, "S-odd", odd_records())
    tables = columnar.read_tables([path], ends(path))
    assert path in tables, "the fast path gave up on records the workbench writes"
    records = parse_records(path, path.read_bytes()[:-1])
    expected = columnar.from_records(records)
    assert tables[path].schema.equals(columnar.SCHEMA)
    for name in columnar.SCHEMA.names:  # column by column, to name the first that differs
        got, want = tables[path].column(name), expected.column(name)
        if name in ("params", "files", "data", "links", "tags"):  # JSON text: its values
            empty = list if name in ("files", "links", "tags") else None
            got, want = list(decode(got, empty)), list(decode(want, empty))
        else:
            got, want = got.to_pylist(), want.to_pylist()
        assert got == want, name
    fresh = read_frame([path], cache=True)
    assert_frame_equal(fresh, read_frame([path], cache=False))
    assert_frame_equal(fresh, to_frame(list(store.read(path))))
    assert_frame_equal(read_frame([path], cache=True), fresh)  # from the sidecars


@pytest.mark.parametrize(
    "odd",
    [
        {"reply": {"cost_usd": float("nan")}},
        {"reply": {"cost_usd": float("inf")}},
        {"reply": {"usage": {"input_tokens": 2**60}}},
    ],
    ids=["NaN", "Infinity", "past 2**53"],
)
def test_values_duckdb_cannot_read_exactly_go_the_record_by_record_way(
    root: Path, odd: dict[str, Any]
) -> None:
    plain = write(root, "S-plain", odd_records())
    records = odd_records()
    records[4] |= odd
    path = write(root, "S-nan", records)
    tables = columnar.read_tables([plain, path], ends(plain, path))
    assert plain in tables
    frame = read_frame([plain, path], cache=True)
    assert_frame_equal(frame, read_frame([plain, path], cache=False))
    assert_frame_equal(read_frame([plain, path], cache=True), frame)


@pytest.mark.parametrize("bad", [b"{not json", b"", b"[1]", b'{"a":1},{"b":2}'])
def test_a_damaged_line_is_named_as_before(root: Path, bad: bytes) -> None:
    path = write(root, "S-bad", odd_records())
    frame = read_frame([path])
    with open(path, "ab") as handle:
        handle.write(bad + b"\n")
    store.append_many(path.with_name("S-later.jsonl"), odd_records())
    assert path not in columnar.read_tables([path], ends(path))
    for cached in (True, False):
        with pytest.raises(CorruptLine) as caught:
            read_frame([path], cache=cached)
        assert (caught.value.path, caught.value.number) == (path, len(frame) + 1)


@pytest.mark.parametrize("odd", ["blank line", "past 2**53"])
def test_only_the_file_duckdb_cannot_read_exactly_is_left_out(root: Path, odd: str) -> None:
    """The files are parsed in one query and typed together: one odd file spoils no other."""
    before = write(root, "S-a", odd_records())
    records = odd_records()
    if odd == "past 2**53":
        records[1]["reply"] = records[1]["reply"] | {"usage": {"input_tokens": 2**60}}
    path = write(root, "S-b", records)
    if odd == "blank line":
        path.write_bytes(path.read_bytes().replace(b"\n", b"\n\n", 1))
    after = write(root, "S-c", odd_records())
    paths = [before, path, after]
    tables = columnar.read_tables(paths, ends(*paths))
    assert list(tables) == [before, after]
    for one in (before, after):
        assert tables[one].equals(columnar.read_tables([one], ends(one))[one])
    if odd == "past 2**53":
        assert_frame_equal(read_frame(paths), read_frame(paths, cache=False))
        assert read_frame(paths)["input_tokens"].max() == 2**60


def test_whole_numbers_flag_what_int64_cannot_hold_without_a_warning() -> None:
    """Infinite, fractional and past-2**53 counts are flagged (their file goes the exact way),
    never cast: numpy would warn, and pytest makes a warning an error."""
    column = pa.chunked_array([[1.0, float("inf"), 2.5, float("nan"), 2.0**60, -3.0]])
    whole, inexact = columnar._whole(column)
    assert inexact.tolist() == [False, True, True, False, True, False]
    assert whole.to_pylist() == [1, 0, 0, None, 0, -3]


def test_a_file_growing_while_read_is_read_as_hashed(root: Path) -> None:
    """DuckDB reads whole files: a line appended after the hash sends the file the slow way."""
    path = write(root, "S-grow", odd_records())
    size = path.stat().st_size
    store.append_many(path, odd_records()[1:3])
    assert path not in columnar.read_tables([path], {path: size})


def test_the_sorted_sidecar_is_replaced_when_a_file_changes(root: Path) -> None:
    one = write(root, "S-one", odd_records())
    two = write(root, "S-two", odd_records())
    first = read_frame([one, two])
    store.append_many(two, odd_records()[1:2])
    second = read_frame([one, two])
    assert len(second) == len(first) + 1
    assert_frame_equal(second, read_frame([one, two], cache=False))
    kept = sorted(cache.folder_for(root).glob("sorted-*.arrow"))
    assert len(kept) == cache.KEEP
    store.append_many(one, odd_records()[1:2])
    read_frame([one, two])
    assert len(list(cache.folder_for(root).glob("sorted-*.arrow"))) == cache.KEEP


def test_an_empty_file_list_and_an_empty_file(root: Path) -> None:
    empty = root / DAY / "S-empty.jsonl"
    empty.parent.mkdir(parents=True)
    empty.write_bytes(b"")
    for paths in ([], [empty]):
        assert_frame_equal(read_frame(paths), read_frame(paths, cache=False))
    assert columnar.from_records([]).schema.equals(columnar.SCHEMA)
    assert isinstance(columnar.from_records([]), pa.Table)


def later(records: list[dict[str, Any]], hour: int) -> list[dict[str, Any]]:
    """The records again, with new ids, an hour later (as a session goes on recording)."""
    return [
        r
        | {
            "id": new_id(),
            "ts": r["ts"].replace("T09:", f"T{hour:02d}:").replace("T08:", f"T{hour:02d}:"),
        }
        for r in records
    ]


def test_a_session_recording_on_extends_the_sorted_sidecar_without_writing_it(root: Path) -> None:
    one = write(root, "S-one", odd_records())
    two = write(root, "S-two", odd_records() * 3)
    first = read_frame([one, two])
    kept = {p: p.stat().st_mtime_ns for p in cache.folder_for(root).glob("sorted-*.arrow")}
    assert len(kept) == 1
    for hour in (10, 11):
        store.append_many(one, later(odd_records()[1:3], hour))
        frame = read_frame([one, two])
        assert_frame_equal(frame, read_frame([one, two], cache=False))
        assert {
            p: p.stat().st_mtime_ns for p in cache.folder_for(root).glob("sorted-*.arrow")
        } == kept
    assert len(frame) == len(first) + 4
    assert list(frame["line"][-2:]) == [len(odd_records()) + 3, len(odd_records()) + 4]
    store.append_many(two, later(odd_records(), 9))  # not after everything: sorted again
    assert_frame_equal(read_frame([one, two]), read_frame([one, two], cache=False))
    assert len(list(cache.folder_for(root).glob("sorted-*.arrow"))) == 2


def test_times_arrow_refuses_are_read_as_pandas_reads_them(root: Path) -> None:
    records = odd_records()
    records[2]["ts"], records[5]["ts"] = "2026-11-25", "not a time"
    path = write(root, "S-times", records)
    plain = write(root, "S-plain", later(odd_records(), 10))
    tables = columnar.read_tables([plain, path], ends(plain, path))
    assert list(tables) == [plain, path]
    frame = read_frame([plain, path])
    assert_frame_equal(frame, read_frame([plain, path], cache=False))
    assert frame["ts"].isna().sum() == 1


def test_a_path_duckdb_would_read_as_a_pattern_is_read_record_by_record(tmp_path: Path) -> None:
    root = tmp_path / "lab [2026] *" / "labbook"
    path = write(root, "S-odd", odd_records())
    other = write(tmp_path / "lab 2 x" / "labbook", "S-odd", odd_records())  # "*" matches it
    assert columnar.read_tables([path], ends(path)) == {}
    assert_frame_equal(read_frame([path]), read_frame([path], cache=False))
    assert_frame_equal(read_frame([path, other]), read_frame([path, other], cache=False))


def test_a_big_sort_on_threads_with_the_json_decoded_meanwhile_gives_the_same_frame(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sort's copy a column per thread, the JSON values decoded while it runs, then moved."""
    from workbench.labbook import arrowframe

    one = write(root, "S-one", odd_records() + later(odd_records(), 11))
    two = write(root, "S-two", later(odd_records(), 10))  # between the other file's records
    monkeypatch.setattr(arrowframe, "PARALLEL_ROWS", 0)
    frame = read_frame([one, two])
    assert_frame_equal(frame, read_frame([one, two], cache=False))
    assert list(frame["file"].astype(str)).count(str(two)) == len(odd_records())
    params = [p for p in frame["params"] if p is not None]
    assert len({id(p) for p in params}) == len(params)  # a fresh dict per row, as parsed
    assert_frame_equal(read_frame([one, two]), frame)  # from the sorted sidecar


@pytest.mark.parametrize("count", [2.5, float("inf")], ids=["fraction", "Infinity"])
def test_a_count_that_is_not_a_whole_number_is_a_corrupt_line_named(root: Path, count: Any) -> None:
    records = odd_records()
    records[4]["reply"]["usage"] = {"input_tokens": count, "output_tokens": 1}
    path = write(root, "S-count", records)
    for read in (
        lambda: read_frame([path], cache=True),
        lambda: read_frame([path], cache=False),
        lambda: to_frame(list(store.read(path))),
    ):
        with pytest.raises(CorruptLine, match=rf"{path.name}:5: input_tokens is .*not a whole"):
            read()


def test_a_record_bigger_than_the_first_read_buffer_is_read_by_duckdb_all_the_same(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB is told to expect small records (its buffers are then reused); a bigger one makes
    it read again with room for it, not send the file the slow way."""
    monkeypatch.setattr(columnar, "OBJECT_BYTES", (2**24, 2**30))  # DuckDB's least: 16 MB
    records = odd_records()
    first = next(r for r in records if r["kind"] == "call")
    long = "long answer " * 3_000_000  # 36 MB: past the 32 MB buffer of the first read
    first["reply"] = first["reply"] | {"text": long}
    path = write(root, "S-big", records)
    small = write(root, "S-small", odd_records())
    tables = columnar.read_tables([small, path], ends(small, path))
    assert list(tables) == [small, path]
    assert long in tables[path].column("text").to_pylist()
    assert_frame_equal(read_frame([small, path]), read_frame([small, path], cache=False))
