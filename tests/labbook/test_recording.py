"""Every call is recorded with no opt-in: real Sessions, the wire servers, a real research repo."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wire_config
from tests.labbook.helpers import AUTHOR, MODELS, calls, changed, commits, git, recorded, subject
from tests.wire.harness import Step
from workbench.config import Config
from workbench.errors import InvalidOption, NotRecorded
from workbench.labbook.book import files
from workbench.labbook.chain import SCHEMA_VERSION, record_hash, request_hash
from workbench.labbook.verify import verify
from workbench.sessions import Session, reset_session

PRICE = 1000.0 / 1_000_000  # USD per token, as wire_config prices the wire models


def stamp(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_every_field_of_a_call_lands_on_disk(
    repo: Path, wire: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_SOURCE", "notebooks/analysis.ipynb")  # as in Jupyter
    head = git(repo, "rev-parse", "HEAD")
    wire["gemini"].queue(Step(status=400))  # fails, and is recorded with its error
    wire["anthropic"].queue(Step(status=500), Step(text="fine the second time"))
    session = Session(wire_config(wire))  # type: ignore[arg-type]
    before = datetime.now(UTC)
    comparison = session.compare(
        "Why is the sky blue?", MODELS, system="Be brief.", temperature=0.2, max_tokens=50
    )
    after = datetime.now(UTC)
    session.close()

    root = repo / "labbook"
    records = recorded(root)
    assert [r["kind"] for r in records] == ["session", "call", "call", "call"]
    assert len(files(root)) == 1 and files(root)[0].name == f"{session.id}.jsonl"
    by_id = {r["id"]: r for r in records}
    assert set(comparison.record_ids) == {r["id"] for r in records[1:]}
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Why is the sky blue?"},
    ]
    params = {"temperature": 0.2, "max_tokens": 50}
    for seq, record in enumerate(records):
        assert record["v"] == SCHEMA_VERSION and len(record["id"]) == 26
        assert before <= stamp(record["ts"]) <= after
        assert record["session"] == session.id and record["seq"] == seq
        assert record["author"] == AUTHOR
        assert record["source"] == "notebooks/analysis.ipynb"
        assert record["repo_head"] == head
        assert record["hash"] == record_hash(record)
        assert record["prev"] == (records[seq - 1]["hash"] if seq else None)
    assert records[0]["data"]["cwd"] == str(repo) and records[0]["data"]["pid"] > 0

    for reply, record_id in zip(comparison, comparison.record_ids, strict=True):
        record = by_id[str(record_id)]
        assert record["model"] == record["resolved"] == reply.resolved
        assert record["prompt"] == {"messages": messages, "params": params, "sample": 0}
        assert record["request_hash"] == request_hash(reply.resolved, messages, params)
        saved = record["reply"]
        assert saved["text"] == reply.text
        assert saved["latency_s"] == reply.latency_s > 0
        assert before <= stamp(saved["started_at"]) <= stamp(record["ts"])
        assert saved["attempts"] == reply.attempts
    openai = by_id[comparison.record_id("openai:gpt-test")]["reply"]
    usage = openai["usage"]
    assert openai["text"] == "echo: Why is the sky blue?" and openai["error"] is None
    assert usage["input_tokens"] > 0 and usage["output_tokens"] == 6
    assert openai["cost_usd"] == pytest.approx(
        (usage["input_tokens"] + usage["output_tokens"]) * PRICE
    )
    assert openai["price_source"] == "config"
    assert openai["finish_reason"] == "stop" and openai["model_version"] == "gpt-test"
    assert 0 < openai["first_token_s"] <= openai["latency_s"]
    anthropic = by_id[comparison.record_id("anthropic:claude-test")]["reply"]
    assert anthropic["text"] == "fine the second time" and anthropic["attempts"] == 2
    assert anthropic["model_version"] == "claude-test"
    gemini = by_id[comparison.record_id("gemini:gemini-test")]["reply"]
    assert gemini["text"] == "" and gemini["finish_reason"] is None
    assert gemini["error"]["type"] == "BadRequest" and gemini["error"]["status"] == 400
    assert "scripted 400" in gemini["error"]["message"]
    assert verify(files(root)).ok


def test_commits_hold_only_the_lab_notebook(repo: Path, wire: dict[str, Any]) -> None:
    (repo / "analysis.py").write_text("print(2)\n")
    git(repo, "add", "analysis.py")  # the user's own staged work
    (repo / "draft.md").write_text("not yet\n")
    staged, status = git(repo, "diff", "--cached"), git(repo, "status", "--porcelain")
    history = commits(repo)
    session = Session(wire_config(wire))  # type: ignore[arg-type]

    session.compare("What is 2+2?", MODELS)
    assert session.labbook is not None
    session.labbook.commit()  # commits run in the background: this one now
    first = commits(repo)
    assert first[1:] == history  # exactly one new commit
    day = datetime.now(UTC).strftime("%Y/%m/%d")
    assert changed(repo) == [f"labbook/{day}/{session.id}.jsonl"]
    assert subject(repo) == (
        "compare: 'What is 2+2?' on openai:gpt-test, anthropic:claude-test, "
        "gemini:gemini-test (3 records)"
    )
    assert git(repo, "diff", "--cached") == staged  # still staged, not committed
    assert git(repo, "status", "--porcelain") == status
    assert git(repo, "show", "HEAD:analysis.py") == "print(1)"

    comparison = session.compare(["one", "two"], MODELS[:2], samples=2)
    session.labbook.commit()
    assert commits(repo)[1:] == first
    assert subject(repo) == "compare: 'one' on openai:gpt-test, anthropic:claude-test (8 records)"
    assert changed(repo) == [f"labbook/{day}/{session.id}.jsonl"]
    assert git(repo, "diff", "--cached") == staged
    assert len(calls(repo / "labbook")) == 3 + 8
    assert all(comparison.record_ids)
    # The records of the second comparison have the first's commit as repo_head.
    assert {c["repo_head"] for c in calls(repo / "labbook")[3:]} == {first[0]}
    assert git(repo, "status", "--porcelain", "--", "labbook") == ""  # everything committed
    session.close()


def test_the_source_is_the_command_outside_jupyter(repo: Path, wire: dict[str, Any]) -> None:
    with Session(wire_config(wire)) as session:  # type: ignore[arg-type]
        session.compare("hi", MODELS[0])
    record = calls(repo / "labbook")[0]
    assert record["source"].split()[0] == Path(sys.argv[0]).name


def test_decisions_and_notes_link_to_the_calls_they_judge(repo: Path, wire: dict[str, Any]) -> None:
    session = Session(wire_config(wire))  # type: ignore[arg-type]
    comparison = session.compare("Which is larger, 9.11 or 9.9?", MODELS)
    ids = list(comparison.record_ids)
    assert session.labbook is not None
    session.labbook.commit()  # commits run in the background: this one now
    history = commits(repo)

    pick = comparison.pick("openai:gpt-test", "right, and short", tags=["math", "decimals", "math"])
    assert subject(repo) == "decision: pick openai:gpt-test (1 record)"
    reject = comparison.reject("gemini:gemini-test", "no, not that", tags=["wrong"])
    assert subject(repo) == "decision: reject gemini:gemini-test (1 record)"
    note = comparison.note("ask again with a hint", tags=["todo"])
    assert subject(repo) == "note (1 record)"
    assert len(commits(repo)) == len(history) + 3
    session.close()

    on_disk = {r["id"]: r for r in recorded(repo / "labbook")}
    assert on_disk[pick["id"]] == pick and on_disk[reject["id"]] == reject
    assert on_disk[note["id"]] == note
    assert pick["kind"] == reject["kind"] == "decision" and note["kind"] == "note"
    assert pick["links"] == ids and pick["tags"] == ["decimals", "math"]
    assert pick["data"] == {
        "verdict": "pick",
        "choice": comparison.record_id("openai:gpt-test"),
        "reason": "right, and short",
    }
    gemini = comparison.record_id("gemini:gemini-test")
    assert reject["links"] == [gemini] and reject["tags"] == ["wrong"]
    assert reject["data"] == {"verdict": "reject", "choice": gemini, "reason": "no, not that"}
    assert note["links"] == ids and note["data"] == {"text": "ask again with a hint"}
    for record in (pick, reject, note):  # every link names a call on disk
        assert all(on_disk[link]["kind"] == "call" for link in record["links"])
        assert record["session"] == session.id and record["author"] == AUTHOR
    with pytest.raises(KeyError, match="not in this comparison"):
        comparison.pick("claude")


def test_a_comparison_without_a_lab_notebook_cannot_be_judged(wire: dict[str, Any]) -> None:
    session = Session(wire_config(wire), labbook=False)  # type: ignore[arg-type]
    comparison = session.compare("hi", MODELS[0])
    session.close()
    assert comparison.record_ids == (None,)
    with pytest.raises(NotRecorded, match="not recorded"):
        comparison.pick(MODELS[0])
    assert not (Path.cwd() / "labbook").exists()


def test_calls_made_while_paused_are_not_recorded_but_the_pause_is(
    repo: Path, wire: dict[str, Any]
) -> None:
    import workbench as wb

    reset_session(Session(wire_config(wire)))  # type: ignore[arg-type]
    try:
        wb.compare("recorded before", MODELS[0])
        wb.log.commit()  # commits run in the background: this one now
        wb.pause("patient data")
        assert subject(repo) == "pause recording: patient data (1 record)"
        history = commits(repo)
        wb.pause("again")  # already paused: nothing more
        paused = wb.compare("private prompt", MODELS[:2])
        assert commits(repo) == history  # nothing recorded, nothing committed
        wb.resume()
        assert subject(repo) == "resume recording (1 record)"
        wb.resume()  # not paused: nothing more
        wb.compare("recorded after", MODELS[0])
        wb.log.commit()
        session_id = wb.session().id
    finally:
        reset_session()
    assert [r.text for r in paused] == ["echo: private prompt"] * 2  # the calls were made
    assert paused.record_ids == (None, None)
    with pytest.raises(NotRecorded, match="not recorded"):
        paused.pick(MODELS[0])
    records = recorded(repo / "labbook")
    assert [r["kind"] for r in records] == ["session", "call", "pause", "resume", "call"]
    assert records[2]["data"] == {"reason": "patient data"}
    assert {r["session"] for r in records} == {session_id}
    assert "private prompt" not in "".join(p.read_text() for p in files(repo / "labbook"))
    assert git(repo, "status", "--porcelain", "--", "labbook") == ""


@pytest.mark.local_model
def test_the_package_api_records_a_call_on_the_local_model(repo: Path) -> None:
    import workbench as wb

    reset_session(Session(Config.load()))
    try:
        comparison = wb.compare("What is 2+2?", ["local"], max_tokens=12)
        wb.log.commit()  # commits run in the background: this one now
        session_id = wb.session().id
    finally:
        reset_session()
    reply = comparison["local"]
    assert reply.ok, reply.error
    (record,) = calls(repo / "labbook")
    assert record["id"] == comparison.record_id("local") and record["session"] == session_id
    assert record["model"] == "local" and record["resolved"] == "local:smollm2"
    assert record["reply"]["text"] == reply.text != ""
    assert record["reply"]["cost_usd"] == 0.0
    assert record["reply"]["usage"]["output_tokens"] == reply.usage.output_tokens <= 12
    assert record["prompt"]["params"]["max_tokens"] == 12
    assert subject(repo) == "compare: 'What is 2+2?' on local (1 record)"


def test_arena_verdicts_and_ratings_have_their_shapes(wire: dict[str, Any]) -> None:
    session = Session(wire_config(wire))  # type: ignore[arg-type]
    comparison = session.compare("hi", MODELS[:2])
    book = session.labbook
    assert book is not None
    a, b = comparison.record_ids
    assert a is not None and b is not None
    better = book.decide("better", [a, b], choice=b, reason="clearer")
    tie = book.decide("tie", [a, b])
    rated = book.decide("rating", [a], score=4)
    again = book.decide("pick", [a, b], choice=a, supersedes=better["id"])
    assert better["data"] == {"verdict": "better", "choice": b, "reason": "clearer"}
    assert tie["data"]["choice"] is None and rated["data"]["score"] == 4
    assert again["data"]["supersedes"] == better["id"]
    for bad in (
        lambda: book.decide("better", [a], choice=a),  # two answers
        lambda: book.decide("tie", [a, b], choice=a),  # no choice
        lambda: book.decide("rating", [a], score=6),
        lambda: book.decide("rating", [a, b], score=3),
        lambda: book.decide("pick", [a, b], score=3),  # only ratings have a score
        lambda: book.decide("better", [a, b]),  # which one?
    ):
        with pytest.raises(InvalidOption):
            bad()
    from workbench.labbook.query import to_frame

    frame = to_frame(book.records())
    decided = frame[frame["kind"] == "decision"]
    assert list(decided["verdict"]) == ["better", "tie", "rating", "pick"]
    assert decided["score"].tolist()[2] == 4 and decided["supersedes"].tolist()[3] == better["id"]
    session.close()
