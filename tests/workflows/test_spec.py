"""Workflow files: every problem at once, each with its line; nothing is sent for a bad one."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import workbench as wb
from tests.workflows.conftest import write
from tests.workflows.scripted import Script
from workbench.cli import main
from workbench.workflows import WorkflowError

BAD = """\
name: paper
budget: 5
roles: {writer: gpt}
steps:
  - id: draft
    role: writr
    prompt: draft
    inputs: {notes: notes.md, paper: response}
    output: paper/draft.md
  - id: draft
    prompt: referee
    ouput: reviews/referee.md
    alternatives: 0
  - id: response
    model: gemini
    prompt: response
    inputs: {a: desk, b: desk, c: /etc/passwd}
    output: labbook/response.md
"""


def test_a_bad_workflow_lists_every_problem_with_its_line(repo: Path) -> None:
    (repo / "bad.yaml").write_text(BAD)
    with pytest.raises(WorkflowError) as raised:
        wb.workflow("bad.yaml")
    problems = raised.value.problems
    assert problems == [
        "bad.yaml:2: unknown key 'budget': use name, description, budget_usd, roles, steps",
        "bad.yaml:6: step 'draft': no model for role 'writr' in roles: (writer)",
        "bad.yaml:8: step 'draft': input paper: step 'response' comes later (steps run in file "
        "order)",
        "bad.yaml:12: step 'draft': unknown key 'ouput': use id, role, model, prompt, inputs, "
        "output, alternatives, brief, memo",
        "bad.yaml:10: step 'draft': output is required (text)",
        "bad.yaml:10: step 'draft': the id 'draft' is used twice",
        "bad.yaml:13: step 'draft': alternatives is a whole number from 1 to 20",
        "bad.yaml:18: step 'response': labbook/response.md: not in .git, desk, labbook (the "
        "workbench keeps those)",
        "bad.yaml:17: step 'response': input c: /etc/passwd: a path relative to the workflow "
        "file, with '/'",
        "bad.yaml:17: step 'response': one input at most comes from the desk",
    ]
    assert str(raised.value).startswith("bad workflow bad.yaml (10 problems): fix these:\n  ")


def test_problems_found_when_planning_come_before_anything_is_sent(
    repo: Path, script: Script
) -> None:
    text = (repo / "paper.yaml").read_text()
    write(repo, {"paper.yaml": text.replace("prompt: response", "prompt: responce").replace(
        "editor: gemini", "editor: gemni")})  # fmt: skip
    with pytest.raises(WorkflowError) as raised:
        wb.workflow("paper.yaml").run(progress=False)
    assert len(raised.value.problems) == 1
    assert "paper.yaml:17: step 'response': no prompt 'responce'" in raised.value.problems[0]
    write(repo, {"paper.yaml": text.replace("editor: gemini", "editor: gemni")})
    with pytest.raises(WorkflowError, match="step 'response': unknown model 'gemni'"):
        wb.workflow("paper.yaml").run(progress=False)
    assert script.received == []
    done = CliRunner().invoke(main, ["flow", "run", "paper.yaml"])
    assert done.exit_code == 1 and "unknown model 'gemni'" in done.output
    assert "Traceback" not in done.output


@pytest.mark.parametrize(
    ("text", "wanted"),
    [
        ("steps: [", "bad.yaml:1: not valid YAML"),
        ("- a\n- b\n", "bad.yaml:1: a workflow is 'key: value' lines with steps:"),
        ("name: x\n", "bad.yaml:1: steps: a list of steps"),
    ],
)
def test_a_file_that_is_not_a_workflow_says_so(repo: Path, text: str, wanted: str) -> None:
    (repo / "bad.yaml").write_text(text)
    with pytest.raises(WorkflowError, match=wanted):
        wb.workflow("bad.yaml")
    with pytest.raises(WorkflowError, match=r"nope\.yaml: no such file"):
        wb.workflow("nope.yaml")
