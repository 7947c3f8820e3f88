"""Records appended but not committed when a process ends are committed on its way out."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from tests.labbook.helpers import changed, commits, git, recorded, subject

SCRIPT = textwrap.dedent(
    """
    from pathlib import Path
    from workbench.labbook import LabBook
    from workbench.labbook.git import GitSync

    root = Path("labbook")
    book = LabBook(root, "exit-test", git=GitSync.open(root, research_repo=Path(".")))
    book.submit("note", data={"text": "queued, never waited for, never committed"})
    """
)


def test_queued_and_uncommitted_records_are_written_and_committed_at_exit(repo: Path) -> None:
    before = commits(repo)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=repo, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    notes = [r for r in recorded(repo / "labbook") if r["kind"] == "note"]
    assert [n["data"]["text"] for n in notes] == ["queued, never waited for, never committed"]
    assert subject(repo).startswith("flush at exit (")
    assert len(commits(repo)) > len(before)
    assert all(path.startswith("labbook/") for path in changed(repo))
    assert git(repo, "status", "--porcelain", "--", "labbook") == ""
