"""Follow-up threads in the lab notebook: recorded with their parents, read back whole,
exported with links, and replayed offline turn by turn (the real local model, real git)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import pytest
from click.testing import CliRunner
from pydantic import BaseModel

import workbench as wb
from tests.labbook.helpers import calls
from tests.labbook.test_files import Recording
from workbench.cli import main
from workbench.config import Config
from workbench.errors import NotRecorded
from workbench.labbook import filestore, open_labbook, replaying_from
from workbench.labbook.chain import prompt_hash
from workbench.providers import registry
from workbench.providers.base import Prompt
from workbench.run import Job, Runner
from workbench.sessions import Session, reset_session

WORKTREE = Path(__file__).resolve().parents[2]
NOTES = b"Ada keeps three cats: Tom, Mia and Rex.\n"
SHA = hashlib.sha256(NOTES).hexdigest()
TURNS = ("How many cats does Ada keep?", "Name them.", "Which name is shortest?")


class Sky(BaseModel):
    colour: Literal["red", "green", "blue"]


@pytest.fixture
def thread(repo: Path) -> Iterator[list[Any]]:
    """Three turns on the local model, the first with notes.txt, recorded and committed."""
    (repo / "notes.txt").write_bytes(NOTES)
    with Session(Config.load()) as session:
        reset_session(session)  # wb.log reads the default session's lab notebook
        try:
            turns = [session.compare(TURNS[0], "local", files=["notes.txt"], max_tokens=16)]
            turns += [turns[-1].follow_up(TURNS[1])]
            turns += [turns[-1].follow_up(TURNS[2])]
            yield turns
        finally:
            reset_session()


def test_each_follow_up_names_its_parent_and_the_thread_reads_back_whole(
    repo: Path, thread: list[Any]
) -> None:
    ids = [turn.record_id("local") for turn in thread]
    by_id = {r["id"]: r for r in calls(repo / "labbook")}
    assert [by_id[i].get("parent") for i in ids] == [None, ids[0], ids[1]]
    last = by_id[ids[2]]["prompt"]["messages"]
    assert [m["role"] for m in last] == ["user", "assistant", "user", "assistant", "user"]
    assert last[1]["content"] == thread[0]["local"].text  # its own earlier answer
    frame = wb.log.thread(ids[2])
    assert list(frame["id"]) == ids and list(frame["prompt"]) == list(TURNS)
    assert list(frame["parent"].fillna("-")) == ["-", ids[0], ids[1]]
    assert list(frame["text"]) == [turn["local"].text for turn in thread]
    assert list(wb.log.thread(ids[1][-8:])["id"]) == ids[:2]  # the end of an id will do
    assert list(wb.log.thread(ids[0])["id"]) == ids[:1]
    with pytest.raises(NotRecorded, match="no record 'NOPE'"):
        wb.log.thread("NOPE")
    listed = CliRunner().invoke(main, ["log", "--kind", "call"]).output.splitlines()
    assert [line.endswith(f"(follows {ids[0][-8:]})") for line in listed] == [False, True, False]
    assert listed[2].endswith(f"(follows {ids[1][-8:]})")


def test_frames_carry_the_thread_usage_timing_and_file_columns(
    repo: Path, thread: list[Any]
) -> None:
    frame = wb.log.to_frame(kind="call")
    new = ["parent", "files", "data", "thinking", "reasoning_tokens", "cached_input_tokens",
           "cache_write_tokens", "usage_source", "queued_s", "wall_s"]  # fmt: skip
    assert set(new) <= set(frame.columns)
    assert str(frame["reasoning_tokens"].dtype) == "Int64"
    assert str(frame["wall_s"].dtype) == "Float64"
    first = frame.iloc[0]
    named = {"name": "notes.txt", "media_type": "text/plain", "size": len(NOTES), "sha256": SHA}
    assert list(frame["files"]) == [[named]] * 3  # what each turn sent, the first's file too
    assert list(frame["usage_source"]) == ["tokenizer"] * 3  # the model's own tokenizer
    assert frame["reasoning_tokens"].isna().all() and frame["cached_input_tokens"].isna().all()
    assert frame["thinking"].isna().all() and frame["data"].isna().all()
    reply = thread[0]["local"]
    assert first["queued_s"] == pytest.approx(reply.queued_s)
    assert first["wall_s"] == pytest.approx(reply.wall_s) and first["wall_s"] > 0
    assert first["input_tokens"] == reply.usage.input_tokens


REPLAY_THREAD = """
import json, sys
from workbench.config import Config
from workbench.sessions import Session
first_text, *later = sys.argv[1:]
with Session(Config.load()) as session:
    out = []
    for name, options in (("local", {"replay": True}), ("replay:local", {})):
        turns = [session.compare(first_text, name, files=["notes.txt"], max_tokens=16, **options)]
        for text in later:
            turns.append(turns[-1].follow_up(text))
        out.append([(t[name].text, t[name].error and t[name].error.message) for t in turns])
print(json.dumps({"turns": out, "loaded": "llama_cpp" in sys.modules}))
"""
"""Turn by turn, from a fresh process: replay=True, then `replay:local` by name."""


def test_a_whole_thread_replays_offline_with_no_model_loaded(repo: Path, thread: list[Any]) -> None:
    env = {**os.environ, "PYTHONPATH": str(WORKTREE)}
    done = subprocess.run(
        [sys.executable, "-c", REPLAY_THREAD, *TURNS],
        cwd=repo, env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    live = [[turn["local"].text, None] for turn in thread]
    assert found["turns"] == [live, live]  # replay=True, then replay:local by name
    assert found["loaded"] is False  # llama_cpp never imported: no model was loaded
    replays = [r for r in calls(repo / "labbook") if r["resolved"] == "replay:local:smollm2"]
    assert len(replays) == 6 and sum("parent" in r for r in replays) == 4  # threads too


def test_a_structured_answer_replays_with_its_value(repo: Path) -> None:
    # Through the Runner: Session.compare cannot take a schema until Prompt hashes (see report).
    config = Config.load()
    book = open_labbook(config, "S", root=repo / "labbook")
    listener = Recording(book.record_call)
    spec = registry.resolve("local", config)
    prompt = Prompt.of("What colour is the sky?", schema=Sky)
    (live,) = asyncio.run(Runner(config, listener=listener).run([Job.plan(spec, prompt)]))
    (record,) = [f.result() for f in listener.futures]
    book.close()
    assert live.ok and isinstance(live.data, Sky)
    assert record["reply"]["data"] == live.data.model_dump()  # recorded as JSON
    assert set(record["reply"]["usage"]) == {
        "input_tokens", "output_tokens", "source", "reasoning_tokens", "cached_input_tokens",
        "cache_write_tokens",
    }  # fmt: skip
    assert record["request_hash"] != prompt_hash(spec.full_name, Prompt.of(prompt.text))
    replaying = replaying_from(config, repo / "labbook")
    job = Job.plan(registry.replaying(spec), prompt)
    (again,) = asyncio.run(Runner(replaying).run([job]))
    assert again.ok and again.data == live.data and again.text == live.text
    other = Prompt.of(prompt.text, schema={"type": "object"})  # another schema: not recorded
    (missing,) = asyncio.run(Runner(replaying).run([Job.plan(registry.replaying(spec), other)]))
    assert missing.error is not None and missing.error.type == "ReplayMissing"


def md_links(text: str) -> list[str]:
    return re.findall(r"\]\(<([^>]+)>\)", text)


def test_exports_show_each_follow_up_under_a_link_to_its_parent_and_link_files(
    repo: Path, thread: list[Any]
) -> None:
    ids = [turn.record_id("local") for turn in thread]
    kept = filestore.path_of(repo / "labbook", SHA)
    out = repo / "reports"
    out.mkdir()
    md = wb.log.export("md", out / "record.md")
    assert (out / "record.md").read_text() == md
    assert f'<a id="{ids[0]}"></a>' in md and f'<a id="{ids[1]}"></a>' in md
    assert f"- **Follows:** [{ids[0]}: local: {TURNS[0]}](<#{ids[0]}>)" in md
    assert f"- **Follows:** [{ids[1]}: local: {TURNS[1]}](<#{ids[1]}>)" in md
    # Each turn lists what it sent: the first turn's file is in every later one's messages.
    (file_link,) = {link for link in md_links(md) if not link.startswith("#")}
    assert file_link.startswith("../labbook/files/") and (out / file_link).resolve() == kept
    assert f"[notes.txt (text/plain, {len(NOTES)} bytes; sha256 {kept.name[:12]})]" in md
    page = wb.log.export("html", out / "record.html")
    assert f'<article id="{ids[0]}" class="entry call">' in page
    assert f'<a href="#{ids[0]}">{ids[0]}: local: {TURNS[0]}</a>' in page
    (href,) = set(re.findall(r'<a href="([^#"][^"]*)">notes\.txt', page))
    assert (out / href).resolve() == kept
    table = pd.read_csv(io.StringIO(wb.log.export("csv")))
    calls_only = table[table["kind"] == "call"]
    assert list(calls_only["parent"].fillna("-")) == ["-", ids[0], ids[1]]
    assert json.loads(calls_only["files"].iloc[0])[0]["sha256"] == kept.name
    lines = [json.loads(line) for line in wb.log.export("jsonl").splitlines()]
    assert [r.get("parent") for r in lines if r["kind"] == "call"] == [None, ids[0], ids[1]]
    result = CliRunner().invoke(main, ["log", "export", "--format", "md", "-o", "elsewhere.md"])
    assert result.exit_code == 0, result.output
    (cli_link,) = {x for x in md_links((repo / "elsewhere.md").read_text()) if x[0] != "#"}
    assert cli_link.startswith("labbook/files/") and (repo / cli_link).resolve() == kept
