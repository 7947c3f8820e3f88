"""A small workflow to try (and the template's, when opened by hand): draft, referee, response.

Three variants of the embedded local model (no key, no network) in a fresh git repository:
`teacher` writes, `terse` referees, `local` answers the referee.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workbench.workflows import Workflow

FILES = {
    "notes.md": (
        "Rainbows: sunlight enters raindrops, is refracted, reflected once inside, and leaves\n"
        "split into colours; red bends least, violet most. The bow sits at about 42 degrees\n"
        "from the point opposite the sun.\n"
    ),
    "prompts/draft.md": (
        "---\nrole: writer\ndescription: A first draft from notes.\nmax_tokens: 60\n---\n"
        "Write two sentences for a science magazine from these notes.\n\n{notes}\n"
    ),
    "prompts/referee.md": (
        "---\nrole: referee\nsystem: You are a demanding referee. Name one weakness.\n"
        "max_tokens: 40\n---\nReferee this text.\n\n{paper}\n"
    ),
    "prompts/response.md": (
        "---\nrole: editor\nmax_tokens: 60\n---\nImprove the text to answer the referee.\n\n"
        "Text:\n{paper}\n\nReferee:\n{review}\n"
    ),
    "paper.yaml": (
        "name: paper\n"
        "roles:\n  writer: teacher\n  referee: terse\n  editor: local\n"
        "steps:\n"
        "  - id: draft\n    role: writer\n    prompt: draft\n    inputs: {notes: notes.md}\n"
        "    output: paper/draft.md\n"
        "  - id: referee\n    role: referee\n    prompt: referee\n    inputs: {paper: draft}\n"
        "    output: reviews/referee.md\n"
        "  - id: response\n    role: editor\n    prompt: response\n"
        "    inputs: {paper: draft, review: referee}\n    output: paper/response.md\n"
    ),
}


def make(folder: Path | None = None) -> Workflow:
    """Write the demo into `folder` (default: a new temporary folder), as a git repository."""
    from workbench.config import Config
    from workbench.sessions import Session
    from workbench.workflows import Workflow

    root = Path(folder) if folder is not None else Path(tempfile.mkdtemp(prefix="workbench-flow-"))
    root.mkdir(parents=True, exist_ok=True)
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for args in (
        ["init", "-q", "-b", "main"],
        ["config", "user.name", "Workflow demo"],
        ["config", "user.email", "demo@example.org"],
        ["add", "--", *FILES],
        ["-c", "core.hooksPath=/dev/null", "commit", "-q", "-m", "The demo workflow"],
    ):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
    config = Config.load({"labbook": {"path": str(root / "labbook")}})
    return Workflow(root / "paper.yaml", Session(config))
