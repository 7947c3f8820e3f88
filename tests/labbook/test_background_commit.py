"""The git commit is off the hot path: a comparison returns once its records are on disk.

Commits run in the background, coalesced (at most one every `commit_every_s`), at exit, and
on demand (`LabBook.commit()`, `wb.log.commit()`). A record fsync'd but not yet committed
when the process dies is committed by the next session's commit.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from tests.conftest import wire_config
from tests.labbook.helpers import MODELS, commits, git, recorded, subject
from workbench.cli import main
from workbench.labbook import open_labbook
from workbench.labbook.book import LabBook
from workbench.labbook.chain import new_session_id
from workbench.labbook.git import GitSync
from workbench.sessions import Session, reset_session


def session_with(config: Any, every_s: float) -> Session:
    """A Session whose lab notebook commits in the background at most every `every_s`."""
    return Session(config, labbook=open_labbook(config, new_session_id(), commit_every_s=every_s))


def test_a_comparison_never_waits_for_git(repo: Path, wire: dict[str, Any]) -> None:
    session = Session(wire_config(wire))  # type: ignore[arg-type]
    assert session.labbook is not None
    session.compare("Warm up: import the SDKs", MODELS)
    session.labbook.commit()
    before = commits(repo)
    lock = repo / ".git" / "index.lock"
    lock.write_text("")  # another git process holds the index: a commit has to wait
    try:
        start = time.monotonic()
        comparison = session.compare("Is git in the way?", MODELS)
        took = time.monotonic() - start
    finally:
        lock.unlink()
    assert all(r.ok for r in comparison) and all(comparison.record_ids)
    assert took < 2.0  # today's commit retries for ~10 s while the index is locked
    assert len([r for r in recorded(repo / "labbook") if r["kind"] == "call"]) == 6
    session.labbook.commit()  # on demand: now, once the lock is gone
    assert commits(repo)[1:] == before
    assert subject(repo) == (
        "compare: 'Is git in the way?' on openai:gpt-test, anthropic:claude-test, "
        "gemini:gemini-test (3 records)"
    )
    assert git(repo, "status", "--porcelain", "--", "labbook") == ""
    session.close()


def test_commits_are_coalesced_and_made_on_demand(repo: Path, wire: dict[str, Any]) -> None:
    config = wire_config(wire)
    session = session_with(config, every_s=3600)
    assert session.labbook is not None
    session.compare("first", MODELS[0])
    session.labbook.commit()  # the first commit: after it, the next waits for the interval
    after_first = commits(repo)
    assert subject(repo) == "compare: 'first' on openai:gpt-test (1 record)"
    for i in range(3):
        session.compare(f"then {i}", MODELS[:2])
    time.sleep(0.3)
    assert commits(repo) == after_first  # still waiting: the interval has not passed
    import workbench as wb

    reset_session(session)
    try:
        sha = wb.log.commit()  # on demand, from Python
    finally:
        reset_session()
    assert sha == git(repo, "rev-parse", "HEAD") and commits(repo)[1:] == after_first
    assert subject(repo) == "compare: 'then 2' on openai:gpt-test, anthropic:claude-test " + (
        "and 2 more (6 records)"
    )
    body = git(repo, "log", "-1", "--format=%b").splitlines()
    pair = "openai:gpt-test, anthropic:claude-test"
    assert body == [f"compare: 'then {i}' on {pair}" for i in range(3)]
    assert git(repo, "status", "--porcelain", "--", "labbook") == ""
    session.close()


def test_background_commits_happen_without_being_asked(repo: Path, wire: dict[str, Any]) -> None:
    session = session_with(wire_config(wire), every_s=0.2)
    before = commits(repo)
    for i in range(4):
        session.compare(f"prompt {i}", MODELS[0])
    deadline = time.monotonic() + 10
    while git(repo, "status", "--porcelain", "--", "labbook") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert git(repo, "status", "--porcelain", "--", "labbook") == ""
    assert 1 <= len(commits(repo)) - len(before) <= 4
    session.close()


def test_the_shell_command_commits_before_it_exits(repo: Path, wire: dict[str, Any]) -> None:
    base_url = wire["openai"].base_url
    (repo / "workbench.toml").write_text(f'[providers.openai]\nbase_url = "{base_url}"\n')
    exe = Path(sys.executable).with_name("workbench")
    command = [str(exe), "compare", "Committed at exit?", "-m", "openai:gpt-test"]
    done = subprocess.run(command, cwd=repo, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert subject(repo) == "compare: 'Committed at exit?' on openai:gpt-test (1 record)"
    assert git(repo, "status", "--porcelain", "--", "labbook") == ""


# Appends, commits once, appends again (the next commit then waits an hour), says so, sleeps.
KILLED = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from workbench.labbook.book import LabBook
    from workbench.labbook.git import GitSync

    root = Path("labbook")
    git = GitSync.open(root, research_repo=Path("."))
    book = LabBook(root, "killed", git=git, commit_every_s=3600)
    book.append("note", data={"text": "committed"})
    book.commit("the first")
    record = book.append("note", data={"text": "fsynced, never committed"})
    book.commit_soon("the second")
    print(record["id"], flush=True)
    time.sleep(60)
    """
)


def test_a_kill_before_the_commit_leaves_the_record_for_the_next_session(repo: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", KILLED], cwd=repo, stdout=subprocess.PIPE)
    assert child.stdout is not None
    durable = child.stdout.readline().decode().strip()
    time.sleep(0.2)
    child.send_signal(signal.SIGKILL)
    child.communicate()
    assert child.returncode == -signal.SIGKILL
    assert subject(repo) == "the first (1 record)"  # the first note (and the session record)
    assert git(repo, "status", "--porcelain", "--", "labbook")  # the second: on disk only
    assert durable in [r["id"] for r in recorded(repo / "labbook")]

    root = repo / "labbook"
    book = LabBook(root, "next", git=GitSync.open(root, research_repo=repo))
    book.append("note", data={"text": "the next session"})
    assert book.commit("next") is not None
    assert git(repo, "status", "--porcelain", "--", "labbook") == ""
    assert durable in git(repo, "show", "HEAD", "--", "labbook")
    result = CliRunner().invoke(main, ["log", "verify"])
    assert result.exit_code == 0, result.output
    book.close()
