"""GitSync against real git repositories in tmp_path (HOME is isolated: no global config)."""

from __future__ import annotations

import multiprocessing
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from workbench import notices
from workbench.labbook import store
from workbench.labbook.chain import record_hash
from workbench.labbook.git import README, GitSync

DAY = Path("2026") / "11" / "25"


def git(cwd: Path, *args: str, check: bool = True) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
    return done.stdout.rstrip("\n")


def new_repo(path: Path, *, identity: str | None = "Ada Lovelace") -> Path:
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    if identity:
        git(path, "config", "user.name", identity)
        git(path, "config", "user.email", f"{identity.split()[0].lower()}@example.org")
    return path


def commit_file(repo: Path, name: str, text: str) -> str:
    (repo / name).write_text(text)
    git(repo, "add", name)
    git(repo, "-c", "user.name=Setup", "-c", "user.email=setup@x", "commit", "-qm", f"add {name}")
    return git(repo, "rev-parse", "HEAD")


def note(path: Path, text: str) -> dict[str, Any]:
    return store.append(path, {"kind": "note", "data": {"text": text}})


def assert_chain(path: Path, count: int) -> None:
    records = [line.record for line in store.read(path)]
    assert len(records) == count
    prev = None
    for seq, record in enumerate(records):
        assert (record["seq"], record["prev"], record["hash"]) == (seq, prev, record_hash(record))
        prev = record["hash"]


def one_notice(capsys: pytest.CaptureFixture[str]) -> str:
    """What was said on stderr since the last look: exactly one `workbench: ` line."""
    err = capsys.readouterr().err
    assert err.startswith("workbench: ") and err.count("\n") == 1, err
    return err


def changed(repo: Path, rev: str) -> list[str]:
    return git(repo, "show", "--name-only", "--format=", rev).splitlines()


@pytest.fixture(autouse=True)
def said_afresh() -> None:
    """Each test hears its `once` notices again."""
    notices.forget()


@pytest.fixture
def research(tmp_path: Path) -> Path:
    repo = new_repo(tmp_path / "research")
    commit_file(repo, "analysis.py", "print(1)\n")
    commit_file(repo, "notes.md", "notes\n")
    return repo


@pytest.fixture
def sync() -> Iterator[Callable[..., GitSync]]:
    opened: list[GitSync] = []

    def open_(root: Path, research_repo: Path | None = None, **kw: Any) -> GitSync:
        opened.append(GitSync.open(root, research_repo=research_repo, **kw))
        return opened[-1]

    yield open_
    for one in opened:
        one.close()


def test_inside_a_research_repo_commits_only_the_lab_notebook(research: Path, sync: Any) -> None:
    (research / "analysis.py").write_text("print(2)\n")
    git(research, "add", "analysis.py")
    (research / "analysis.py").write_text("print(3)\n")  # staged, then changed again
    (research / "notes.md").write_text("more notes\n")  # unstaged
    (research / "scratch.txt").write_text("untracked\n")
    staged, unstaged = git(research, "diff", "--cached"), git(research, "diff")
    for hook in ("pre-commit", "prepare-commit-msg", "commit-msg"):  # the user's hooks stay out
        (research / ".git" / "hooks" / hook).write_text("#!/bin/sh\nexit 1\n")
        (research / ".git" / "hooks" / hook).chmod(0o755)
    lab = sync(research / "labbook", research)
    assert lab.pathspec == "labbook"
    assert not (research / "labbook" / "README.md").exists()
    note(research / "labbook" / DAY / "s1.jsonl", "hello")
    (research / "labbook" / "stray.txt").write_text("not a lab notebook file\n")

    sha = lab.commit("Record a comparison")

    assert sha == git(research, "rev-parse", "HEAD")
    assert git(research, "log", "-1", "--format=%s") == "Record a comparison"
    assert changed(research, sha) == [f"labbook/{DAY.as_posix()}/s1.jsonl"]
    assert git(research, "diff", "--cached") == staged  # still staged, exactly as it was
    assert git(research, "diff") == unstaged
    status = git(research, "status", "--porcelain").splitlines()
    assert sorted(status) == [
        " M notes.md",
        "?? labbook/stray.txt",
        "?? scratch.txt",
        "MM analysis.py",
    ]


def test_a_lab_notebook_of_its_own(tmp_path: Path, sync: Any) -> None:
    root = tmp_path / "data" / "labbook"
    lab = sync(root)
    assert (root / ".git").is_dir() and lab.pathspec == "."
    assert "workbench log verify" in (root / "README.md").read_text() == README
    assert git(root, "log", "--format=%s") == "Start the lab notebook"
    assert changed(root, "HEAD") == ["README.md"]
    note(root / DAY / "s1.jsonl", "one")
    sha = lab.commit("First records")
    assert git(root, "log", "--format=%H %s").splitlines()[0] == f"{sha} First records"
    again = sync(root)  # opening again neither re-initialises nor commits
    assert again.pathspec == "." and len(git(root, "log", "--format=%H").splitlines()) == 2


def test_an_ignored_folder_becomes_a_repository_of_its_own(research: Path, sync: Any) -> None:
    commit_file(research, ".gitignore", "labbook/\n")
    head = git(research, "rev-parse", "HEAD")
    lab = sync(research / "labbook", research)
    assert lab.top == (research / "labbook").resolve() and (research / "labbook" / ".git").is_dir()
    assert git(research, "rev-parse", "HEAD") == head


def test_nothing_to_commit_and_messages_as_given(research: Path, sync: Any) -> None:
    lab = sync(research / "labbook", research)
    head = git(research, "rev-parse", "HEAD")
    assert lab.commit("nothing yet") is None
    note(research / "labbook" / DAY / "s.jsonl", "one")
    first = lab.commit("first: one record")
    assert first is not None and first != head
    assert lab.commit("nothing new") is None
    note(research / "labbook" / DAY / "s.jsonl", "two")
    second = lab.commit("second\n\nwith a body")
    assert git(research, "log", "--format=%H %B", f"{head}..").split() == [
        second, "second", "with", "a", "body", first, "first:", "one", "record",
    ]  # fmt: skip


@pytest.mark.parametrize("layout", ["inside", "own"])
def test_two_clones_merge_without_conflicts(
    tmp_path: Path, research: Path, sync: Any, layout: str
) -> None:
    origin = research if layout == "inside" else sync(tmp_path / "origin-labbook").root
    clones = {}
    for name in ("a", "b"):
        clone = tmp_path / name
        git(tmp_path, "clone", "-q", str(origin), str(clone))
        git(clone, "config", "user.name", name.upper())
        git(clone, "config", "user.email", f"{name}@example.org")
        root = clone / "labbook" if layout == "inside" else clone
        clones[name] = (clone, root, sync(root, clone))
    for round_ in range(2):
        for name, (_clone, root, lab) in clones.items():
            for i in range(3):
                note(root / DAY / f"session-{name}.jsonl", f"{name} {round_} {i}")
            assert lab.commit(f"{name} round {round_}") is not None

    b_clone, b_root, _ = clones["b"]
    done = subprocess.run(
        ["git", "pull", "--no-rebase", "--no-edit", str(clones["a"][0]), "HEAD"],
        cwd=b_clone,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "CONFLICT" not in done.stdout
    assert len(git(b_clone, "log", "-1", "--format=%P").split()) == 2  # a real merge
    assert git(b_clone, "status", "--porcelain") == ""
    for name in ("a", "b"):
        assert_chain(b_root / DAY / f"session-{name}.jsonl", 6)


def _append_and_commit(root: str, name: str, rounds: int, barrier: Any) -> None:
    lab = GitSync.open(Path(root), research_repo=Path(root).parent)
    try:
        barrier.wait()
        for i in range(rounds):
            note(Path(root) / DAY / f"{name}.jsonl", f"{name} {i}")
            note(Path(root) / DAY / "shared.jsonl", f"{name} {i}")
            lab.commit(f"{name} {i}")
    finally:
        lab.close()


def test_concurrent_processes_commit_without_losing_records(research: Path, sync: Any) -> None:
    root, workers, rounds = research / "labbook", 4, 5
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(workers)
    procs = [
        context.Process(target=_append_and_commit, args=(str(root), f"w{n}", rounds, barrier))
        for n in range(workers)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    assert [proc.exitcode for proc in procs] == [0] * workers
    lab = sync(root, research)
    for n in range(workers):  # every record is in HEAD, with no commit made here
        assert lab.committed_line_count(root / DAY / f"w{n}.jsonl") == rounds
        assert_chain(root / DAY / f"w{n}.jsonl", rounds)
    assert lab.committed_line_count(root / DAY / "shared.jsonl") == workers * rounds
    assert_chain(root / DAY / "shared.jsonl", workers * rounds)
    assert git(research, "status", "--porcelain") == ""


def test_first_commits_and_committed_line_count(research: Path, sync: Any) -> None:
    lab = sync(research / "labbook", research)
    path = research / "labbook" / DAY / "s.jsonl"
    assert lab.first_commits(path) == [] and lab.committed_line_count(path) == 0
    shas = []
    for count in (2, 3, 1):
        for i in range(count):
            note(path, str(i))
        shas.append(lab.commit(f"{count} records"))
        commit_file(research, "analysis.py", f"print({count})\n")  # unrelated commits between
    note(path, "pending")
    dates = {sha: git(research, "show", "-s", "--format=%cI", sha) for sha in shas}
    expected = [shas[0]] * 2 + [shas[1]] * 3 + [shas[2]]
    assert lab.first_commits(path) == [(sha, dates[sha]) for sha in expected]
    assert lab.committed_line_count(path) == 6


def test_a_torn_last_line_counts_once_complete(research: Path, sync: Any) -> None:
    lab = sync(research / "labbook", research)
    path = research / "labbook" / DAY / "s.jsonl"
    note(path, "whole")
    with path.open("ab") as handle:
        handle.write(b'{"half":')
    first = lab.commit("with a torn tail")
    with path.open("ab") as handle:
        handle.write(b"1}\n")
    second = lab.commit("tail completed")  # not refused as a rewrite (warnings are errors)
    assert [sha for sha, _ in lab.first_commits(path)] == [first, second]
    assert lab.committed_line_count(path) == 2


def test_rewritten_or_deleted_session_files_are_not_committed(
    research: Path, sync: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    lab = sync(research / "labbook", research)
    day = research / "labbook" / DAY
    for i in range(3):
        note(day / "cut.jsonl", str(i))
        note(day / "gone.jsonl", str(i))
    lab.commit("three each")
    kept = (day / "cut.jsonl").read_text().splitlines(keepends=True)
    (day / "cut.jsonl").write_text("".join(kept[:2]))
    (day / "gone.jsonl").unlink()
    note(day / "new.jsonl", "fine")
    sha = lab.commit("more")
    said = one_notice(capsys)
    assert re.search("changed or removed.*cut.jsonl.*gone.jsonl", said), said
    assert changed(research, sha) == [f"labbook/{DAY.as_posix()}/new.jsonl"]
    assert lab.committed_line_count(day / "cut.jsonl") == 3
    assert lab.committed_line_count(day / "gone.jsonl") == 3


def test_no_commit_while_a_merge_is_in_progress(
    research: Path, sync: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    lab = sync(research / "labbook", research)
    git(research, "checkout", "-q", "-b", "other")
    commit_file(research, "notes.md", "theirs\n")
    git(research, "checkout", "-q", "main")
    commit_file(research, "notes.md", "ours\n")
    git(research, "merge", "-q", "other", check=False)
    assert (research / ".git" / "MERGE_HEAD").exists()
    note(research / "labbook" / DAY / "s.jsonl", "during the merge")
    assert lab.commit("not now") is None
    assert "a git operation is in progress" in one_notice(capsys)
    assert lab.commit("still not now") is None
    assert capsys.readouterr().err == ""  # said once
    git(research, "merge", "--abort")
    assert lab.commit("now") is not None


def test_repo_head(tmp_path: Path, research: Path, sync: Any) -> None:
    lab = sync(research / "labbook", research)
    assert lab.repo_head() == git(research, "rev-parse", "HEAD")
    new = commit_file(research, "analysis.py", "print(4)\n")
    assert lab.repo_head() == new
    git(research, "pack-refs", "--all")  # the loose ref file is gone
    assert not (research / ".git" / "refs" / "heads" / "main").exists()
    assert lab.repo_head() == new
    git(research, "checkout", "-q", "--detach", "HEAD~1")
    assert lab.repo_head() == git(research, "rev-parse", "HEAD") != new
    git(research, "worktree", "add", "-q", str(tmp_path / "tree"), "main")
    assert sync(tmp_path / "lb1", tmp_path / "tree").repo_head() == new

    start = time.perf_counter()
    for _ in range(2000):
        lab.repo_head()
    assert (time.perf_counter() - start) / 2000 < 1e-3

    assert sync(tmp_path / "lb2").repo_head() is None
    assert sync(tmp_path / "lb3", tmp_path / "not-a-repo").repo_head() is None
    unborn = new_repo(tmp_path / "unborn")
    lab = sync(unborn / "labbook", unborn)
    assert lab.repo_head() is None
    note(unborn / "labbook" / DAY / "s.jsonl", "first")
    root_commit = lab.commit("root commit")
    assert lab.repo_head() == root_commit == git(unborn, "rev-parse", "HEAD")


def test_push_to_a_remote_and_a_failed_push_is_a_notice(
    tmp_path: Path, research: Path, sync: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(research, "remote", "add", "origin", str(remote))
    lab = sync(research / "labbook", research, push="origin")
    note(research / "labbook" / DAY / "s.jsonl", "one")
    sha = lab.commit("pushed")
    assert git(remote, "rev-parse", "main") == sha
    git(research, "remote", "remove", "origin")
    note(research / "labbook" / DAY / "s.jsonl", "two")
    kept = lab.commit("not pushed")
    assert "not pushed to 'origin'" in one_notice(capsys)
    assert kept is not None and kept == git(research, "rev-parse", "HEAD") != sha
    assert git(remote, "rev-parse", "main") == sha


def test_author_from_repo_config_computed_once(tmp_path: Path, research: Path, sync: Any) -> None:
    own = sync(tmp_path / "labbook", research)  # its own repo, with no identity configured
    assert own.author() == {"name": "Ada Lovelace", "email": "ada@example.org"}
    assert git(own.root, "log", "-1", "--format=%an <%ae>") == "Ada Lovelace <ada@example.org>"
    git(research, "config", "user.name", "Someone Else")
    assert own.author()["name"] == "Ada Lovelace"
    alone = sync(tmp_path / "labbook2")
    git(alone.root, "config", "user.name", "Grace Hopper")
    assert sync(tmp_path / "labbook2").author() == {"name": "Grace Hopper", "email": None}


def test_fallback_identity_when_none_is_configured_is_said_once(
    tmp_path: Path, sync: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    research = new_repo(tmp_path / "bare-identity", identity=None)
    lab = sync(research / "labbook", research)
    assert lab.author() == {"name": None, "email": None}
    assert capsys.readouterr().err == ""  # nothing said until a record is committed
    note(research / "labbook" / DAY / "s.jsonl", "anonymous")
    assert lab.commit("no identity") is not None
    said = one_notice(capsys)
    assert "workbench <workbench@localhost>" in said
    assert "git config --global user.email you@example.org" in said
    note(research / "labbook" / DAY / "s.jsonl", "anonymous again")
    assert lab.commit("still no identity") is not None
    assert capsys.readouterr().err == ""  # said once
    assert git(research, "log", "-1", "--format=%an <%ae>|%cn <%ce>") == (
        "workbench <workbench@localhost>|workbench <workbench@localhost>"
    )
    assert git(research, "config", "user.name", check=False) == ""  # config left alone
    assert not (tmp_path / "home" / ".gitconfig").exists()


def test_on_a_detached_head_records_stay_on_disk_and_are_committed_on_a_branch(
    research: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from workbench.cli import main
    from workbench.labbook.book import LabBook

    monkeypatch.chdir(research)
    root = research / "labbook"
    git(research, "checkout", "-q", "--detach", "HEAD~1")
    book = LabBook(root, "detached", git=GitSync.open(root, research_repo=research))
    first = book.append("note", data={"text": "on a detached HEAD"})
    assert book.commit("detached") is None
    said = one_notice(capsys)
    assert "detached" in said and "on disk" in said and "git switch" in said
    book.append("note", data={"text": "still detached"})
    assert book.commit("detached again") is None
    assert capsys.readouterr().err == ""  # said once
    assert git(research, "log", "--all", "--format=%s").count("detached") == 0
    book.close()

    git(research, "checkout", "-q", "main")
    texts = [line.record["data"].get("text") for path in root.rglob("*.jsonl")
             for line in store.read(path)]  # fmt: skip
    assert texts[1:] == ["on a detached HEAD", "still detached"]
    result = CliRunner().invoke(main, ["log", "verify"], catch_exceptions=False)
    assert result.exit_code == 0, result.output

    again = LabBook(root, "on-main", git=GitSync.open(root, research_repo=research))
    again.append("note", data={"text": "back on main"})
    assert again.commit("on main") is not None
    assert first["id"] in git(research, "show", "HEAD", "--", "labbook")
    assert git(research, "status", "--porcelain", "--", "labbook") == ""
    again.close()


def test_no_commit_while_a_rebase_stops_on_a_conflict(
    research: Path, sync: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    lab = sync(research / "labbook", research)
    git(research, "checkout", "-q", "-b", "other")
    commit_file(research, "notes.md", "theirs\n")
    git(research, "checkout", "-q", "main")
    commit_file(research, "notes.md", "ours\n")
    git(research, "checkout", "-q", "other")
    git(research, "-c", "user.name=S", "-c", "user.email=s@x", "rebase", "main", check=False)
    assert (research / ".git" / "rebase-merge").is_dir()  # stopped, HEAD detached
    note(research / "labbook" / DAY / "s.jsonl", "during the rebase")
    assert lab.commit("not now") is None
    said = one_notice(capsys)
    assert "a git operation is in progress" in said and "rebase-merge" in said
    git(research, "rebase", "--abort")
    assert lab.commit("now") is not None
    assert git(research, "status", "--porcelain", "--", "labbook") == ""
