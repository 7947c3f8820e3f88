"""Workers started before the kernel (`worker_handoff`), reached by the kernel through sockets."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from workbench import workers
from workbench.config import Config
from workbench.run import Runner, close_models
from workbench.sessions import Session
from workbench.worker_channel import meeting_place, socket_path
from workbench.worker_handoff import OWNER, Handoff

MODELS = ["openai:gpt-test", "anthropic:claude-test"]


@pytest.fixture
def run_dir(isolated: Path, wire: dict[str, Any]) -> Path:
    """A run folder's manifest and a workbench.toml (processes on) pointing at the servers."""
    lines = ["[run]", "processes = true"]
    for provider, server in wire.items():
        lines += [f"[providers.{provider}]", f'base_url = "{server.base_url}"']
    (isolated / "workbench.toml").write_text("\n".join(lines) + "\n")
    folder = isolated / "run"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"models": [*MODELS, "local"]}))
    return folder


@pytest.fixture
def handoff(run_dir: Path) -> Any:
    started = Handoff.start(run_dir, Config.load())
    yield started
    workers._stop_parked()
    if started is not None:
        started.close()


def ask(models: dict[str, Any], names: list[str]) -> dict[str, Any]:
    session = Session(Config.load(), labbook=False)
    return session.compare("hi", names, runner=Runner(session.config, models=models))  # type: ignore[no-any-return]


def test_the_kernel_reaches_the_workers_started_before_it(run_dir: Path, handoff: Any) -> None:
    assert handoff is not None and len(handoff.processes) == 2  # the local model: no worker
    place = meeting_place(run_dir)
    assert place is not None and sorted(p.name for p in place.glob("*.sock")) == sorted(
        socket_path(place, name).name for name in MODELS
    )
    assert workers.start(run_dir) == 2  # what the audit notebook's first cell does
    models: dict[str, Any] = {}
    try:
        replies = ask(models, MODELS)
        assert [replies[name].text for name in MODELS] == ["echo: hi", "echo: hi"]
        for name in MODELS:  # reached through its socket: started by the handoff, not here
            assert models[name]._channel.process is None
    finally:
        asyncio.run(close_models(models))
    handoff.close()
    assert [p.returncode for p in handoff.processes] == [0, 0]
    assert not place.exists()


def test_workers_nobody_reached_exit_when_the_handoff_closes(run_dir: Path, handoff: Any) -> None:
    start = time.monotonic()
    handoff.close(wait_s=30)
    assert [p.returncode for p in handoff.processes] == [0, 0]  # exited, not killed
    assert time.monotonic() - start < 10


def test_a_worker_built_for_other_settings_is_let_go(
    run_dir: Path, handoff: Any, wire: dict[str, Any]
) -> None:
    toml = run_dir.parent / "workbench.toml"  # the kernel's config differs from the starter's
    toml.write_text(
        toml.read_text().replace("[providers.openai]", "[providers.openai]\ntimeout_s = 7")
    )
    workers.start(run_dir)
    models: dict[str, Any] = {}
    try:
        assert ask(models, ["openai:gpt-test"])["openai:gpt-test"].text == "echo: hi"
        assert models["openai:gpt-test"]._channel.process is not None  # started here instead
    finally:
        asyncio.run(close_models(models))


def test_a_replay_or_a_machine_without_a_safe_folder_starts_none(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    manifest = json.loads((run_dir / "manifest.json").read_text())
    (run_dir / "manifest.json").write_text(json.dumps({**manifest, "replay_of": "x"}))
    assert Handoff.start(run_dir, Config.load()) is None
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    shared = tmp_path / f"workbench-{os.getuid()}"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)  # others may write here: a worker's socket could be anyone's
    assert meeting_place(run_dir) is None
    assert Handoff.start(run_dir, Config.load()) is None


def test_a_folder_left_by_a_dead_starter_is_taken_a_live_ones_is_not(run_dir: Path) -> None:
    place = meeting_place(run_dir)
    assert place is not None
    place.mkdir(mode=0o700)
    gone = subprocess.Popen(["true"])
    gone.wait()
    (place / OWNER).write_text(str(gone.pid))  # that process has exited
    taken = Handoff.start(run_dir, Config.load())
    assert taken is not None
    taken.close()
    place.mkdir(mode=0o700)
    (place / OWNER).write_text(str(os.getppid()))  # alive: its run is executing right now
    try:
        assert Handoff.start(run_dir, Config.load()) is None
    finally:
        (place / OWNER).unlink()
        place.rmdir()


def test_a_papermill_audit_leaves_no_worker_nor_socket_behind(
    run_dir: Path, wire: dict[str, Any]
) -> None:
    from workbench.audit import run_audit

    work = run_dir.parent
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    for key, value in (("user.name", "Ada"), ("user.email", "ada@example.org")):
        subprocess.run(["git", "-C", str(work), "config", key, value], check=True)
    (work / "sums.yaml").write_text(
        "name: sums\ninstructions: Answer.\nreason: Sums have one answer.\n"
        'template: "What is {a} + 1?"\nscorer: normalised\n'
        "models: [openai:gpt-test, anthropic:claude-test, gemini:gemini-test]\n"
        "items:\n  - {id: one, a: 1}\n  - {id: two, a: 2}\n"
    )
    run = run_audit(work / "sums.yaml", progress=False)
    assert run.status == "complete"
    assert len(run.rows) == 2 and all(r["outcome"] != "error" for r in run.rows)
    assert meeting_place(run.path) is not None and not meeting_place(run.path).exists()  # type: ignore[union-attr]
    assert not _workers_of(os.getpid())


def _workers_of(pid: int) -> list[int]:
    """The worker processes whose parent is `pid` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError):
            continue
        if int(stat[1]) == pid and b"workbench.worker_process" in command:
            found.append(int(entry.name))
    return found
