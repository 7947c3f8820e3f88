"""A run folder that is damaged, or a config given in code: no traceback, nothing lost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.audit.helpers import (
    MODELS,
    prompts_sent,
    said,
    script_answers,
    write,
    write_wire_config,
)
from tests.audit.test_wire_runs import ANSWERS, EXERCISE, OUTCOMES
from workbench.audit import open_run, resume, run_audit
from workbench.cli import main
from workbench.config import Config
from workbench.errors import InvalidOption


def test_a_torn_last_row_is_cut_before_resume_appends(isolated: Path, wire: dict[str, Any]) -> None:
    write_wire_config(isolated, wire)
    script_answers(wire, ANSWERS)
    write(isolated, "capitals.yaml", EXERCISE)
    run = run_audit("capitals.yaml", notebook=False, progress=False)
    results = run.path / "results.jsonl"
    whole = results.read_text()
    results.write_text(whole + whole.splitlines()[0][:40])  # a crash while writing a row
    assert [r["item"] for r in open_run(run.name).rows] == list(OUTCOMES)

    # resume answers the item that failed (jp) again: its row goes on a line of its own
    script_answers(wire, {**ANSWERS, "gem": {**ANSWERS["gem"], "Japan": "Tokyo"}})
    finished = resume(run.name, progress=False)
    assert {r["item"]: r["outcome"] for r in finished.rows} == {**OUTCOMES, "jp": "agree-correct"}
    assert results.read_text().startswith(whole) and results.read_text().endswith("}\n")
    assert len(prompts_sent(wire["gemini"])) == 6 and len(prompts_sent(wire["openai"])) == 5


def test_a_damaged_results_line_is_one_line_naming_it(isolated: Path, wire: dict[str, Any]) -> None:
    write_wire_config(isolated, wire)
    script_answers(wire, ANSWERS)
    write(isolated, "capitals.yaml", EXERCISE)
    run = run_audit("capitals.yaml", notebook=False, progress=False)
    results = run.path / "results.jsonl"
    good = results.read_text()
    results.write_text(good + "not json\n")
    listed = CliRunner().invoke(main, ["audit", "list"])
    assert listed.exit_code == 1 and listed.exc_info is not None
    assert listed.exc_info[0] is SystemExit, "a one-line error, not a traceback"
    assert f"{results}:6 is not a result row" in listed.output

    results.write_text(good)
    (run.path / "items.jsonl").unlink()
    review = CliRunner().invoke(main, ["audit", "review", run.name])
    assert review.exit_code == 1 and "cannot read the items of" in review.output


def test_a_config_given_in_code_is_the_one_the_run_uses(
    isolated: Path, wire: dict[str, Any]
) -> None:
    script_answers(wire, ANSWERS)
    write(isolated, "capitals.yaml", EXERCISE)
    config = Config.load(
        {
            "aliases": MODELS,
            "providers": {p: {"base_url": server.base_url} for p, server in wire.items()},
            "prices": {t: {"input": 1000.0, "output": 1000.0} for t in MODELS.values()},
        }
    )
    assert not (isolated / "workbench.toml").exists()
    run = run_audit("capitals.yaml", notebook=False, progress=False, config=config)
    assert {r["item"]: r["outcome"] for r in run.rows} == OUTCOMES
    assert {a["resolved"] for r in run.rows for a in r["answers"]} == set(MODELS.values())
    assert run.manifest["spent_usd"] > 0


def test_bad_numbers_on_the_command_line_are_one_line_before_anything_is_made(
    isolated: Path, wire: dict[str, Any]
) -> None:
    write_wire_config(isolated, wire)
    write(isolated, "capitals.yaml", EXERCISE)
    cli = CliRunner()
    for args in (
        ["--sample", "0"],
        ["--budget", "-1"],
        ["--budget", "nan"],
        ["--budget", "inf"],
        ["--shard", "two"],
    ):
        result = cli.invoke(main, ["audit", "run", "capitals.yaml", *args])
        assert result.exit_code == 1, (args, result.output)
        [error] = said(result.output)
        assert error.startswith("Error: "), args
        assert "Usage:" not in result.output and "Traceback" not in result.output
    for bad, complaint in (
        ({"sample": 0}, "at least 1 item"),
        ({"budget_usd": -1}, "from 0 up, not -1"),
        ({"budget_usd": float("nan")}, "from 0 up, not nan"),
        ({"budget_usd": float("inf")}, "from 0 up, not inf"),
    ):
        with pytest.raises(InvalidOption, match=complaint):
            run_audit("capitals.yaml", progress=False, **bad)
    assert not list(isolated.parent.rglob("audits"))
    assert not [r for s in wire.values() for r in s.requests], "nothing was sent"

    run = run_audit("capitals.yaml", notebook=False, progress=False, sample=1)
    for value in ("-1", "nan", "inf", "-inf"):
        result = cli.invoke(main, ["audit", "resume", run.name, "--budget", value])
        assert result.exit_code == 1 and len(said(result.output)) == 1, result.output
        assert "must be a number of USD from 0 up" in result.output
        assert open_run(run.name).manifest["budget_usd"] is None, "the cap was not changed"


def test_a_budget_in_the_exercise_must_be_a_number_from_0(
    isolated: Path, wire: dict[str, Any]
) -> None:
    write_wire_config(isolated, wire)
    for value in (".nan", ".inf", "-1"):
        path = write(isolated, "ex.yaml", EXERCISE + f"budget_usd: {value}\n")
        result = CliRunner().invoke(main, ["audit", "run", str(path), "--no-progress"])
        assert result.exit_code == 1, result.output
        assert ":14: budget_usd: " in result.output and "problems" not in result.output
    assert not list(isolated.parent.rglob("audits"))
