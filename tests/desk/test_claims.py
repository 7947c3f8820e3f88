"""The desk across clones: two real clones and a bare remote; a claim stands once, on one side."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.labbook.helpers import changed, git, subject
from workbench import desk
from workbench.channel import ClaimConflict, RepoNotReady


def clone(bare: Path, path: Path, name: str) -> Path:
    git(bare.parent, "clone", "-q", str(bare), str(path))
    git(path, "config", "user.name", name)
    git(path, "config", "user.email", f"{name.lower()}@example.org")
    return path


@pytest.fixture
def clones(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(clone A, clone B, the bare remote): main pushed, both tracking origin/main."""
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    a = clone(bare, tmp_path / "a", "Ada")
    (a / "analysis.py").write_text("print(1)\n")
    git(a, "add", "analysis.py")
    git(a, "commit", "-qm", "Start")
    git(a, "push", "-q", "-u", "origin", "main")
    b = clone(bare, tmp_path / "b", "Bob")
    return a, b, bare


def remote_files(bare: Path, folder: str) -> list[str]:
    out = git(bare, "ls-tree", "-r", "--name-only", "main", "--", folder)
    return out.splitlines()


def test_a_task_added_in_one_clone_waits_in_the_other(clones: tuple[Path, Path, Path]) -> None:
    a, b, bare = clones
    item = desk.add("Referee the draft", to="referee", why="the author cannot see its gaps", repo=a)
    assert subject(bare, "main") == f"desk: task {item.id} for referee: Referee the draft"
    assert sorted(changed(bare, "main")) == ["desk/README.md", item.path]
    assert (a / item.path).is_file(), "the clone that added it has the file"

    seen = desk.board(b)  # fetched from the remote
    assert [e.item.id for e in seen.waiting("referee")] == [item.id]
    assert seen.get(item.id[-6:]).item.why == "the author cannot see its gaps"
    assert "waiting for referee:" in seen.text() and item.id in seen.text()


def test_the_second_claim_is_refused_with_who_holds_it(clones: tuple[Path, Path, Path]) -> None:
    a, b, bare = clones
    item = desk.add("Referee the draft", to="referee", repo=a)
    held = desk.claim(item.id, by="claude", repo=a)
    assert held.by == "claude" and (a / held.path).is_file()

    with pytest.raises(ClaimConflict, match=f"{item.id} is claimed by claude") as refused:
        desk.claim(item.id, by="gpt", repo=b)
    assert refused.value.holder == "claude" and "\n" not in str(refused.value)
    assert remote_files(bare, "desk/claims") == [held.path]
    assert desk.board(b).get(item.id).holder == held
    with pytest.raises(ClaimConflict, match="is claimed by claude"):
        desk.done(item.id, by="gpt", repo=b)

    made = desk.done(item.id, by="claude", outputs=["reviews/referee.md"], repo=a)
    entry = desk.board(b).get(item.id)
    assert entry.state == "done" and entry.done == made
    with pytest.raises(ClaimConflict, match="was done by claude"):
        desk.claim(item.id, by="gpt", repo=b)


def test_two_clones_claiming_at_once_one_claim_stands(
    clones: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    a, b, bare = clones
    log = tmp_path / "pushes.log"
    hook = bare / "hooks" / "pre-receive"  # slow pushes: both clients fetch before either lands
    hook.write_text(f"#!/bin/sh\ncat >> {log}\nsleep 1.5\n")
    hook.chmod(0o755)
    items = [desk.add(f"Task {n}", to="referee", repo=a) for n in range(2)]
    git(b, "pull", "-q")
    log.write_text("")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [str(Path(sys.executable).parent / "workbench"), "desk", "claim"]

    for item in items:
        procs = [
            subprocess.Popen(
                [*command, item.id, "--as", who],
                cwd=where,
                env=env,
                text=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            for where, who in ((a, "claude"), (b, "gpt"))
        ]
        done = [(p.wait(timeout=120), *p.communicate()) for p in procs]
        codes = sorted(code for code, _, _ in done)
        assert codes == [0, 1], done
        loser = next(err for code, _, err in done if code == 1)
        assert "is claimed by" in loser and "not claimed" in loser and "Traceback" not in loser
        assert len(remote_files(bare, "desk/claims")) == items.index(item) + 1
        holders = {desk.board(where).get(item.id).holder for where in (a, b)}
        assert len(holders) == 1 and None not in holders, "both clones see the same claim"
    pushes = log.read_text().count("refs/heads/main")
    assert pushes >= 3, "the race was never run: each loser was refused before pushing"


def test_clones_that_claimed_while_apart_settle_on_one_claim_when_merged(
    clones: tuple[Path, Path, Path],
) -> None:
    a, b, _ = clones
    item = desk.add("Referee the draft", to="referee", repo=a)
    git(b, "pull", "-q")
    for where in (a, b):  # no upstream: claims are local commits
        git(where, "branch", "--unset-upstream")
    desk.claim(item.id, by="claude", repo=a)
    time.sleep(1.1)  # claims are dated to the second
    desk.claim(item.id, by="gpt", repo=b)
    git(a, "push", "-q", "origin", "main")
    git(b, "pull", "-q", "--no-rebase", "--no-edit", "origin", "main")  # merges: no conflict

    board = desk.board(b)
    entry = board.get(item.id)
    assert entry.holder is not None and entry.holder.by == "claude"
    assert [c.by for c in entry.overtaken] == ["gpt"]
    assert "gpt's claim" in board.text() and "does not stand: claude claimed it first" in (
        board.text()
    )
    with pytest.raises(ClaimConflict, match="is claimed by claude"):
        desk.done(item.id, by="gpt", repo=b)


def test_desk_changes_refuse_odd_git_states_and_leave_staged_work_alone(tmp_path: Path) -> None:
    from tests.labbook.helpers import new_repo

    repo = new_repo(tmp_path / "solo")
    (repo / "analysis.py").write_text("print(2)\n")
    git(repo, "add", "analysis.py")
    item = desk.add("Check units", to="referee", repo=repo)  # no upstream: a local commit
    assert sorted(changed(repo)) == ["desk/README.md", item.path]
    assert git(repo, "diff", "--cached", "--name-only") == "analysis.py"

    git(repo, "checkout", "-q", "--detach")
    with pytest.raises(RepoNotReady, match="HEAD is detached"):
        desk.claim(item.id, by="claude", repo=repo)
    assert not (repo / "desk" / "claims").exists()
    git(repo, "checkout", "-q", "main")
    merge_head = Path(git(repo, "rev-parse", "--absolute-git-dir")) / "MERGE_HEAD"
    merge_head.write_text(git(repo, "rev-parse", "HEAD") + "\n")
    with pytest.raises(RepoNotReady, match=r"in progress .*\(MERGE_HEAD\)"):
        desk.add("Another", to="referee", repo=repo)
    merge_head.unlink()
    with pytest.raises(RepoNotReady, match="not in one"):
        desk.add("Outside", to="referee", repo=tmp_path)
