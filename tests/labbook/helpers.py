"""Shared by the lab notebook's end-to-end tests: real git repos and what was recorded in them."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from workbench.labbook import book, store

MODELS = ["openai:gpt-test", "anthropic:claude-test", "gemini:gemini-test"]
AUTHOR = {"name": "Ada Lovelace", "email": "ada@example.org"}


def git(cwd: Path, *args: str, check: bool = True) -> str:
    """Run git in `cwd` and return its output (an AssertionError when it fails)."""
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
    return done.stdout.rstrip("\n")


def new_repo(path: Path) -> Path:
    """A research repository with an identity and one commit (analysis.py)."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    git(path, "config", "user.name", str(AUTHOR["name"]))
    git(path, "config", "user.email", str(AUTHOR["email"]))
    (path / "analysis.py").write_text("print(1)\n")
    git(path, "add", "analysis.py")
    git(path, "commit", "-qm", "Start the analysis")
    return path


def commits(repo: Path) -> list[str]:
    """Every commit on HEAD, newest first."""
    return git(repo, "log", "--format=%H").splitlines()


def changed(repo: Path, rev: str = "HEAD") -> list[str]:
    """The paths a commit changed."""
    return git(repo, "show", "--name-only", "--format=", rev).splitlines()


def subject(repo: Path, rev: str = "HEAD") -> str:
    """A commit's first line."""
    return git(repo, "log", "-1", "--format=%s", rev)


def recorded(root: Path) -> list[dict[str, Any]]:
    """Every record under a lab notebook's root, file by file, line by line."""
    return [line.record for path in book.files(root) for line in store.read(path)]


def calls(root: Path) -> list[dict[str, Any]]:
    """The call records only."""
    return [r for r in recorded(root) if r["kind"] == "call"]
