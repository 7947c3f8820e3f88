"""The report's libraries load only once the models are ready: the start-up has the cores first."""

from __future__ import annotations

import gc
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from tests.audit.helpers import write, write_wire_config
from workbench.audit import run_audit
from workbench.audit.notebook import warm_report
from workbench.audit.runner import PREPARED
from workbench.labbook.book import files
from workbench.labbook.query import read_frame

EXERCISE = """
name: sums
instructions: Answer with the number only.
reason: Arithmetic has one right answer.
template: "What is {a} + 1?"
scorer: normalised
models: [gpt, claude, gem]
items:
  - {id: one, a: 1}
  - {id: two, a: 2}
  - {id: three, a: 3}
"""


def test_the_warm_up_waits_until_the_models_are_ready() -> None:
    PREPARED.clear()
    try:
        thread = warm_report(wait_s=30)
        time.sleep(0.3)
        assert thread.is_alive(), "the report's imports began before the models were ready"
        PREPARED.set()
        thread.join(30)
        assert not thread.is_alive()
    finally:
        PREPARED.set()


def test_the_warm_up_freezes_what_it_loaded_for_the_kernels_exit() -> None:
    gc.unfreeze()
    PREPARED.set()
    try:
        warm_report(wait_s=30).join(30)
        assert gc.get_freeze_count() > 0  # the collector no longer walks those objects
    finally:
        gc.unfreeze()


def test_an_execution_says_its_models_are_ready_while_its_calls_run(
    isolated: Path, wire: dict[str, Any]
) -> None:
    subprocess.run(["git", "init", "-q", str(isolated)], check=True)
    for key, value in (("user.name", "Ada"), ("user.email", "ada@example.org")):
        subprocess.run(["git", "-C", str(isolated), "config", key, value], check=True)
    config = write_wire_config(isolated, wire)
    config.write_text(config.read_text().replace("[run]\n", "[run]\nprocesses = true\n", 1))
    for server in wire.values():
        server.latency_s = 2.0  # the models are ready long before (a busy machine: ~1 s apart)
    exercise = write(isolated, "sums.yaml", EXERCISE)
    said: list[float] = []
    PREPARED.clear()
    watcher = threading.Thread(target=lambda: PREPARED.wait(60) and said.append(time.time()))
    watcher.start()
    run = run_audit(exercise, notebook=False, progress=False, params={"max_tokens": 4})
    watcher.join(60)
    assert run.status == "complete"
    calls = read_frame(files(isolated / "labbook"), kind="call", cache=False)
    first_answer = calls["ts"].min().timestamp()
    assert said and said[0] < first_answer, "PREPARED was set only once answers came back"
    assert PREPARED.is_set()
