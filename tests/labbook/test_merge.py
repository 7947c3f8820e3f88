"""Two clones of a research repo record on the same day, then merge: no conflict, chains intact."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.conftest import wire_config
from tests.labbook.helpers import MODELS, calls, changed, git, new_repo, recorded
from workbench.cli import main
from workbench.labbook.book import files
from workbench.sessions import Session


def test_two_clones_recording_the_same_day_merge_cleanly(
    tmp_path: Path, wire: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    origin = new_repo(tmp_path / "origin")
    sessions = {}
    for name in ("a", "b"):
        clone = tmp_path / name
        git(tmp_path, "clone", "-q", str(origin), str(clone))
        git(clone, "config", "user.name", name.upper())
        git(clone, "config", "user.email", f"{name}@example.org")
        monkeypatch.chdir(clone)
        with Session(wire_config(wire)) as session:  # type: ignore[arg-type]
            assert session.labbook is not None
            first = session.compare(f"{name}: what is 2+2?", MODELS)
            session.labbook.commit()  # commits run in the background: this one now
            first.pick(MODELS[0])
            session.compare(f"{name}: name a prime", MODELS[:2])
            session.labbook.commit()
        sessions[name] = session.id
        (clone / f"{name}.py").write_text("print('work')\n")  # the researchers' own work
        git(clone, "add", f"{name}.py")
        git(clone, "commit", "-qm", f"{name}'s analysis")

    a, b = tmp_path / "a", tmp_path / "b"
    days = [{p.parent.relative_to(c) for p in files(c / "labbook")} for c in (a, b)]
    assert len(days[0]) == 1 and days[0] == days[1]  # the same dated folder
    done = subprocess.run(
        ["git", "pull", "--no-rebase", "--no-edit", str(a), "main"],
        cwd=b,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "CONFLICT" not in done.stdout + done.stderr
    assert len(git(b, "log", "-1", "--format=%P").split()) == 2  # a real merge
    assert git(b, "status", "--porcelain") == ""

    merged = recorded(b / "labbook")
    assert {r["session"] for r in merged} == set(sessions.values())
    assert len(calls(b / "labbook")) == 2 * (3 + 2)
    assert {r["author"]["name"] for r in merged} == {"A", "B"}
    monkeypatch.chdir(b)
    result = CliRunner().invoke(main, ["log", "verify"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == f"ok: {len(merged)} records in 2 files, every chain intact"
    exported = CliRunner().invoke(main, ["log", "export", "--format", "md"])
    assert exported.exit_code == 0 and "not yet committed" not in exported.output
    assert all(r["hash"] in exported.output for r in merged)
    assert changed(b, "HEAD^2") == ["a.py"]  # a's own commit came over as it was
    assert git(b, "log", "--format=%s", "HEAD^2").count("decision: pick openai:gpt-test") == 1
