"""The history brings an earlier comparison back whole from the lab notebook, sending nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import wire_config
from workbench.sessions import Session
from workbench.widgets.panel import Panel, panel

MODELS = ["openai:gpt-test", "gemini:gemini-test"]


@pytest.fixture
def session(wire: dict[str, Any]) -> Session:
    return Session(wire_config(wire))  # type: ignore[arg-type]


def sent(wire: dict[str, Any]) -> int:
    return sum(len(server.requests) for server in wire.values())


def run(p: Panel, prompt: str) -> None:
    p.controls.prompt.value = prompt
    p.run_button.click()
    p.wait(30)


def choose(p: Panel, prompt: str) -> None:
    p.history.refresh()
    index = next(i for i, item in enumerate(p.history.items) if item.prompt == prompt)
    p.history.picker.value = index
    p.history.button.click()


def test_loading_an_earlier_comparison_shows_its_answers_figures_and_pick_without_a_call(
    session: Session, wire: dict[str, Any]
) -> None:
    wire["openai"].responder = lambda request: "Paris is `the` capital."
    p = panel(MODELS, session=session)
    run(p, "Capital of France?")
    p.pick(MODELS[1])
    figures = p.columns[0].stats.value
    run(p, "Something else")
    assert "Something else" in p.columns[1].answer.value
    before = sent(wire)

    choose(p, "Capital of France?")
    assert sent(wire) == before, "bringing an earlier comparison back must send nothing"
    assert "Paris is <code>the</code> capital." in p.columns[0].answer.value
    assert "echo: Capital of France?" in p.columns[1].answer.value
    assert "Something else" not in p.columns[1].answer.value
    assert p.columns[0].stats.value == figures  # tokens, cost, latency as recorded
    assert "recorded" in p.recalled_text.value and p.recalled_bar.layout.display is None
    assert "recorded" in p.columns[0].head.value
    assert "✓ picked" in p.columns[1].decisions.said.value  # the decision that stands
    assert p.controls.prompt.value == "Capital of France?"
    assert "wb-summary" in p.summary.value
    assert "brought back" in p.status_text

    p.columns[0].decisions.pick.click()  # a new pick on it replaces the recorded one
    assert session.labbook is not None
    picks = [r for r in session.labbook.records() if r["kind"] == "decision"]
    assert picks[-1]["data"]["supersedes"] == picks[0]["id"]
    assert "picked" not in p.columns[1].decisions.said.value

    p.rerun_button.click()  # one click sends it again, to the same models
    again = p.wait(30)
    assert sent(wire) == before + 2
    assert [r.text for r in again] == ["Paris is `the` capital.", "echo: Capital of France?"]
    assert p.recalled_bar.layout.display == "none"
    assert "recorded" not in p.columns[0].head.value


def test_a_follow_up_comes_back_with_its_conversation_and_can_be_continued(
    session: Session, wire: dict[str, Any]
) -> None:
    p = panel(MODELS[:1], session=session)
    run(p, "First question")
    p.follow_text.value = "And the second?"
    p.follow_button.click()
    p.wait(30)
    run(p, "Unrelated")
    before = sent(wire)

    choose(p, "And the second?")
    assert sent(wire) == before
    column = p.columns[0]
    assert "conversation so far: 1 earlier turn" in column.thread.value
    assert "First question" in column.thread.value and "echo: First question" in column.thread.value
    assert "echo: And the second?" in column.answer.value
    assert not p.follow_button.disabled

    p.follow_text.value = "And a third?"  # continues the recorded conversation
    p.follow_button.click()
    third = p.wait(30)
    body = wire["openai"].requests[-1].body
    assert [m["content"] for m in body["messages"]] == [
        "First question", "echo: First question", "And the second?",
        "echo: And the second?", "And a third?",
    ]  # fmt: skip
    assert third.jobs[0].parent is not None
