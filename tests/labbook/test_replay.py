"""Replay answers from the lab notebook: same texts, no cost, no request to any server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PROVIDER_KEYS, wire_config
from tests.labbook.helpers import MODELS, calls, subject
from tests.wire.harness import Step
from workbench.config import LabBookSettings
from workbench.errors import UnknownModel
from workbench.labbook import cache, lookup
from workbench.labbook.chain import request_hash
from workbench.sessions import Session

PROMPTS = ["What is 2+2?", "Name a prime."]


@pytest.fixture(autouse=True, params=["read whole", "through the frame"])
def index(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Both ways a replay finds recorded answers: every record read, or (a big lab notebook)
    the frame's sidecars saying where each request's calls are, each read from its line."""
    framed = request.param == "through the frame"
    monkeypatch.setattr(lookup, "BIG_BYTES", 0 if framed else 2**62)
    yield str(request.param)
    made = list((cache.cache_home() / "frames").rglob("*.arrow"))  # what a frame leaves
    assert bool(made) == framed, f"the test did not find records {request.param}"


def requests(wire: dict[str, Any]) -> dict[str, int]:
    return {name: len(server.requests) for name, server in wire.items()}


@pytest.fixture
def recorded_run(repo: Path, wire: dict[str, Any]) -> Any:
    """A live comparison on the wire models, recorded in the research repo's lab notebook."""
    (repo / "workbench.toml").write_text('[aliases.g]\nmodel = "openai:gpt-test"\n')
    openai = wire["openai"]  # answers by prompt: the two calls run at once, in either order
    answers = dict(zip(PROMPTS, ["Four.", "Seven."], strict=True))

    def answer(request: Any) -> Step | None:  # other prompts get the default echo
        text = answers.get(openai.last_user_text(request))
        return None if text is None else Step(text=text, finish_reason="stop")

    openai.script = answer
    with Session(wire_config(wire)) as session:  # type: ignore[arg-type]
        return session.compare(PROMPTS, MODELS, system="Be terse.", temperature=0)


def test_a_replay_gives_the_recorded_answers_with_no_network_and_no_cost(
    repo: Path, wire: dict[str, Any], recorded_run: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = requests(wire)
    for key in PROVIDER_KEYS:  # no key is needed either
        monkeypatch.delenv(key, raising=False)
    with Session(wire_config(wire)) as session:  # type: ignore[arg-type]
        again = session.compare(PROMPTS, MODELS, system="Be terse.", temperature=0, replay=True)
        assert session.labbook is not None
        session.labbook.commit()  # commits run in the background: this one now
    assert requests(wire) == before
    assert [r.text for r in again] == [r.text for r in recorded_run]
    assert again["openai:gpt-test"].text == "Four."
    assert again.reply("openai:gpt-test", prompt=1).text == "Seven."
    for live, replayed in zip(recorded_run, again, strict=True):
        assert replayed.ok and replayed.cost_usd == 0.0
        assert replayed.model == live.model and replayed.resolved == f"replay:{live.resolved}"
        assert replayed.usage == live.usage
        assert replayed.finish_reason == live.finish_reason
        assert replayed.model_version == live.model_version
    # The replay is evidence too: recorded, under the replayed model's name, and committed.
    replays = [c for c in calls(repo / "labbook") if c["resolved"].startswith("replay:")]
    assert len(replays) == 6 and all(c["reply"]["cost_usd"] == 0.0 for c in replays)
    assert subject(repo).startswith("compare: 'What is 2+2?' on openai:gpt-test")


def test_replay_models_by_name_and_by_alias(wire: dict[str, Any], recorded_run: Any) -> None:
    before = requests(wire)
    with Session(wire_config(wire)) as session:  # type: ignore[arg-type]
        again = session.compare(
            PROMPTS, ["replay:openai:gpt-test", "replay:g"], system="Be terse.", temperature=0
        )
    assert requests(wire) == before
    assert [r.text for r in again] == ["Four.", "Four.", "Seven.", "Seven."]
    assert [r.resolved for r in again][:2] == ["replay:openai:gpt-test"] * 2
    assert all(r.cost_usd == 0.0 for r in again)


def test_a_request_never_recorded_is_an_error_naming_it(
    repo: Path, wire: dict[str, Any], recorded_run: Any
) -> None:
    wire["gemini"].queue(Step(status=400))
    with Session(wire_config(wire)) as session:  # type: ignore[arg-type]
        session.compare("What failed?", "gemini:gemini-test")  # failures are not replayable
        before = requests(wire)
        missing = session.compare(
            ["What is 2+2?", "What failed?"],
            ["openai:gpt-test", "gemini:gemini-test"],
            system="Be terse.",
            temperature=0.5,  # not the temperature recorded
            replay=True,
        )
        with pytest.raises(UnknownModel):
            session.plan("hi", "replay:nope")
    assert requests(wire) == before
    assert [r.ok for r in missing] == [False] * 4
    reply = missing["openai:gpt-test"]
    assert reply.error is not None and reply.error.type == "ReplayMissing"
    assert reply.attempts == 1 and reply.cost_usd in (None, 0.0)
    messages = [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "What is 2+2?"},
    ]
    key = request_hash("openai:gpt-test", messages, {"temperature": 0.5})
    message = reply.error.message
    assert "openai:gpt-test" in message and "'What is 2+2?'" in message
    assert key[:12] in message and str(repo / "labbook") in message
    assert "run it live first" in message
    failed = missing.reply("gemini:gemini-test", prompt=1)
    assert failed.error is not None and failed.error.type == "ReplayMissing"
    assert "'What failed?'" in failed.error.message


def test_a_replay_sees_calls_recorded_after_it_first_looked(
    wire: dict[str, Any], recorded_run: Any
) -> None:
    with Session(wire_config(wire)) as session:  # type: ignore[arg-type]
        first = session.compare("New question", "openai:gpt-test", replay=True)
        assert first["openai:gpt-test"].error is not None
        live = session.compare("New question", "openai:gpt-test")
        again = session.compare("New question", "openai:gpt-test", replay=True)
    assert again["openai:gpt-test"].text == live["openai:gpt-test"].text == "echo: New question"


def test_a_replay_answers_from_the_session_s_own_lab_notebook(
    repo: Path, wire: dict[str, Any]
) -> None:
    config = replace(wire_config(wire), labbook=LabBookSettings(path="notes/lab"))  # type: ignore[type-var]
    with Session(config) as session:
        live = session.compare("Where is it kept?", "openai:gpt-test")
        again = session.compare("Where is it kept?", "openai:gpt-test", replay=True)
    assert calls(repo / "notes" / "lab")[0]["id"] == live.record_ids[0]
    assert again["openai:gpt-test"].error is None
    assert again["openai:gpt-test"].text == "echo: Where is it kept?"


def test_both_indexes_take_the_newest_call_that_ended_and_no_other(tmp_path: Path) -> None:
    """An answer cut short (no finish reason), or with an error the frame counts as none
    (`{}`), is never replayed: the frame only says where to look, each record decides."""
    from workbench.labbook import store
    from workbench.labbook.book import files
    from workbench.labbook.chain import new_id
    from workbench.labbook.query import read_frame
    from workbench.providers.replay import FrameReplies, recorded_replies

    def call(when: str, key: str, **reply: Any) -> dict[str, Any]:
        answer = {"text": when, "finish_reason": "stop", "error": None} | reply
        prompt = {"messages": [{"role": "user", "content": "q"}]}
        return {"v": 1, "id": new_id(), "ts": f"2026-11-25T{when}Z", "kind": "call",
                "session": "S", "model": "m", "resolved": "p:m", "request_hash": key,
                "prompt": prompt, "reply": answer}  # fmt: skip

    root = tmp_path / "labbook"
    store.append_many(root / "2026" / "11" / "25" / "S.jsonl", [
        call("09:00:00", "H"), call("09:01:00", "H"), call("09:02:00", "H", error={}),
        call("09:03:00", "K", finish_reason=None), call("09:04:00", "H", finish_reason=None),
    ])  # fmt: skip
    framed = FrameReplies(read_frame(files(root), cache=False))  # a frame, no sidecars
    for index in (recorded_replies(root), framed):
        found = index.get("H")
        assert found is not None and found["reply"]["text"] == "09:01:00"
        assert index.get("K") is None and index.get("nope") is None
