"""`decisions()`: the verdicts that stand, one row each, whatever replaced the others."""

from __future__ import annotations

from pathlib import Path

from tests.labbook.test_query import call
from workbench.labbook.book import LabBook
from workbench.labbook.query import decisions, to_frame


def test_a_new_pick_replaces_the_old_and_each_verdict_is_one_row() -> None:
    book = LabBook(Path.cwd() / "labbook", "S-arena", git=None)
    try:
        a = call(book, "gpt", "openai:gpt-4o", "Name a colour", "red")
        b = call(book, "claude", "anthropic:claude-x", "Name a colour", "blue")
        c = call(book, "gemini", "gemini:gemini-x", "Name a colour", "green")
        ids = [a["id"], b["id"], c["id"]]
        first = book.decide("pick", ids, choice=a["id"])
        second = book.decide("pick", ids, choice=b["id"], supersedes=first["id"])
        early = book.decide("pick", ids[:2], choice=a["id"])  # picked mid-run, then again
        again = book.decide("pick", ids, choice=c["id"], supersedes=early["id"])
        rated = book.decide("rating", [a["id"]], score=2)
        rerated = book.decide("rating", [a["id"]], score=4)  # no supersedes: same answer
        better = book.decide("better", [a["id"], b["id"]], choice=b["id"])
        tie = book.decide("tie", [b["id"], c["id"]])
        records = book.lines()
        frame = to_frame(list(records))
    finally:
        book.close()

    table = decisions(frame)
    assert second["id"] not in set(table["decision"])  # the same answers, picked again
    assert list(table["decision"]) == [again["id"], rerated["id"], better["id"], tie["id"]]
    assert list(table["verdict"]) == ["pick", "rating", "better", "tie"]
    assert list(table["model"][:3]) == ["gemini", "gpt", "claude"]
    assert table["model"].isna()[3] and list(table["judged"][3]) == ["claude", "gemini"]
    assert table["score"][1] == 4 and table["supersedes"][0] == early["id"]
    assert list(table["judged"][0]) == ["gpt", "claude", "gemini"]  # once, not once per answer

    everything = decisions(frame, latest=False)
    assert list(everything["decision"]) == [
        first["id"], second["id"], early["id"], again["id"], rated["id"], rerated["id"],
        better["id"], tie["id"],
    ]  # fmt: skip
    assert rated["id"] in set(everything["decision"])
