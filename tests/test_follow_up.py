"""Follow-ups: each model continues its own conversation, side by side, recorded as a thread."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import wire_config
from workbench.errors import InvalidOption, InvalidPrompt
from workbench.sessions import Session

MODELS = ["openai:gpt-test", "anthropic:claude-test", "gemini:gemini-test"]


def _sent_messages(server: Any) -> list[Any]:
    body = server.requests[-1].body
    return list(body.get("messages") or body.get("contents") or [])


def test_each_model_gets_its_own_earlier_answer_then_the_follow_up(
    wire: dict[str, Any],
) -> None:
    wire["openai"].responder = lambda request: "Paris."
    wire["anthropic"].responder = lambda request: "Lyon, surely."
    with Session(wire_config(wire)) as session:  # type: ignore[arg-type]
        first = session.compare("Capital of France?", MODELS, temperature=0.5)
        second = first.follow_up("And in one word?")
        assert second.models == first.models
        assert [j.parent for j in second.jobs] == list(first.record_ids)
        for job in second.jobs:
            roles = [m.role for m in job.prompt.turns]
            assert roles == ["user", "assistant", "user"]
            assert job.prompt.params.temperature == 0.5  # the conversation keeps its params
        openai_sent = _sent_messages(wire["openai"])
        assert [m["role"] for m in openai_sent] == ["user", "assistant", "user"]
        assert openai_sent[1]["content"] == "Paris."
        claude_sent = _sent_messages(wire["anthropic"])
        assert claude_sent[1] == {"role": "assistant", "content": "Lyon, surely."}
        gemini_sent = _sent_messages(wire["gemini"])
        assert [c["role"] for c in gemini_sent] == ["user", "model", "user"]
        third = second.follow_up("Thanks.")
        assert len(third.jobs[0].prompt.turns) == 5
        records = {r["id"]: r for r in session.labbook.records()}  # type: ignore[union-attr]
        for rid, parent in zip(third.record_ids, second.record_ids, strict=True):
            assert records[rid]["parent"] == parent  # type: ignore[index]
        assert "parent" not in records[first.record_ids[0]]  # type: ignore[index]
        frame = third.to_frame()
        assert list(frame["parent"]) == list(second.record_ids)


def test_only_answers_that_came_are_followed_up(wire: dict[str, Any]) -> None:
    from tests.wire.harness import Step

    wire["anthropic"].queue(Step(status=400))
    with Session(wire_config(wire, retries=0), labbook=False) as session:  # type: ignore[arg-type]
        first = session.compare("hi", MODELS)
        assert not first["anthropic:claude-test"].ok
        second = first.follow_up("more?")
    assert second.models == ("openai:gpt-test", "gemini:gemini-test")


def test_a_follow_up_cannot_change_the_conversations_settings(wire: dict[str, Any]) -> None:
    with Session(wire_config(wire), labbook=False) as session:  # type: ignore[arg-type]
        first = session.compare("hi", MODELS[:1])
        with pytest.raises(InvalidOption, match="cannot change in a follow-up"):
            first.follow_up("more?", temperature=1.0)
        with pytest.raises(InvalidPrompt, match="needs some text"):
            first.follow_up("  ")


def test_the_cli_follows_up_the_latest_comparison_or_the_calls_named(isolated: Any) -> None:
    import json

    from click.testing import CliRunner

    from workbench.cli import main

    runner = CliRunner()
    first = runner.invoke(
        main,
        ["compare", "What is 2+2?", "-m", "local", "-m", "terse", "--max-tokens", "8", "--json"],
    )
    assert first.exit_code == 0, first.output
    second = runner.invoke(main, ["compare", "And in one word?", "--follow-up", "--json"])
    assert second.exit_code == 0, second.output
    assert [json.loads(line)["model"] for line in second.stdout.splitlines()] == ["local", "terse"]
    from workbench.config import Config
    from workbench.labbook import book, locate

    calls = [r for r in book.records(locate(Config.load())) if r["kind"] == "call"]
    firsts, follows = calls[:2], calls[2:]
    assert [r["parent"] for r in follows] == [r["id"] for r in firsts]
    assert [m["role"] for m in follows[0]["prompt"]["messages"]] == ["user", "assistant", "user"]
    third = runner.invoke(main, ["compare", "Why?", "--after", follows[1]["id"][-8:], "--json"])
    assert third.exit_code == 0, third.output
    last = [r for r in book.records(locate(Config.load())) if r["kind"] == "call"][-1]
    assert last["model"] == "terse" and last["parent"] == follows[1]["id"]
    assert len(last["prompt"]["messages"]) == 6  # system, and three user/assistant turns + this
    refused = runner.invoke(main, ["compare", "x", "--follow-up", "-m", "gpt", "-t", "0.5"])
    assert refused.exit_code == 1
    assert "-m, --temperature cannot change in a follow-up" in refused.output
    unknown = runner.invoke(main, ["compare", "x", "--after", "ZZZZZZZZ"])
    assert unknown.exit_code == 1 and "no call record 'ZZZZZZZZ'" in unknown.output
