"""A budget stop or Ctrl-C keeps what finished; resume completes the run and pays nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from tests.audit.helpers import prompts_sent, write, write_wire_config
from workbench.audit import open_run, resume
from workbench.cli import main

COUNTRIES = ["France", "Germany", "Italy", "Spain", "Japan", "Chile", "Peru", "Kenya"]


def exercise(folder: Path, countries: list[str]) -> Path:
    items = "\n".join(f"  - {{id: {c.lower()}, country: {c}}}" for c in countries)
    return write(
        folder,
        "sweep.yaml",
        "name: sweep\ninstructions: Answer with the city only.\n"
        'template: "What is the capital of {country}?"\nscorer: normalised\n'
        f"models: [gpt, claude, gem]\nparams: {{max_tokens: 4}}\nitems:\n{items}\n",
    )


def assert_each_call_sent_once(wire: dict[str, Any], count: int) -> None:
    for provider, server in wire.items():
        sent = prompts_sent(server)
        assert len(sent) == count, (provider, len(sent))
        twice = [k for k, n in Counter(sent).items() if n > 1]
        assert not twice, f"{provider} was asked twice: {twice}"


def test_a_budget_stop_keeps_finished_items_and_resume_pays_nothing_twice(
    isolated: Path, wire: dict[str, Any]
) -> None:
    write_wire_config(isolated, wire)
    exercise(isolated, COUNTRIES)
    result = CliRunner().invoke(
        main, ["audit", "run", "sweep.yaml", "--budget", "0.25", "--no-progress"]
    )
    assert result.exit_code == 3, result.output
    assert "budget was reached" in result.output and "workbench audit resume" in result.output
    [name] = [p.name for p in (isolated.parent / "home").rglob("audits/*") if p.is_dir()]
    stopped = open_run(name)
    assert stopped.status == "stopped-budget"
    done = [row["item"] for row in stopped.rows]
    assert 1 <= len(done) < len(COUNTRIES)
    assert all(row["outcome"] != "error" for row in stopped.rows)
    assert (stopped.path / "audit.ipynb").exists()
    spent = stopped.manifest["spent_usd"]
    assert 0 < spent <= 0.25 + 0.05  # settled costs may exceed the estimate a little
    sent_before = sum(len(prompts_sent(s)) for s in wire.values())
    assert sent_before == len(done) * 3, "the budget bought whole items, nothing half-done"

    again = resume(name, progress=False, notebook=False)  # the cap is the run's, not per resume
    assert again.status == "stopped-budget"
    assert again.manifest["spent_usd"] <= 0.25 + 0.05

    finished = resume(name, budget_usd=100.0, progress=False, notebook=False)
    assert finished.status == "complete"
    assert [row["item"] for row in finished.rows] == [c.lower() for c in COUNTRIES]
    assert_each_call_sent_once(wire, len(COUNTRIES))
    assert all(row["outcome"] == "no-expected" for row in finished.rows)


def test_ctrl_c_stops_cleanly_and_resume_finishes(isolated: Path, wire: dict[str, Any]) -> None:
    for server in wire.values():
        server.latency_s = 0.25
    write_wire_config(isolated, wire)
    toml = (isolated / "workbench.toml").read_text()
    for provider in wire:
        toml = toml.replace(
            f"[providers.{provider}]\n", f"[providers.{provider}]\nconcurrency = 2\n"
        )
    (isolated / "workbench.toml").write_text(toml)
    countries = [f"{c}{i}" for i in range(5) for c in COUNTRIES]  # 40 items, ~5 s in all
    exercise(isolated, countries)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    workbench = str(Path(sys.executable).parent / "workbench")
    # Ctrl-C must reach it even when this test runs in a background job, whose SIGINT is
    # ignored and inherited as ignored: restore the default before exec'ing the command.
    command = [
        sys.executable,
        "-c",
        "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
        "os.execv(sys.argv[1], sys.argv[1:])",
        workbench, "audit", "run", "sweep.yaml", "--no-progress",
    ]  # fmt: skip
    process = subprocess.Popen(
        command, cwd=isolated, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        results = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            found = list((isolated.parent / "home").rglob("audits/*/results.jsonl"))
            if found and len(found[0].read_text().splitlines()) >= 3:
                results = found[0]
                break
            time.sleep(0.05)
        assert results is not None, f"the run never started: {process.communicate()}"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 3, (out, err)
    assert "stopping: items in flight finish" in err
    assert "it was interrupted" in err
    run = open_run(results.parent.name)
    assert run.status == "interrupted"
    kept = len(run.rows)
    assert 3 <= kept < len(countries)
    assert (run.path / "audit.ipynb").exists()

    for server in wire.values():
        server.latency_s = 0.0
    finished = resume(run.name, progress=False, notebook=False)
    assert finished.status == "complete" and len(finished.rows) == len(countries)
    assert_each_call_sent_once(wire, len(countries))
