"""A research repository with prompt files, a workflow and a scripted provider."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.labbook.helpers import git, new_repo
from tests.workflows.scripted import Script, registered

PROMPTS = {
    "prompts/draft.md": (
        "---\nrole: writer\ndescription: A first draft.\nmax_tokens: 200\n---\n"
        "Draft a paper from these notes.\n\n{notes}\n"
    ),
    "prompts/referee.md": (
        "---\nrole: referee\nsystem: You are a demanding referee.\n---\n"
        "Referee this paper.\n\n{paper}\n"
    ),
    "prompts/response.md": (
        "---\nrole: editor\n---\nAnswer the referee.\n\nPaper:\n{paper}\n\nReview:\n{review}\n"
    ),
}
WORKFLOW = """\
name: paper
roles:
  writer: gpt
  referee: claude
  editor: gemini
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
    output: reviews/referee.md
  - id: response
    role: editor
    prompt: response
    inputs: {paper: draft, review: referee}
    output: paper/response.md
"""


def write(repo: Path, files: dict[str, str], message: str | None = "Add files") -> None:
    """Write files into the repository (and commit them, unless message is None)."""
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    if message is not None:
        git(repo, "add", "--", *files)
        git(repo, "commit", "-qm", message)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A research repository (the working directory) with notes, prompt files, paper.yaml."""
    path = new_repo(tmp_path / "research")
    monkeypatch.chdir(path)
    write(path, {"notes.md": "Rainbows are refraction.\n", **PROMPTS, "paper.yaml": WORKFLOW})
    return path


@pytest.fixture
def script(repo: Path) -> Iterator[Script]:
    """The scripted provider: gpt, claude, gemini answer from it."""
    yield from registered(repo)
