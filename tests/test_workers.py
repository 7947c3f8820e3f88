"""Calls in worker processes (`workbench.workers`) through the real SDKs and wire servers."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest

from tests.conftest import WIRE_PROVIDERS, wire_config
from tests.wire.harness import Step
from workbench.errors import IncompleteAnswer, RateLimited
from workbench.run import Runner, close_models
from workbench.sessions import Session
from workbench.worker_channel import Frames, error_message, frame, rebuild
from workbench.workers import ProcessModel, running_elsewhere, wanted

MODEL = {
    "openai": "openai:gpt-test",
    "anthropic": "anthropic:claude-test",
    "gemini": "gemini:gemini-test",
}


def run(session: Session, models: dict[str, Any], prompts: Any, names: Any, **options: Any) -> Any:
    runner = Runner(session.config, processes=True, models=models)
    return session.compare(prompts, names, runner=runner, **options)


@pytest.fixture
def pool() -> Any:
    models: dict[str, Any] = {}
    yield models
    asyncio.run(close_models(models))


@pytest.mark.parametrize("stream", [False, True])
def test_answers_from_workers_are_the_answers_made_here(
    wire: dict[str, Any], pool: dict[str, Any], stream: bool
) -> None:
    session = Session(wire_config(wire), labbook=False)  # type: ignore[arg-type]
    names = list(MODEL.values())
    here = session.compare(["a", "b"], names, stream=stream)
    there = run(session, pool, ["a", "b"], names, stream=stream)
    assert all(isinstance(pool[name], ProcessModel) for name in names)
    assert [r.text for r in there] == [r.text for r in here] == ["echo: a"] * 3 + ["echo: b"] * 3
    assert [r.usage for r in there] == [r.usage for r in here]
    assert all(r.cost_usd and r.cost_usd > 0 and r.latency_s for r in there)


@pytest.mark.parametrize("provider", WIRE_PROVIDERS)
def test_a_workers_errors_are_the_same_errors_and_retried_alike(
    wire: dict[str, Any], pool: dict[str, Any], provider: str
) -> None:
    wire[provider].queue(Step(status=429, retry_after="0.2"), Step(status=401))
    session = Session(wire_config(wire, retries=1), labbook=False)  # type: ignore[arg-type]
    reply = run(session, pool, "hi", [MODEL[provider]])[MODEL[provider]]
    assert reply.attempts == 2  # the 429 came back as a RateLimited and was retried
    assert reply.error is not None and reply.error.type == "AuthenticationFailed"


def test_a_timeout_stops_the_call_in_the_worker_which_answers_the_next(
    wire: dict[str, Any], pool: dict[str, Any]
) -> None:
    wire["openai"].queue(Step(hang=True))
    config = wire_config(wire, {"openai": {"timeout_s": 0.5}}, retries=0)
    session = Session(config, labbook=False)  # type: ignore[arg-type]
    first = run(session, pool, "hi", ["openai:gpt-test"])["openai:gpt-test"]
    assert first.error is not None and first.error.type == "ProviderTimeout"
    second = run(session, pool, "again", ["openai:gpt-test"])["openai:gpt-test"]
    assert second.ok and second.text == "echo: again"


def test_a_worker_that_dies_fails_its_calls_as_lost_connections(
    wire: dict[str, Any], pool: dict[str, Any]
) -> None:
    session = Session(wire_config(wire, retries=0), labbook=False)  # type: ignore[arg-type]
    assert run(session, pool, "hi", ["openai:gpt-test"])["openai:gpt-test"].ok
    worker = pool["openai:gpt-test"]._channel.process
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    reply = run(session, pool, "hi", ["openai:gpt-test"])["openai:gpt-test"]
    assert reply.error is not None and reply.error.type == "ConnectionFailed"
    assert "worker process is gone" in reply.error.message


def test_a_missing_key_is_said_from_the_worker(
    wire: dict[str, Any], pool: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    session = Session(wire_config(wire), labbook=False)  # type: ignore[arg-type]
    reply = run(session, pool, "hi", ["anthropic:claude-test"])["anthropic:claude-test"]
    assert reply.error is not None and reply.error.type == "MissingKey"
    assert "ANTHROPIC_API_KEY" in reply.error.message


def test_errors_cross_the_pipe_with_their_class_and_fields() -> None:
    error = rebuild(*error_message(RateLimited("slow down", retry_after=1.5)))
    assert isinstance(error, RateLimited) and error.retry_after == 1.5 and error.retryable
    cut = rebuild(*error_message(IncompleteAnswer("cut", partial="half an")))
    assert isinstance(cut, IncompleteAnswer) and cut.partial == "half an"
    assert isinstance(rebuild(*error_message(KeyError("x"))), RuntimeError)


def test_frames_come_out_whole_however_the_bytes_arrive() -> None:
    data = frame(("call", 1, "x" * 5000)) + frame(("cancel", 1))
    frames = Frames()
    got = [m for i in range(0, len(data), 7) for m in frames.feed(data[i : i + 7])]
    assert got == [("call", 1, "x" * 5000), ("cancel", 1)]


def test_auto_uses_workers_only_where_a_core_is_free(monkeypatch: pytest.MonkeyPatch) -> None:
    """Counted now, not over the last minute: two busy processes fill a 2-core machine."""
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        time.sleep(0.3)
        assert running_elsewhere() >= 2
        monkeypatch.setattr(os, "cpu_count", lambda: 2)
        assert wanted("auto") is False
        monkeypatch.setattr(os, "cpu_count", lambda: 64)
        assert wanted("auto") is True
        monkeypatch.setattr(os, "cpu_count", lambda: 1)
        assert wanted("auto") is False
    finally:
        for process in busy:
            process.kill()
            process.wait()
    deadline = time.monotonic() + 10
    while running_elsewhere() >= 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert running_elsewhere() < 2  # the moment they are gone, not a minute later
    assert wanted(True) and not wanted(False)


def test_processes_is_checked_like_any_setting() -> None:
    from workbench.config import Config
    from workbench.errors import ConfigError

    assert Config.load().run.processes == "auto"
    assert Config.load({"run": {"processes": False}}).run.processes is False
    with pytest.raises(ConfigError, match=r"processes = 'yes': must be true, false or \"auto\""):
        Config.load({"run": {"processes": "yes"}})


def test_an_audit_runs_workers_start_ahead_and_are_adopted(
    wire: dict[str, Any], pool: dict[str, Any], isolated: Any
) -> None:
    from workbench import workers
    from workbench.config import Config

    url = wire["openai"].base_url
    (isolated / "workbench.toml").write_text(
        f'[run]\nprocesses = true\n[providers.openai]\nbase_url = "{url}"\n'
    )
    run_dir = isolated / "run"
    run_dir.mkdir()
    (run_dir / "manifest.json").write_text('{"models": ["openai:gpt-test", "local"]}')
    assert workers.start(run_dir) == 1  # the local model stays in the kernel
    parked = workers._PARKED["openai:gpt-test"]
    session = Session(Config.load(), labbook=False)
    reply = run(session, pool, "hi", ["openai:gpt-test"])["openai:gpt-test"]
    assert reply.ok and reply.text == "echo: hi"
    assert pool["openai:gpt-test"]._channel is parked and not workers._PARKED


def test_workers_started_ahead_and_never_used_exit(isolated: Any) -> None:
    from workbench import workers

    (isolated / "workbench.toml").write_text("[run]\nprocesses = true\n")
    (isolated / "manifest.json").write_text('{"models": ["openai:gpt-test"]}')
    os.environ["OPENAI_API_KEY"] = "sk-test-never-sent"
    try:
        assert workers.start(isolated) == 1
        (process,) = [c.process for c in workers._PARKED.values()]
        workers._stop_parked()
        assert process.returncode is not None and not workers._PARKED
    finally:
        del os.environ["OPENAI_API_KEY"]


def test_a_replay_or_a_folder_without_a_manifest_starts_no_worker(isolated: Any) -> None:
    from workbench import workers

    (isolated / "workbench.toml").write_text("[run]\nprocesses = true\n")
    assert workers.start(isolated) == 0
    (isolated / "manifest.json").write_text('{"models": ["openai:gpt-test"], "replay_of": "x"}')
    assert workers.start(isolated) == 0


def test_workers_are_closed_all_at_once_not_one_after_another(wire: dict[str, Any]) -> None:
    """A worker slow to exit (here: stopped) does not hold the others' closing back."""
    import threading

    session = Session(wire_config(wire), labbook=False)  # type: ignore[arg-type]
    models: dict[str, Any] = {}
    names = list(MODEL.values())
    assert all(r.ok for r in run(session, models, ["a"], names))
    processes = [models[name]._channel.process for name in names]
    slow, others = processes[0], processes[1:]
    os.kill(slow.pid, signal.SIGSTOP)  # the first one closed cannot exit until resumed
    seen: list[list[int | None]] = []

    def resume() -> None:  # once the others have exited (or 10 s went by), let the first go
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline and any(p.poll() is None for p in others):
            time.sleep(0.05)
        seen.append([p.poll() for p in others])
        os.kill(slow.pid, signal.SIGCONT)

    waiter = threading.Thread(target=resume)
    waiter.start()
    try:
        asyncio.run(close_models(models))
    finally:
        waiter.join()
    assert seen == [[0, 0]], "the other workers waited for the first one to exit"
    assert slow.poll() == 0
