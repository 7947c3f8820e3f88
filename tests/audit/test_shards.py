"""Shards recorded in two clones of the lab notebook combine after a git merge."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.audit.helpers import prompts_sent, script_answers, write, write_wire_config
from tests.audit.test_wire_runs import ANSWERS, EXERCISE, OUTCOMES
from workbench.audit import combine, rerun, run_audit


def git(folder: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(folder), *args], capture_output=True, text=True, check=True
    ).stdout


def test_shards_from_two_clones_combine_after_a_merge(
    isolated: Path, wire: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_wire_config(isolated, wire)
    script_answers(wire, ANSWERS)
    write(isolated, "capitals.yaml", EXERCISE)
    first, second = isolated.parent / "book-a", isolated.parent / "book-b"
    subprocess.run(["git", "init", "-q", str(first)], check=True)
    for key, value in (("user.name", "Ada"), ("user.email", "ada@example.org")):
        git(first, "config", key, value)
    write(first, "README.md", "lab notebook\n")
    git(first, "add", "README.md")
    git(first, "commit", "-q", "-m", "start")
    subprocess.run(["git", "clone", "-q", str(first), str(second)], check=True)

    monkeypatch.setenv("WORKBENCH_LABBOOK", str(first))
    one = run_audit("capitals.yaml", shard="1/2", notebook=False, progress=False)
    monkeypatch.setenv("WORKBENCH_LABBOOK", str(second))
    two = run_audit("capitals.yaml", shard="2/2", notebook=False, progress=False)
    assert [r["item"] for r in one.rows] == ["fr", "it", "jp"]
    assert [r["item"] for r in two.rows] == ["de", "es"]
    assert git(second, "status", "--porcelain") == ""  # everything committed

    git(first, "pull", "-q", "--no-rebase", "--no-edit", str(second), "HEAD")  # no conflict
    monkeypatch.setenv("WORKBENCH_LABBOOK", str(first))
    combined = combine([one.name, two.name])
    assert combined.status == "complete"
    assert combined.manifest["shards"] == ["1/2", "2/2"]
    outcomes = {item: str(v) for item, v in combined.outcomes()["outcome"].items()}
    assert outcomes == OUTCOMES
    assert sum(len(prompts_sent(s)) for s in wire.values()) == 15

    # the merged lab notebook holds both clones' calls: the combined run replays offline
    for server in wire.values():
        server.stop()
    replayed = rerun(combined.name, replay=True, progress=False)
    assert replayed.outcomes().equals(combined.outcomes())
