"""Workflow steps and the desk: one model's review becomes the next model's task."""

from __future__ import annotations

import json
from pathlib import Path

import workbench as wb
from tests.labbook.helpers import git
from tests.workflows.conftest import write
from tests.workflows.scripted import Script
from workbench import desk

REFEREE = """\
---
role: referee
schema:
  type: object
  properties:
    flags:
      type: array
      items:
        type: object
        properties: {file: {type: string}, line: {type: integer}, note: {type: string}}
        required: [file, note]
  required: [flags]
---
Referee this paper; flag the lines you object to.

{paper}
"""
WORKFLOW = """\
name: paper
roles: {writer: gpt, referee: claude, editor: gemini}
steps:
  - id: draft
    role: writer
    prompt: draft
    inputs: {notes: notes.md}
    output: paper/draft.md
  - id: referee
    role: referee
    prompt: referee
    inputs: {paper: draft}
    output: reviews/referee.json
    memo: editor
  - id: response
    role: editor
    prompt: response
    inputs: {paper: draft, review: desk}
    output: paper/response.md
"""
FLAGS = [{"file": "paper/draft.md", "line": 3, "note": "no source for this"}]


def answer(model: str, prompt: wb.Prompt) -> str:
    if model == "claude":
        return json.dumps({"flags": FLAGS})
    return f"{model} on {len(prompt.text)} characters"


def test_a_review_left_as_a_memo_is_taken_from_the_desk_by_the_next_step(
    repo: Path, script: Script
) -> None:
    write(repo, {"prompts/referee.md": REFEREE, "paper.yaml": WORKFLOW})
    script.answer = answer
    flow = wb.workflow("paper.yaml")
    assert [r.status for r in flow.status().rows] == ["to run", "after", "after"]
    assert "after draft; nothing on the desk for editor or gemini" in str(flow.status())

    run = flow.run(progress=False)

    assert [s.status for s in run.steps] == ["made", "made", "made"]
    board = desk.board(repo)
    memo = next(e for e in board.entries if e.item.kind == "memo")
    assert memo.item.to == "editor" and memo.item.by == "claude"
    assert memo.item.about == ("paper/draft.md",)
    assert [f.to_dict() for f in memo.item.flags] == FLAGS
    memo_file = (repo / memo.item.path).read_text()
    assert "## paper/draft.md\n\n- line 3: no source for this" in memo_file  # cat shows it
    assert memo.state == "done" and memo.done is not None
    assert memo.done.by == "gemini" and memo.done.outputs == ("paper/response.md",)
    assert memo.holder is not None and memo.holder.via == "flow paper step response"
    sent = script.calls("gemini")[0].text
    assert "Memo: referee of paper: reviews/referee.json" in sent and "no source for this" in sent
    state = json.loads((repo / "paper.state.json").read_text())["steps"]
    assert state["referee"]["memo"] == memo.item.id
    assert state["response"]["desk_item"] == memo.item.id
    assert git(repo, "status", "--porcelain", "--", "desk") == ""
    assert [r.status for r in flow.status().rows] == ["done", "done", "done"]

    # a person puts a task for the editor on the desk: the step takes it next
    task = desk.add("Shorten the abstract", to="editor", why="the journal's limit", repo=repo)
    assert [r.status for r in flow.status().rows] == ["done", "done", "stale"]
    flow.run(progress=False)
    assert "Shorten the abstract" in script.calls("gemini")[-1].text
    assert desk.board(repo).get(task.id).state == "done"
    assert len(script.calls("gemini")) == 2 and len(script.calls("claude")) == 1
