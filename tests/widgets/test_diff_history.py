"""Word diffs of two answers and the history of earlier prompts, from real runs."""

from __future__ import annotations

from typing import Any

from tests.conftest import wire_config
from workbench.sessions import Session
from workbench.widgets.diff import tokens, word_diff, word_diff_html
from workbench.widgets.history import earlier_comparisons
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


def test_history_lists_earlier_comparisons_newest_first(wire: dict[str, Any]) -> None:
    session = Session(wire_config(wire))  # type: ignore[arg-type]
    session.compare("first question", ["openai:gpt-test", "gemini:gemini-test"], system="Be kind.")
    session.compare("second question", ["anthropic:claude-test"])
    session.compare("second question", ["anthropic:claude-test"])  # run again: its own entry
    assert session.labbook is not None
    items = earlier_comparisons(session.labbook.root, session.config)
    assert [i.prompt for i in items] == ["second question", "second question", "first question"]
    assert items[2].models == ("openai:gpt-test", "gemini:gemini-test")
    assert items[2].system == "Be kind." and items[0].system is None
    assert len(items[2].ids) == 2 and items[0].ids != items[1].ids


def test_an_alias_s_own_system_prompt_is_not_loaded_back_as_the_user_s() -> None:
    session = Session()
    session.compare("2+2?", ["terse"], max_tokens=4)
    assert session.labbook is not None
    (item,) = earlier_comparisons(session.labbook.root, session.config)
    assert item.models == ("terse",) and item.system is None
