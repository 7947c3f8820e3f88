"""The lab notebook as a DataFrame: real books written by LabBook, read back, filtered, pivoted."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from workbench.errors import InvalidOption
from workbench.labbook import book as book_module
from workbench.labbook import store
from workbench.labbook.book import LabBook
from workbench.labbook.chain import request_hash
from workbench.labbook.query import (
    COLUMNS,
    RecordList,
    answers,
    cost_by_model_by_day,
    decisions,
    load_records,
    read_frame,
    to_frame,
)
from workbench.providers.base import Reply, ReplyError, Usage

DAY1 = datetime(2026, 11, 24, 23, 50, tzinfo=UTC)
DAY2 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


class Clock:
    """A LabBook clock, so records land on chosen days and times: a second per reading."""

    def __init__(self, start: datetime) -> None:
        self.current = start

    def __call__(self) -> datetime:
        self.current += timedelta(seconds=1)
        return self.current


def call(
    book: LabBook,
    model: str,
    resolved: str,
    text: str,
    answer: str = "",
    *,
    cost: float | None = 0.01,
    system: str | None = None,
    error: ReplyError | None = None,
) -> dict[str, Any]:
    """Append a call record shaped exactly as LabBook.record_call writes one."""
    messages = [{"role": "system", "content": system}] if system else []
    messages += [
        {"role": "user", "content": "earlier turn"},
        {"role": "assistant", "content": "ok"},
    ]
    messages.append({"role": "user", "content": text})
    params = {"temperature": 0.2, "max_tokens": 64}
    reply = Reply(
        model=model,
        resolved=resolved,
        text=answer,
        usage=Usage(11, 22),
        cost_usd=cost,
        latency_s=1.5,
        first_token_s=0.25,
        finish_reason=None if error else "stop",
        model_version=f"{resolved}-v1",
        error=error,
        attempts=1,
    ).to_dict()
    for key in ("model", "resolved"):
        reply.pop(key)
    return book.append(
        "call",
        model=model,
        resolved=resolved,
        request_hash=request_hash(resolved, messages, params),
        prompt={"messages": messages, "params": params, "sample": 0},
        reply=reply,
    )


@dataclass
class Book:
    root: Path
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Named records as written."""

    def files(self) -> list[Path]:
        return book_module.files(self.root)

    def lines(self) -> list[store.Line]:
        return [line for path in self.files() for line in store.read(path)]


def write_book(root: Path) -> Book:
    """Two days, two sessions: calls, an error, decisions, notes, a pause and a resume."""
    out = Book(root)
    r = out.records
    first = LabBook(root, "S-one", source="analysis.ipynb", git=None, clock=Clock(DAY1))
    try:
        r["gpt1"] = call(first, "gpt", "openai:gpt-4o", "What is 2+2?", "4", system="Be terse.")
        r["claude1"] = call(
            first, "claude", "anthropic:claude-x", "What is 2+2?", "four", cost=None
        )
        r["pick"] = first.decide(
            "pick", [r["gpt1"]["id"], r["claude1"]["id"]], choice=r["gpt1"]["id"],
            reason="shorter <b>&</b> right", tags=["math"],
        )  # fmt: skip
        r["note1"] = first.note("both fine", on=[r["claude1"]["id"]])
    finally:
        first.close()
    second = LabBook(root, "S-two", source="cli", git=None, clock=Clock(DAY2))
    try:
        r["gpt2"] = call(second, "gpt", "openai:gpt-4o", "What is 2+2?", "2+2 is 4", cost=0.02)
        r["gemini_ok"] = call(second, "gemini", "gemini:gemini-x", "Name a prime", "7", cost=0.005)
        r["gemini"] = call(
            second, "gemini", "gemini:gemini-x", "Name a prime", cost=None,
            error=ReplyError("RateLimited", "429: slow down", 429),
        )  # fmt: skip
        second.pause("lunch")
        second.resume()
        r["reject"] = second.decide("reject", [r["gemini"]["id"]], reason="failed", tags=["todo"])
        r["note2"] = second.note("check primes", tags=["todo", "math"])
    finally:
        second.close()
    return out


@pytest.fixture
def book() -> Book:
    return write_book(Path.cwd() / "labbook")


@pytest.fixture
def frame(book: Book) -> pd.DataFrame:
    return to_frame(book.lines())


# -- the frame ---------------------------------------------------------------------------------


def test_one_row_per_record_in_time_order_with_every_column(
    book: Book, frame: pd.DataFrame
) -> None:
    lines = book.lines()
    assert list(frame.columns) == list(COLUMNS)
    assert len(frame) == len(lines) == 13  # 2 session records + 11
    assert frame["ts"].is_monotonic_increasing
    assert list(frame["kind"][:2]) == ["session", "call"]  # the session record shares its time
    assert set(frame["id"]) == {line.record["id"] for line in lines}
    for position, row in frame.iterrows():  # the index is the position in what was passed
        assert lines[int(position)].record["hash"] == row["hash"]  # type: ignore[call-overload]


def test_dtypes(frame: pd.DataFrame) -> None:
    dtypes = {name: str(dtype) for name, dtype in frame.dtypes.items()}
    assert dtypes["ts"] == "datetime64[us, UTC]"
    for name in ("kind", "session", "model", "resolved", "day", "file"):
        assert dtypes[name] == "category", name
    for name in ("input_tokens", "output_tokens", "seq", "attempts", "line"):
        assert dtypes[name] == "Int64", name
    for name in ("cost_usd", "latency_s", "first_token_s"):
        assert dtypes[name] == "Float64", name
    assert dtypes["ok"] == "boolean"
    for name in ("id", "prompt", "text", "author", "hash", "verdict", "note", "error_type"):
        assert dtypes[name] == "str", name
    for name in ("params", "links", "tags"):
        assert dtypes[name] == "object", name


def test_values_of_a_call_a_decision_and_a_note(book: Book, frame: pd.DataFrame) -> None:
    r = book.records
    by_id = frame.set_index("id")
    gpt = by_id.loc[r["gpt1"]["id"]]
    assert (gpt["prompt"], gpt["system"], gpt["text"]) == ("What is 2+2?", "Be terse.", "4")
    assert gpt["params"] == {"temperature": 0.2, "max_tokens": 64}
    assert (gpt["model"], gpt["resolved"], gpt["ok"]) == ("gpt", "openai:gpt-4o", True)
    assert (gpt["input_tokens"], gpt["output_tokens"], gpt["cost_usd"]) == (11, 22, 0.01)
    assert (gpt["latency_s"], gpt["first_token_s"], gpt["attempts"]) == (1.5, 0.25, 1)
    assert (gpt["finish_reason"], gpt["model_version"]) == ("stop", "openai:gpt-4o-v1")
    assert gpt["day"] == date(2026, 11, 24) and gpt["author"] == r["gpt1"]["author"]["name"]
    assert gpt["request_hash"] == r["gpt1"]["request_hash"] and gpt["hash"] == r["gpt1"]["hash"]
    assert gpt["source"] == "analysis.ipynb" and gpt["session"] == "S-one"
    failed = by_id.loc[r["gemini"]["id"]]
    assert (failed["ok"], failed["error_type"], failed["error"]) == (
        False,
        "RateLimited",
        "429: slow down",
    )
    assert pd.isna(failed["cost_usd"]) and pd.isna(failed["system"]) and failed["text"] == ""
    pick = by_id.loc[r["pick"]["id"]]
    assert (pick["verdict"], pick["choice"]) == ("pick", r["gpt1"]["id"])
    assert pick["reason"] == "shorter <b>&</b> right" and pick["tags"] == ["math"]
    assert pick["links"] == [r["gpt1"]["id"], r["claude1"]["id"]]
    assert pd.isna(pick["ok"]) and pd.isna(pick["model"]) and pick["params"] is None
    assert by_id.loc[r["note1"]["id"]]["note"] == "both fine"
    pause = frame[frame["kind"] == "pause"].iloc[0]
    assert pause["reason"] == "lunch" and pd.isna(pause["note"])


def test_file_and_line_come_from_where_each_record_was(book: Book, frame: pd.DataFrame) -> None:
    where = {line.record["id"]: (str(line.path), line.number) for line in book.lines()}
    assert {
        i: (f, n) for i, f, n in zip(frame["id"], frame["file"], frame["line"], strict=True)
    } == where


def test_plain_dicts_have_no_file_or_line(book: Book) -> None:
    frame = to_frame([line.record for line in book.lines()])
    assert frame["file"].isna().all() and frame["line"].isna().all()
    assert len(frame) == 13


def test_load_records_and_read_frame_match_the_store(book: Book, frame: pd.DataFrame) -> None:
    loaded = load_records(book.files())
    assert isinstance(loaded, RecordList)
    assert list(loaded) == [line.record for line in book.lines()]
    assert loaded.numbers == [line.number for line in book.lines()]
    assert loaded.paths == [str(line.path) for line in book.lines()]
    pd.testing.assert_frame_equal(to_frame(loaded), frame)
    pd.testing.assert_frame_equal(read_frame(book.files()), frame)
    pd.testing.assert_frame_equal(
        read_frame(book.files(), kind="call", model="gpt"),
        to_frame(loaded, kind="call", model="gpt"),
    )


def test_loading_skips_a_torn_tail_and_leaves_the_file_alone(book: Book) -> None:
    path = book.files()[0]
    path.write_bytes(path.read_bytes() + b'{"v":1,"id":"half')
    before = path.read_bytes()
    assert len(load_records([path])) == 5
    assert len(read_frame([path])) == 5
    assert path.read_bytes() == before and not list(path.parent.glob("*.torn"))


def test_a_corrupt_line_is_named(book: Book) -> None:
    path = book.files()[0]
    lines = path.read_bytes().split(b"\n")
    lines[2] = b"{not json"
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(store.CorruptLine) as caught:
        load_records([path])
    assert caught.value.number == 3 and caught.value.path == path
    lines[2] = b"[1, 2]"
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(store.CorruptLine, match="not a JSON object"):
        read_frame([path])


def test_an_empty_input_gives_an_empty_frame_with_every_column() -> None:
    frame = to_frame([])
    assert list(frame.columns) == list(COLUMNS) and len(frame) == 0


# -- filters -----------------------------------------------------------------------------------


def ids(frame: pd.DataFrame) -> list[str]:
    return list(frame["id"])


@pytest.mark.parametrize(
    "since, until",
    [
        ("2026-11-25", None),
        (date(2026, 11, 25), date(2026, 11, 25)),
        (datetime(2026, 11, 25), "2026-11-25"),  # naive means UTC
        ("2026-11-25T00:00:00+00:00", datetime(2026, 11, 25, 23, 59, tzinfo=UTC)),
        (datetime(2026, 11, 25, 1, tzinfo=UTC) - timedelta(hours=1), None),
    ],
)
def test_since_and_until_take_strings_dates_and_datetimes(
    book: Book, frame: pd.DataFrame, since: Any, until: Any
) -> None:
    day2 = frame[frame["day"] == date(2026, 11, 25)]
    assert len(day2) == 8
    assert ids(to_frame(book.lines(), since=since, until=until)) == ids(day2)


def test_until_a_date_includes_that_whole_day(book: Book, frame: pd.DataFrame) -> None:
    day1 = frame[frame["day"] == date(2026, 11, 24)]
    assert ids(to_frame(book.lines(), until="2026-11-24")) == ids(day1)
    assert ids(to_frame(book.lines(), until=date(2026, 11, 24))) == ids(day1)
    # a datetime is an instant: the first day's records are all after 23:50
    assert ids(to_frame(book.lines(), until=datetime(2026, 11, 24, 23, 50))) == []
    noon_in_tokyo = "2026-11-25T18:00:00+09:00"  # 09:00 UTC: before the second day's records
    assert ids(to_frame(book.lines(), until=noon_in_tokyo)) == ids(day1)


def test_a_bound_that_is_not_a_date_says_what_to_write(book: Book) -> None:
    with pytest.raises(InvalidOption, match=r"^'yesterday' is not a date or time: use YYYY-MM-DD"):
        to_frame(book.lines(), since="yesterday")
    with pytest.raises(InvalidOption, match=r"^'2026-13-01' is not a date or time"):
        read_frame(book.files(), until="2026-13-01")


def test_model_filter_keeps_the_calls_and_what_was_said_about_them(book: Book) -> None:
    r = book.records
    got = to_frame(book.lines(), model="claude")
    assert ids(got) == [r["claude1"]["id"], r["pick"]["id"], r["note1"]["id"]]
    resolved = to_frame(book.lines(), model=["openai:gpt-4o"], kind="call")
    assert ids(resolved) == [r["gpt1"]["id"], r["gpt2"]["id"]]
    both = to_frame(book.lines(), model=["gemini", "gpt"], kind=["call"])
    assert set(both["model"]) == {"gpt", "gemini"} and len(both) == 4


def test_tag_filter_keeps_tagged_records_and_what_they_judged(book: Book) -> None:
    r = book.records
    math = to_frame(book.lines(), tag="math")
    assert ids(math) == [r["gpt1"]["id"], r["claude1"]["id"], r["pick"]["id"], r["note2"]["id"]]
    todo = to_frame(book.lines(), tag=["todo"], kind="decision")
    assert ids(todo) == [r["reject"]["id"]]
    assert ids(to_frame(book.lines(), tag="nothing")) == []


def test_session_and_kind_filters(book: Book, frame: pd.DataFrame) -> None:
    assert set(to_frame(book.lines(), session="S-two")["session"]) == {"S-two"}
    assert len(to_frame(book.lines(), session=["S-one", "S-two"])) == len(frame)
    notes = to_frame(book.lines(), kind="note")
    assert ids(notes) == [book.records["note1"]["id"], book.records["note2"]["id"]]
    assert set(to_frame(book.lines(), kind=["pause", "resume"])["kind"]) == {"pause", "resume"}


# -- pivots ------------------------------------------------------------------------------------


def test_answers_pivot_holds_the_latest_successful_reply(frame: pd.DataFrame) -> None:
    table = answers(frame)
    assert sorted(table.columns) == ["claude", "gemini", "gpt"]
    assert sorted(table.index) == ["Name a prime", "What is 2+2?"]
    assert table.loc["What is 2+2?", "gpt"] == "2+2 is 4"  # the later of two answers
    assert table.loc["What is 2+2?", "claude"] == "four"
    assert table.loc["Name a prime", "gemini"] == "7"  # not the later failed call's empty text
    assert pd.isna(table.loc["Name a prime", "gpt"])


def test_cost_by_model_by_day(frame: pd.DataFrame) -> None:
    table = cost_by_model_by_day(frame)
    assert list(table.index) == [date(2026, 11, 24), date(2026, 11, 25)]
    assert table.loc[date(2026, 11, 24), "gpt"] == pytest.approx(0.01)
    assert table.loc[date(2026, 11, 25), "gpt"] == pytest.approx(0.02)
    assert table.loc[date(2026, 11, 25), "gemini"] == pytest.approx(0.005)
    assert table.loc[date(2026, 11, 24), "gemini"] == 0
    assert table.loc[date(2026, 11, 24), "claude"] == 0  # an unknown price adds nothing


def test_decisions_give_one_row_per_verdict_with_the_answer_it_names(
    book: Book, frame: pd.DataFrame
) -> None:
    r = book.records
    table = decisions(frame)
    assert list(table["decision"]) == [r["pick"]["id"], r["reject"]["id"]]
    assert list(table["call"]) == [r["gpt1"]["id"], r["gemini"]["id"]]
    assert list(table["model"]) == ["gpt", "gemini"]
    assert list(table["judged"]) == [["gpt", "claude"], ["gemini"]]
    assert list(table["verdict"]) == ["pick", "reject"]
    assert table["text"][0] == "4"
    assert table["call_hash"][0] == r["gpt1"]["hash"]
