"""Word diffs of two answers and the history of earlier prompts, from real runs."""

from __future__ import annotations

from typing import Any

from tests.conftest import wire_config
from workbench.sessions import Session
from workbench.widgets.diff import tokens, word_diff, word_diff_html
from workbench.widgets.history import earlier_prompts
from workbench.widgets.panel import panel


def test_word_diff_marks_changed_words_and_keeps_the_rest() -> None:
    a, b = "The sky is blue because of Rayleigh scattering.", "The sky is blue due to scattering!"
    assert "".join(tokens(a)) == a
    pieces = word_diff(a, b)
    assert "".join(t for op, t in pieces if op != "+") == a
    assert "".join(t for op, t in pieces if op != "-") == b
    assert ("-", "because of Rayleigh") in pieces and ("+", "due to") in pieces
    html = word_diff_html("x <b>", "x <i>")
    assert '<div class="wb-diff">x &lt;<del>b</del><ins>i</ins>&gt;</div>' in html
    assert "100% the same" in word_diff_html("same words", "same words")


def test_the_diff_view_compares_two_answers_of_the_last_run(wire: dict[str, Any]) -> None:
    wire["openai"].responder = lambda request: "alpha beta gamma"
    wire["gemini"].responder = lambda request: "alpha delta gamma"
    p = panel(["openai:gpt-test", "gemini:gemini-test"], session=Session(wire_config(wire)))  # type: ignore[arg-type]
    p.run("diff me")
    p.wait(30)
    assert p.diff.left.value == "openai:gpt-test" and p.diff.right.value == "gemini:gemini-test"
    assert "<del>beta</del><ins>delta</ins>" in p.diff.view.value
    p.diff.right.value = "openai:gpt-test"
    assert "choose two different answers" in p.diff.view.value


def test_history_lists_earlier_prompts_and_loads_one_back(wire: dict[str, Any]) -> None:
    session = Session(wire_config(wire))  # type: ignore[arg-type]
    session.compare("first question", ["openai:gpt-test", "gemini:gemini-test"], system="Be kind.")
    session.compare("second question", ["anthropic:claude-test"])
    assert session.labbook is not None
    items = earlier_prompts(session.labbook.root, session.config)
    assert [i.prompt for i in items] == ["second question", "first question"]
    assert sorted(items[1].models) == ["gemini:gemini-test", "openai:gpt-test"]
    assert items[1].system == "Be kind." and items[0].system is None

    p = panel(["anthropic:claude-test"], session=session)
    assert len(p.history.picker.options) == 2
    p.history.picker.value = 1
    p.history.button.click()
    assert p.controls.prompt.value == "first question"
    assert p.controls.system.value == "Be kind."
    assert sorted(p.controls.models.value) == ["gemini:gemini-test", "openai:gpt-test"]
    assert "loaded a prompt" in p.status.value
    p.run_button.click()
    comparison = p.wait(30)
    assert [r.text for r in comparison] == ["echo: first question"] * 2
    assert p.history.items[0].prompt == "first question"


def test_an_alias_s_own_system_prompt_is_not_loaded_back_as_the_user_s() -> None:
    session = Session()
    session.compare("2+2?", ["terse"], max_tokens=4)
    assert session.labbook is not None
    (item,) = earlier_prompts(session.labbook.root, session.config)
    assert item.models == ("terse",) and item.system is None
