"""Judging in the panel: as soon as an answer is there, one winner, arena verdicts, ratings."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.conftest import wire_config
from tests.wire.harness import Step
from workbench.labbook.query import decisions, to_frame
from workbench.sessions import Session
from workbench.widgets.panel import Panel, panel

MODELS = ["openai:gpt-test", "anthropic:claude-test", "gemini:gemini-test"]


@pytest.fixture
def session(wire: dict[str, Any]) -> Session:
    return Session(wire_config(wire))  # type: ignore[arg-type]


def decided(session: Session) -> list[dict[str, Any]]:
    assert session.labbook is not None
    return [r for r in session.labbook.records() if r["kind"] == "decision"]


def run(p: Panel, prompt: str) -> None:
    p.controls.prompt.value = prompt
    p.run_button.click()
    p.wait(30)


def until(check: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_column_can_be_judged_while_another_model_still_runs(
    session: Session, wire: dict[str, Any]
) -> None:
    wire["anthropic"].queue(Step(delay_s=3))
    p = panel(MODELS[:2], session=session)
    fast, slow = p.columns
    p.controls.prompt.value = "who is first?"
    p.run_button.click()
    assert fast.decisions.pick.disabled  # nothing recorded yet
    until(lambda: not fast.decisions.pick.disabled)
    assert p.live is not None and p.live.running, "the slow model should still be running"
    assert slow.decisions.pick.disabled and slow.decisions.reject.disabled
    assert not fast.decisions.ratings[3].disabled
    fast.decisions.pick.click()
    (pick,) = decided(session)
    assert pick["data"]["verdict"] == "pick" and len(pick["links"]) == 1  # the answers there
    assert "✓ picked" in fast.decisions.said.value and p.live.running
    p.wait(30)
    # the run's summary does not hide what was recorded while it ran
    assert p.status_text.startswith("done in") and f"recorded {pick['id']}" in p.status_text
    assert not slow.decisions.pick.disabled
    slow.decisions.pick.click()  # the pick of all answers replaces the early one
    final = decided(session)[-1]
    assert final["data"]["supersedes"] == pick["id"] and len(final["links"]) == 2


def test_two_picks_leave_one_winner_on_screen_and_in_the_records(session: Session) -> None:
    p = panel(MODELS, session=session)
    run(p, "pick one")
    first, second = p.columns[0].decisions, p.columns[1].decisions
    first.pick.click()
    second.pick.click()
    old, new = decided(session)
    assert new["data"]["supersedes"] == old["id"]
    assert "✓ picked" in second.said.value and "picked" not in first.said.value
    assert first.pick.button_style == "" and second.pick.button_style == "success"
    assert f"replaces {old['id'][-8:]}" in p.status_text
    assert session.labbook is not None
    table = decisions(to_frame(session.labbook.lines()))
    assert list(table["decision"]) == [new["id"]] and list(table["model"]) == [MODELS[1]]


def test_arena_verdicts_and_ratings_are_recorded_linked_to_the_answers(session: Session) -> None:
    p = panel(MODELS, session=session)
    run(p, "judge us")
    assert p.comparison is not None
    ids = {m: p.comparison.record_id(m) for m in MODELS}
    arena = p.judge.arena
    assert (arena.a.value, arena.b.value) == (MODELS[0], MODELS[1])
    arena.buttons["b"].click()
    better = decided(session)[-1]
    assert better["data"]["verdict"] == "better"
    assert better["links"] == [ids[MODELS[0]], ids[MODELS[1]]]
    assert better["data"]["choice"] == ids[MODELS[1]]
    assert "▲ better than openai:gpt-test" in p.columns[1].decisions.said.value
    assert "▼ worse than" in p.columns[0].decisions.said.value
    arena.b.value = MODELS[2]
    arena.buttons["tie"].click()
    arena.buttons["both-bad"].click()  # replaces the tie on the same pair
    tie, bad = decided(session)[-2:]
    assert tie["data"] == {"verdict": "tie", "choice": None, "reason": None}
    assert bad["data"]["supersedes"] == tie["id"] and bad["data"]["verdict"] == "both-bad"

    bar = p.columns[2].decisions
    bar.ratings[3].click()
    rating = decided(session)[-1]
    assert rating["data"]["verdict"] == "rating" and rating["data"]["score"] == 4
    assert rating["links"] == [ids[MODELS[2]]]
    assert "★ 4/5" in bar.said.value and bar.ratings[3].button_style == "info"
    bar.ratings[1].click()
    assert decided(session)[-1]["data"]["supersedes"] == rating["id"]
    assert "★ 2/5" in bar.said.value and "★ 4/5" not in bar.said.value
    assert p.versus("a", MODELS[1], MODELS[2]) == decided(session)[-1]["id"]


def test_keys_move_between_columns_pick_rate_and_judge_the_pair(session: Session) -> None:
    p = panel(MODELS, session=session)
    run(p, "keys")
    assert p.comparison is not None
    assert "wb-current" in p.columns[0].box._dom_classes
    p.keys.press("ArrowRight")
    assert "wb-current" in p.columns[1].box._dom_classes
    assert "wb-current" not in p.columns[0].box._dom_classes
    p.keys.press("p")
    p.keys.press("5")
    p.keys.press("t")
    pick, rate, tie = decided(session)
    claude = p.comparison.record_id(MODELS[1])
    assert pick["data"]["choice"] == claude and rate["links"] == [claude]
    assert rate["data"]["score"] == 5 and tie["data"]["verdict"] == "tie"
    p.keys.press("ArrowLeft")
    p.keys.press("ArrowLeft")
    assert "wb-current" in p.columns[2].box._dom_classes


def test_a_failed_answer_can_be_rejected_but_not_picked_rated_or_compared(
    session: Session, wire: dict[str, Any]
) -> None:
    wire["anthropic"].queue(Step(status=400))
    p = panel(MODELS[:2], session=session)
    run(p, "one fails")
    bar = p.columns[1].decisions
    assert bar.pick.disabled and all(b.disabled for b in bar.ratings)
    assert not bar.reject.disabled
    assert all(b.disabled for b in p.judge.arena.buttons.values())
    p.keys.press("ArrowRight")
    p.keys.press("p")
    assert p.status_text.startswith("not recorded:") and "no answer" in p.status_text
    assert decided(session) == []
