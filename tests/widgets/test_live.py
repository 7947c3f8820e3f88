"""LiveRun from another thread: snapshots taken mid-run stay as they were taken."""

from __future__ import annotations

import time
from typing import Any

from tests.conftest import wire_config
from tests.wire.harness import Step
from workbench.sessions import Session
from workbench.widgets.live import LiveRun


def test_a_snapshot_mid_run_is_a_copy_the_loop_thread_does_not_change(
    wire: dict[str, Any],
) -> None:
    wire["openai"].queue(Step(hang=True))
    session = Session(wire_config(wire))  # type: ignore[arg-type]
    redrawn: list[set[str]] = []
    live = LiveRun(
        session, "hello", ["openai:gpt-test", "gemini:gemini-test"], on_change=redrawn.append
    )
    live.start()
    deadline = time.perf_counter() + 10
    while live.columns["gemini:gemini-test"].replies[0] is None:
        assert time.perf_counter() < deadline, "gemini never answered"
        time.sleep(0.02)
    mid = {state.label: state for state in live.snapshot()}
    assert list(mid) == ["openai:gpt-test", "gemini:gemini-test"]
    assert mid["openai:gpt-test"].replies == [None]
    assert mid["gemini:gemini-test"].texts == ["echo: hello"]
    live.stop()
    comparison = live.wait(10)
    error = comparison["openai:gpt-test"].error
    assert error is not None and error.type == "Cancelled"
    assert live.columns["openai:gpt-test"].replies[0] is not None  # the live state moved on
    assert mid["openai:gpt-test"].replies == [None]  # the snapshot did not
    assert mid["openai:gpt-test"] is not live.columns["openai:gpt-test"]
    assert {"openai:gpt-test", "gemini:gemini-test"} <= set().union(*redrawn)
