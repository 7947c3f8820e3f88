"""export(): each format parsed back from a real two-day lab notebook."""

from __future__ import annotations

import io
import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.labbook.test_query import Book, call, write_book
from workbench.errors import InvalidOption
from workbench.export import FORMATS, commit_index, export
from workbench.labbook.book import LabBook
from workbench.labbook.chain import record_hash
from workbench.labbook.query import COLUMNS, load_records, to_frame
from workbench.labbook.verify import verify

HOSTILE = "<script>alert('x')</script> & \"quotes\" ``` # not a heading"


@pytest.fixture
def book() -> Book:
    return write_book(Path.cwd() / "labbook")


def in_time_order(book: Book) -> list[dict[str, Any]]:
    frame = to_frame(book.lines())
    lines = book.lines()
    return [lines[i].record for i in frame.index]


def positions(text: str, needles: list[str]) -> list[int]:
    found = [text.find(n) for n in needles]
    assert -1 not in found, [n for n, at in zip(needles, found, strict=True) if at < 0]
    return found


def test_markdown_lists_every_record_in_time_order_under_a_summary(book: Book) -> None:
    records = in_time_order(book)
    text = export(book.lines(), "md")
    hashes = positions(text, [r["hash"] for r in records])
    assert hashes == sorted(hashes)
    assert text.startswith("# Lab notebook: 2026-11-24 23:50:01 UTC to 2026-11-25 ")
    assert (
        "- **Records:** 13 (5 calls, 2 decisions, 2 notes, 1 pause, 1 resume, 2 sessions)" in text
    )
    assert "- **Models:** claude (anthropic:claude\\-x) × 1" not in text  # hyphens stay readable
    assert (
        "- **Models:** claude (anthropic:claude-x) × 1, gemini (gemini:gemini-x) × 2, gpt" in text
    )
    assert "- **Total spend:** $0.0350 (2 calls without a known price)" in text
    assert "`workbench log verify`" in text and "SHA-256" in text and "`prev`" in text
    days = positions(text, ["\n## 2026-11-24\n", "\n## 2026-11-25\n"])
    assert days[0] < hashes[0] and hashes[4] < days[1] < hashes[5]
    assert text.count("not yet committed") == 13
    assert "```text\n4\n```" in text and "```text\nWhat is 2+2?\n```" in text
    assert "- **About:** " + book.records["gpt1"]["id"] + " (chosen): gpt: What is 2+2?" in text
    assert "RateLimited: 429: slow down" in text


def test_commits_are_shown_for_the_records_git_holds(book: Book) -> None:
    records = in_time_order(book)
    commits = {r["hash"]: ("a" * 40, "2026-11-25T12:00:00+00:00") for r in records[:4]}
    text = export(book.lines(), "md", first_commits=commits)
    assert text.count("a" * 40 + " (2026-11-25T12:00:00+00:00)") == 4
    assert text.count("not yet committed") == 9


class History:
    """The git layer's answer: the first three lines of every file are committed."""

    def first_commits(self, path: Path) -> list[tuple[str, str]]:
        return [(f"{n}" * 40, f"2026-11-2{n}T12:00:00+00:00") for n in range(3)]

    def committed_line_count(self, path: Path) -> int:
        return 3


def test_commit_index_maps_each_committed_line_to_its_first_commit(book: Book) -> None:
    records = load_records(book.files())
    index = commit_index(records, History())
    assert len(index) == 6  # 3 lines of each of two files
    assert index[records[0]["hash"]] == ("0" * 40, "2026-11-20T12:00:00+00:00")
    assert index[records[2]["hash"]] == ("2" * 40, "2026-11-22T12:00:00+00:00")
    assert records[3]["hash"] not in index
    text = export(records, "md", first_commits=index)
    assert text.count("not yet committed") == 7 and text.count("2" * 40 + " (2026-11-22") == 2


def test_markdown_fences_outlast_backticks_in_answers(tmp_path: Path) -> None:
    book = LabBook(tmp_path / "lb", "S", source="t", git=None)
    try:
        call(book, "gpt", "openai:gpt-4o", HOSTILE, "````\ncode\n````")
    finally:
        book.close()
    text = export(book.lines(), "md")
    assert "`````text\n````\ncode\n````\n`````" in text
    assert "````text\n" + HOSTILE + "\n````" in text


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(text: str) -> Page:
    page = Page()
    page.feed(text)
    page.close()
    return page


def test_html_is_one_self_contained_escaped_printable_page(book: Book) -> None:
    records = in_time_order(book)
    text = export(book.lines(), "html")
    page = parse(text)
    data = "".join(page.text)
    hashes = positions(data, [r["hash"] for r in records])
    assert hashes == sorted(hashes)
    assert "script" not in page.tags and "link" not in page.tags and "img" not in page.tags
    assert {name for name, _ in page.attrs} <= {"lang", "charset", "class", "id"}  # anchors
    assert not re.search(r"url\(|@import|https?://|<script", text)
    assert page.tags.count("article") == 13 and page.tags.count("section") == 3  # verify + 2 days
    assert "@media print" in text and "break-inside: avoid" in text
    assert "shorter <b>&</b> right" in data  # the decision's reason, as text
    assert "shorter &lt;b&gt;&amp;&lt;/b&gt; right" in text
    assert "13 (5 calls, 2 decisions, 2 notes, 1 pause, 1 resume, 2 sessions)" in data
    assert "workbench log verify" in data


def test_html_escapes_hostile_prompts_and_answers(tmp_path: Path) -> None:
    book = LabBook(tmp_path / "lb", "S", source="<img src=x>", git=None)
    try:
        call(book, "gpt", "openai:gpt-4o", HOSTILE, HOSTILE, system=HOSTILE)
    finally:
        book.close()
    text = export(book.lines(), "html")
    page = parse(text)
    assert "script" not in page.tags and "img" not in page.tags
    assert "".join(page.text).count(HOSTILE) == 3
    assert "<img src=x>" in "".join(page.text)


def test_jsonl_gives_the_records_verbatim_and_they_re_verify(book: Book, tmp_path: Path) -> None:
    text = export(book.lines(), "jsonl")
    lines = text.splitlines(keepends=True)
    exported = [json.loads(line) for line in lines]
    written = [line.record for line in book.lines()]
    assert exported == written  # each session together, in chain order
    on_disk = b"".join(path.read_bytes() for path in book.files())
    assert text.encode() == on_disk
    assert all(record_hash(r) == r["hash"] for r in exported)
    for session in ("S-one", "S-two"):
        out = tmp_path / f"{session}.jsonl"
        out.write_text(
            "".join(
                line for line, r in zip(lines, exported, strict=True) if r["session"] == session
            )
        )
        assert verify([out]).ok


def test_jsonl_of_records_sorted_by_time_and_id_keeps_each_chain_in_order(book: Book) -> None:
    shuffled = sorted(
        (line.record for line in book.lines()), key=lambda r: (r["ts"], r["id"]), reverse=True
    )
    exported = [json.loads(line) for line in export(shuffled, "jsonl").splitlines()]
    assert exported == [line.record for line in book.lines()]


def test_jsonl_keeps_interleaved_sessions_apart(tmp_path: Path) -> None:
    one = LabBook(tmp_path / "lb", "A", source="t", git=None)
    two = LabBook(tmp_path / "lb", "B", source="t", git=None)
    try:
        for i in range(3):
            call(one, "gpt", "openai:gpt-4o", f"a{i}", "x")
            call(two, "gpt", "openai:gpt-4o", f"b{i}", "y")
    finally:
        one.close()
        two.close()
    records = list(load_records([one.path, two.path]))
    by_time = sorted(records, key=lambda r: (r["ts"], r["seq"]))
    assert [r["session"] for r in by_time[:4]] == ["A", "A", "B", "B"]  # interleaved in time
    exported = [json.loads(line) for line in export(by_time, "jsonl").splitlines()]
    assert exported == records  # A's chain, then B's


def test_csv_is_the_tidy_frame(book: Book) -> None:
    records = in_time_order(book)
    text = export(load_records(book.files()), "csv")
    table = pd.read_csv(io.StringIO(text))
    assert list(table.columns) == list(COLUMNS)
    assert list(table["id"]) == [r["id"] for r in records]
    assert list(table["hash"]) == [r["hash"] for r in records]
    assert json.loads(table["links"][list(table["kind"]).index("decision")]) == records[3]["links"]
    assert json.loads(table["params"][1]) == {"temperature": 0.2, "max_tokens": 64}
    assert table["line"].notna().all()


def test_filters_narrow_every_format(book: Book) -> None:
    r = book.records
    day2 = [x for x in in_time_order(book) if x["ts"].startswith("2026-11-25")]
    text = export(book.lines(), "md", since="2026-11-25", until="2026-11-25")
    assert positions(text, [x["hash"] for x in day2]) == sorted(
        positions(text, [x["hash"] for x in day2])
    )
    assert r["gpt1"]["hash"] not in text and "2026-11-24" not in text
    assert "- **From:** 2026\\-11\\-25" not in text and "- **From:** 2026-11-25" in text
    assert "- **Records:** 8 (3 calls, 1 decision, 1 note, 1 pause, 1 resume, 1 session)" in text
    claude = export(book.lines(), "jsonl", model="claude")
    assert [json.loads(x)["id"] for x in claude.splitlines()] == [
        r["claude1"]["id"], r["pick"]["id"], r["note1"]["id"],
    ]  # fmt: skip
    html = export(book.lines(), "html", tag="todo")
    assert (
        r["reject"]["hash"] in html
        and r["gemini"]["hash"] in html
        and r["gpt1"]["hash"] not in html
    )
    assert "Tag filter" in html and "<dt>Tag filter</dt><dd>todo</dd>" in html
    assert len(pd.read_csv(io.StringIO(export(book.lines(), "csv", model="gemini")))) == 3


def test_an_empty_export_still_has_its_header(book: Book) -> None:
    text = export(book.lines(), "md", since="2030-01-01")
    assert "- **Records:** 0 (none)" in text and "How to verify" in text
    assert parse(export(book.lines(), "html", since="2030-01-01")).tags.count("article") == 0
    assert export(book.lines(), "jsonl", since="2030-01-01") == ""


def test_unknown_formats_are_refused(book: Book) -> None:
    assert FORMATS == ("md", "html", "jsonl", "csv")
    with pytest.raises(InvalidOption, match="md, html, jsonl, csv"):
        export(book.lines(), "pdf")


def test_a_record_whose_time_cannot_be_read_is_exported_saying_so(book: Book) -> None:
    """A hand-edited time ("ts": "garbage") made the export fail with NaT's ValueError."""
    records = [line.record for line in book.lines()]
    damaged = {**records[1], "ts": "garbage"}
    for fmt in ("md", "html"):
        text = export([*records[:1], damaged, *records[2:]], fmt)
        assert "date unknown" in text and "time unknown" in text
        assert damaged["id"] in text
    alone = export([damaged], "md")
    assert "## nan" not in alone and "### nan" not in alone
