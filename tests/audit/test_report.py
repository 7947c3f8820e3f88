"""Result rows and tables show what is unknown as unknown, and score only complete answers."""

from __future__ import annotations

import pandas as pd

from workbench.audit import report
from workbench.audit.agreement import outcome, score_all
from workbench.audit.exercise import loads
from workbench.audit.items import Item
from workbench.audit.records import answer_row, reply_from
from workbench.providers.base import Prompt, Reply, ReplyError, Usage
from workbench.providers.registry import ModelSpec
from workbench.run import Job

SCORER = loads("name: s\ntemplate: '{q}'\nitems: [{q: x}]\nscorer: normalised\n").scorer
ITEM = Item("fr", {"country": "France"}, "Paris")


def row(replies: list[Reply]) -> dict[str, object]:
    """A result row as the runner writes it, from these replies to ITEM."""
    texts = [r.text for r in replies]
    scores = score_all(SCORER, replies, texts, ITEM)
    answers = [
        answer_row(
            Job(ModelSpec(r.model, *r.resolved.split(":")), Prompt.of("q")),
            r,
            text,
            score,
            record=None,
            live=True,
            key=score.answer if score else None,
        )
        for r, text, score in zip(replies, texts, scores, strict=True)
    ]
    result, agreed = outcome(SCORER, scores, ITEM.expected)
    return {"item": ITEM.id, "index": 0, "expected": ITEM.expected, "outcome": result,
            "agreed": agreed, "answers": answers}  # fmt: skip


def test_unknown_usage_and_cost_stay_unknown_in_rows_and_tables() -> None:
    known = Reply("gpt", "openai:gpt-test", "Paris", Usage(12, 2), cost_usd=0.014)
    unknown = Reply("srv", "compat:srv", "Paris.", Usage(None, None), cost_usd=None)  # type: ignore[arg-type]
    rows = [row([known, unknown])]
    srv = rows[0]["answers"][1]  # type: ignore[index]
    assert srv["input_tokens"] is None and srv["output_tokens"] is None
    frame = report.answers(rows)  # type: ignore[arg-type]
    assert frame["input_tokens"].tolist() == [12, pd.NA]
    assert str(frame["input_tokens"].dtype) == "Int64"
    table = report.per_model(rows)  # type: ignore[arg-type]
    assert table.loc["gpt", "cost_usd"] == 0.014
    assert pd.isna(table.loc["srv", "cost_usd"]), "an unpriced model's cost is not 0"


def test_a_cut_short_answer_is_an_error_not_scored_nor_counted_in_accuracy() -> None:
    whole = Reply("gpt", "openai:gpt-test", "Paris", Usage(12, 2), cost_usd=0.014)
    cut = Reply(
        "srv", "compat:srv", "Par", Usage(12, 1), cost_usd=0.0,
        error=ReplyError("IncompleteAnswer", "the stream ended without a finish reason"),
    )  # fmt: skip
    rows = [row([whole, cut])]
    assert rows[0]["outcome"] == "error"
    answer = rows[0]["answers"][1]  # type: ignore[index]
    assert answer["correct"] is None and answer["text"] == "Par"  # kept, not judged
    assert answer["error"].startswith("IncompleteAnswer: ")
    table = report.per_model(rows)  # type: ignore[arg-type]
    assert table.loc["gpt", "accuracy"] == 1.0
    assert pd.isna(table.loc["srv", "accuracy"]) and table.loc["srv", "errors"] == 1


def test_a_record_without_counts_gives_back_unknown_usage() -> None:
    record = {
        "model": "srv",
        "resolved": "compat:srv",
        "reply": {"text": "Paris", "usage": {"input_tokens": None, "output_tokens": None}},
    }
    assert reply_from(record).usage == Usage(None, None)  # type: ignore[arg-type]
    record["reply"] = {"text": "Paris", "usage": {}}
    assert reply_from(record).usage == Usage(None, None)  # type: ignore[arg-type]


def test_the_figure_takes_a_model_name_of_any_length() -> None:
    """The layout is worked out from the names' lengths: a long one makes it bigger, not fail."""
    long = "x" * 100
    short = Reply("gpt", "openai:gpt-test", "Paris", Usage(12, 2), cost_usd=0.014)
    other = Reply(long, "openai:" + long, "Rome", Usage(12, 2), cost_usd=0.01)
    rows = [row([short, other])]
    chart = report.plot(rows)  # type: ignore[arg-type]
    width, height = chart.get_size_inches()
    assert width > report.WIDTH and height > report.HEIGHT
    assert all(a.get_position().height > 0 and a.get_position().width > 0 for a in chart.axes)
    import io

    buffer = io.BytesIO()
    chart.savefig(buffer, format="png", dpi=40)
    assert buffer.getvalue().startswith(b"\x89PNG")


def test_the_figure_says_an_unknown_cost_is_unknown_not_zero() -> None:
    known = Reply("gpt", "openai:gpt-test", "Paris", Usage(12, 2), cost_usd=0.014)
    unknown = Reply("srv", "compat:srv", "Paris.", Usage(None, None), cost_usd=None)  # type: ignore[arg-type]
    chart = report.plot([row([known, unknown])])  # type: ignore[list-item]
    cost = chart.axes[1]
    assert [t.get_text() for t in cost.texts] == ["n/a"]
    assert cost.texts[0].get_position()[0] == 1  # under the second model, srv
