"""Reviews and reruns say what is true: who decided where, what still needs a human, no cost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.audit.helpers import prompts_sent, script_answers, write, write_wire_config
from tests.audit.test_wire_runs import ANSWERS, EXERCISE
from workbench.audit import open_run, rerun, resume, run_audit, runs
from workbench.cli import main
from workbench.labbook.book import records


@pytest.fixture
def run_name(isolated: Path, wire: dict[str, Any]) -> str:
    write_wire_config(isolated, wire)
    script_answers(wire, ANSWERS)
    write(isolated, "capitals.yaml", EXERCISE)
    return run_audit("capitals.yaml", notebook=False, progress=False).name


def decisions(run_name: str) -> list[dict[str, Any]]:
    root = open_run(run_name).folder.labbook_root
    return [r for r in records(root) if r["kind"] == "decision"]


def test_the_summary_counts_only_items_still_needing_a_human(run_name: str) -> None:
    assert "; 2 need a human; spent" in open_run(run_name).summary()  # de and it
    reviewed = CliRunner().invoke(main, ["audit", "review", run_name], input="r\nall wrong\ns\n")
    assert reviewed.exit_code == 0, reviewed.output
    run = open_run(run_name)
    assert "; 1 need a human (1 reviewed); spent" in run.summary()
    assert list(run.needing_human().index) == ["it"]
    listed = CliRunner().invoke(main, ["audit", "list"])
    assert "1 need a human (1 reviewed)" in listed.output


def test_a_decision_records_where_it_was_made(
    run_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    CliRunner().invoke(main, ["audit", "review", run_name], input="r\n\ns\n")
    monkeypatch.setenv("WORKBENCH_SOURCE", "analysis/capitals.ipynb")  # as in Jupyter
    open_run(run_name).decide("it", pick="gpt", reason="Rome")
    sources = [d["source"] for d in decisions(run_name)]
    assert sources == [f"workbench audit review {run_name}", "analysis/capitals.ipynb"]


def test_rerun_replays_by_default_in_python_and_on_the_command_line(
    run_name: str, wire: dict[str, Any]
) -> None:
    sent = sum(len(prompts_sent(s)) for s in wire.values())
    for server in wire.values():
        server.stop()
    result = CliRunner().invoke(main, ["audit", "rerun", run_name, "--no-progress"])
    assert result.exit_code == 0, result.output
    from_cli = runs()[-1]
    from_python = rerun(run_name, progress=False)
    for replayed in (from_cli, from_python):
        assert replayed.manifest["replay_of"] == run_name
        assert replayed.manifest["spent_usd"] == 0.0
        assert replayed.outcomes().equals(open_run(run_name).outcomes())
    assert sum(len(prompts_sent(s)) for s in wire.values()) == sent, "nothing was sent"


def test_rerun_live_asks_the_models_again(run_name: str, wire: dict[str, Any]) -> None:
    result = CliRunner().invoke(main, ["audit", "rerun", run_name, "--live", "--no-progress"])
    assert result.exit_code == 0, result.output
    live = runs()[-1]
    assert live.manifest["replay_of"] is None and live.manifest["rerun_of"] == run_name
    assert all(len(prompts_sent(s)) == 10 for s in wire.values())  # every call twice


def test_resuming_a_finished_run_starts_nothing(
    isolated: Path, wire: dict[str, Any], capfd: pytest.CaptureFixture[str]
) -> None:
    write_wire_config(isolated, wire)
    write(isolated, "capitals.yaml", EXERCISE)  # every server echoes: no error, all answered
    run = run_audit("capitals.yaml", notebook=False, progress=False)
    assert run.status == "complete"
    sessions = run.manifest["sessions"]
    again = resume(run.name, progress=False)
    assert again.manifest["sessions"] == sessions, "no execution, no new session"
    assert "nothing left to do in" in capfd.readouterr().err
