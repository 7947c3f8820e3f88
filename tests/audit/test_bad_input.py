"""Bad input to an audit: one line that says what to do, nothing sent twice, nothing lost."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.audit.helpers import prompts_sent, said, script_answers, write, write_wire_config
from tests.audit.test_spend import billed
from tests.audit.test_wire_runs import ANSWERS, EXERCISE
from workbench.audit import resume, run_audit, runs
from workbench.audit.items import parse_shard
from workbench.cli import main
from workbench.errors import AuditError, InvalidOption, ScorerError

PYTHON_SCORED = EXERCISE.replace(
    "scorer: normalised", "scorer: {type: python, function: 'checks.py:grade'}"
)
SAYS_YES = 'def grade(answer, expected, item):\n    return "yes"\n'
FIXED = """
def grade(answer, expected, item):
    return answer.strip(" .!").lower() == str(expected).lower()
"""


@pytest.fixture
def capitals(isolated: Path, wire: dict[str, Any]) -> Path:
    write_wire_config(isolated, wire)
    script_answers(wire, ANSWERS)
    write(isolated, "capitals.yaml", EXERCISE)
    write(isolated, "scored.yaml", PYTHON_SCORED)
    return isolated


def test_a_scorer_returning_a_string_stops_the_run_and_resume_pays_nothing_twice(
    capitals: Path, wire: dict[str, Any]
) -> None:
    write(capitals, "checks.py", SAYS_YES)
    with pytest.raises(ScorerError) as caught:
        run_audit("scored.yaml", notebook=False, progress=False)
    message = str(caught.value)
    assert "the python scorer checks.py:grade gave no verdict on item" in message
    assert "it returned 'yes' (str)" in message and "\n" not in message
    [run] = runs()
    assert run.status == "failed"
    assert all(row["outcome"] != "agree-correct" for row in run.rows), "no string counted as right"
    assert run.manifest["spent_usd"] > 0, "the calls made are paid and recorded"
    assert run.manifest["spent_usd"] == pytest.approx(billed(run.name), abs=1e-12)

    write(capitals, "checks.py", FIXED)
    finished = resume(run.name, progress=False)
    assert finished.status == "complete-with-errors"  # gem's 400 on jp, as scripted
    assert {r["item"]: r["outcome"] for r in finished.rows}["fr"] == "agree-correct"
    sent = {p: len(prompts_sent(s)) for p, s in wire.items()}
    assert sent == {"openai": 5, "anthropic": 5, "gemini": 6}  # only the failed call again


def test_through_papermill_a_bad_scorer_is_one_line(capitals: Path) -> None:
    write(capitals, "checks.py", SAYS_YES)
    result = CliRunner().invoke(
        main, ["audit", "run", "scored.yaml", "--sample", "1", "--no-progress"]
    )
    assert result.exit_code == 1 and result.exc_info is not None
    assert result.exc_info[0] is SystemExit, "a one-line error, not a traceback"
    [error] = said(result.output)
    assert "ScorerError: the python scorer checks.py:grade gave no verdict" in error


def test_a_damaged_template_is_one_line_and_makes_no_run(capitals: Path) -> None:
    cell = {"cell_type": "code", "source": "x = 1", "metadata": {}}  # no outputs, no id
    damaged = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (capitals / "damaged.ipynb").write_text(json.dumps(damaged))
    (capitals / "text.ipynb").write_text("not a notebook")
    no_kernel = {**damaged, "cells": [{**cell, "outputs": [], "execution_count": None}]}
    (capitals / "nokernel.ipynb").write_text(json.dumps(no_kernel))
    for name, complaint in (
        ("damaged.ipynb", "is a damaged notebook: 'outputs' is a required property"),
        ("text.ipynb", "is not a notebook (not JSON"),
        ("nokernel.ipynb", "names no kernel"),
    ):
        result = CliRunner().invoke(
            main, ["audit", "run", "capitals.yaml", "--template", name, "--no-progress"]
        )
        assert result.exit_code == 1 and complaint in result.output, result.output
        assert len(said(result.output)) == 1 and "Warning" not in result.output
    assert not runs(), "nothing was made"


def test_a_template_without_cell_ids_runs_with_a_one_line_notice(
    capitals: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    cells = [
        {"cell_type": "code", "source": 'run_dir = ""', "metadata": {"tags": ["parameters"]},
         "outputs": [], "execution_count": None},
        {"cell_type": "code", "source": "from workbench import audit\naudit.execute(run_dir)",
         "metadata": {}, "outputs": [], "execution_count": None},
    ]  # fmt: skip
    kernel = {"name": "python3", "display_name": "Python 3", "language": "python"}
    old = {"cells": cells, "metadata": {"kernelspec": kernel}, "nbformat": 4, "nbformat_minor": 5}
    (capitals / "old.ipynb").write_text(json.dumps(old))
    run = run_audit("capitals.yaml", template="old.ipynb", sample=1, progress=False)
    assert run.status == "complete"
    err = capfd.readouterr().err
    assert err.count("cell(s) without an id: ran with ids added") == 1, err
    assert "MissingIDFieldWarning" not in err and "Warning" not in err


def test_bad_shards_and_an_empty_review_are_workbench_errors(capitals: Path) -> None:
    for shard in ("x", "1/x", "0/2", "3/2"):
        with pytest.raises(InvalidOption, match="shard"):
            parse_shard(shard)
    run = run_audit("capitals.yaml", notebook=False, progress=False)
    panel = run.review_panel()
    panel.decide(None)
    panel.decide("gpt")
    with pytest.raises(AuditError, match="nothing left to review"):
        panel.decide("gpt")
