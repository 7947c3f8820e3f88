"""The README's section on workflows and the desk runs as written, in README order.

Its files (the blocks captioned with a path) are written into a fresh git repository; its
Python blocks run in one namespace, its `%%compare` cell on a real kernel, and each line of
its shell blocks through the real `workbench` (and `papermill`) commands. `gpt`, `claude` and
`gemini` are the wire servers behind the real SDKs. tests/test_readme.py leaves this section
to this test: its shell blocks are `sh` blocks, and its Python lies past the audit section.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import workbench as wb
from tests.labbook.helpers import git
from tests.test_magics import execute, html_of, text_of
from workbench import desk

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"(?:^`([^`\n]+)`:\n\n)?^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
HEADING = "\n## Workflows and the desk: the repository as the channel\n"


def section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(HEADING)
    return text[start : text.index("\n## ", start + 1)]


def blocks() -> list[tuple[str | None, str, str]]:
    """(the file it shows, or None; its language; its text) for each block, in order."""
    return [(path or None, lang, code) for path, lang, code in BLOCK.findall(section())]


@pytest.fixture
def repo(tmp_path: Path, wire: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "research"
    path.mkdir()
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", "Ada")
    git(path, "config", "user.email", "ada@example.org")
    lines = ["[run]", "backoff_s = 0.01", "retries = 1"]
    for provider, server in wire.items():
        lines += [f"[providers.{provider}]", f'base_url = "{server.base_url}"']
    (path / "workbench.toml").write_text("\n".join(lines) + "\n")
    (path / "notes.md").write_text("Rainbows: light refracted and reflected in raindrops.\n")
    wire["openai"].responder = lambda r: f"A draft drawn with seed {r.body.get('seed')}."
    wire["anthropic"].responder = lambda r: "Line 2 claims too much; cite a source."
    monkeypatch.chdir(path)
    return path


def test_the_readme_section_runs_as_written(repo: Path, wire: dict[str, Any]) -> None:
    shown = blocks()
    files = {path: code for path, _, code in shown if path}
    assert set(files) == {"prompts/referee.md", "prompts/draft.md", "prompts/response.md",
                          "paper.yaml"}  # fmt: skip
    for path, code in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(code)
    git(repo, "add", "notes.md", "prompts", "paper.yaml")
    git(repo, "commit", "-qm", "Notes, prompts and the workflow")

    namespace: dict[str, Any] = {"wb": wb}
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    ran = {"python": 0, "sh": 0, "magic": 0}
    for path, lang, code in shown:
        if path is not None:
            continue
        if lang == "python":
            exec(compile(code, "README.md", "exec"), namespace)
            ran["python"] += 1
        elif lang == "sh":
            for line in code.splitlines():
                _shell(line.split("  #", 1)[0].strip(), repo, env)
            ran["sh"] += 1
        elif lang == "" and code.startswith("%%compare"):
            outputs = execute(repo, "%load_ext workbench", 'draft = "A draft."', code)
            assert not [o for o in outputs[2] if o.output_type == "error"], text_of(outputs[2])
            assert 'class="wb-grid"' in html_of(outputs[2])
            ran["magic"] += 1
    assert ran == {"python": 2, "sh": 3, "magic": 1}

    # what the examples say happened, happened
    calls = [r for r in _records(repo) if r["kind"] == "call"]
    referee = [c for c in calls if (c["prompt"].get("origin") or {}).get("name") == "referee"]
    assert len(referee) == 5  # Python, the CLI, the magic (claude and gpt), the workflow step
    state = json.loads((repo / "paper.state.json").read_text())["steps"]
    assert state["draft"]["picked"] == 2 and state["draft"]["alternatives"] == [
        "paper/draft.alt-1.md", "paper/draft.alt-2.md", "paper/draft.alt-3.md",
    ]  # fmt: skip
    assert (repo / "paper/draft.md").read_text() == "A draft drawn with seed 1.\n"
    sent = [r.body for r in wire["gemini"].requests]
    system = json.dumps(sent[-1])
    assert "Line 2 claims too much" in system and "# Brief for gemini" in system
    board = desk.board(repo)
    memo = board.get(state["referee"]["memo"])
    assert memo.state == "done" and memo.done is not None and memo.done.by == "gemini"
    units = next(e for e in board.entries if e.item.title.startswith("Check the units"))
    assert units.state == "done" and units.done is not None
    assert units.done.outputs == ("reviews/units.md",)
    assert git(repo, "status", "--porcelain", "--", "desk", "paper", "reviews") == ""


def _shell(line: str, repo: Path, env: dict[str, str]) -> None:
    if not line.startswith(("workbench ", "papermill ")):
        return
    line = line.replace("templates/workflow.ipynb", str(ROOT / "templates" / "workflow.ipynb"))
    done = subprocess.run(["bash", "-c", line], cwd=repo, env=env, capture_output=True, text=True)
    assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr, line
    if line.startswith("workbench log --prompt referee"):
        assert "[referee@" in done.stdout


def _records(repo: Path) -> list[dict[str, Any]]:
    from workbench.labbook.book import records

    return records(repo / "labbook")
