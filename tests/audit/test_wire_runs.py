"""Real papermill runs against the wire servers: scripted agreement, replay, diff, review."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import pytest
from click.testing import CliRunner

from tests.audit.helpers import MODELS, prompts_sent, script_answers, write, write_wire_config
from workbench.audit import diff, open_run, run_audit
from workbench.cli import main

EXERCISE = """
name: capitals
instructions: Answer with the city only.
reason: Capitals are stable facts; a model that misses them is unreliable on geography.
template: "What is the capital of {country}?"
scorer: normalised
models: [gpt, claude, gem]
params: {max_tokens: 16}
items:
  - {id: fr, country: France, expected: Paris}
  - {id: de, country: Germany, expected: Berlin}
  - {id: it, country: Italy, expected: Rome}
  - {id: es, country: Spain}
  - {id: jp, country: Japan, expected: Tokyo}
"""

ANSWERS = {
    "gpt": {
        "France": "Paris.",
        "Germany": "Munich",
        "Italy": "Rome",
        "Spain": "Madrid",
        "Japan": "Tokyo",
    },
    "claude": {
        "France": "paris",
        "Germany": "Munich.",
        "Italy": "Rome",
        "Spain": "Madrid",
        "Japan": "Tokyo",
    },
    "gem": {
        "France": "PARIS",
        "Germany": "munich",
        "Italy": "Milan",
        "Spain": "madrid!",
        "Japan": "!400",
    },
}
OUTCOMES = {
    "fr": "agree-correct",
    "de": "agree-wrong",
    "it": "disagree",
    "es": "no-expected",
    "jp": "error",
}


@pytest.fixture
def repo(isolated: Path, wire: dict[str, Any]) -> Path:
    """The work folder as a git repository (the lab notebook lives inside it)."""
    subprocess.run(["git", "init", "-q", str(isolated)], check=True)
    for key, value in (("user.name", "Ada"), ("user.email", "ada@example.org")):
        subprocess.run(["git", "-C", str(isolated), "config", key, value], check=True)
    write_wire_config(isolated, wire)
    script_answers(wire, ANSWERS)
    write(isolated, "capitals.yaml", EXERCISE)
    return isolated


def test_a_papermill_run_routes_items_by_agreement_and_replays_equal(
    repo: Path, wire: dict[str, Any]
) -> None:
    run = run_audit("capitals.yaml", progress=False)

    # the outcome table, item by item
    table = run.outcomes()
    assert {item: str(table.loc[item, "outcome"]) for item in table.index} == OUTCOMES
    assert table.loc["it", ["gpt", "claude", "gem"]].tolist() == ["rome", "rome", "milan"]
    assert table.loc["jp", "gem"] == "⚠ error"
    assert list(run.needing_human().index) == ["de", "it"]
    assert run.status == "complete-with-errors"
    per_model = run.per_model()
    assert per_model.loc["gpt", "accuracy"] == pytest.approx(3 / 4)
    assert per_model.loc["gem", "errors"] == 1
    assert run.agreement().loc["gpt", "claude"] == 1.0

    # every call went out once and is in the lab notebook, linked from the results
    for provider, server in wire.items():
        assert len(prompts_sent(server)) == 5, provider
    from workbench.labbook.book import records

    calls = {r["id"]: r for r in records(repo / "labbook") if r["kind"] == "call"}
    linked = [a["record"] for row in run.rows for a in row["answers"]]
    assert len(calls) == 15 and set(linked) == set(calls)
    rome = next(
        a for row in run.rows if row["item"] == "it" for a in row["answers"] if a["model"] == "gem"
    )
    assert calls[rome["record"]]["reply"]["text"] == "Milan"
    assert rome["why"] == "'milan' != expected 'rome'"

    # the executed notebook shows the tables, the highlighted rows and the plot
    nb = nbformat.read(run.path / "audit.ipynb", as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = "".join(str(o.get("data", {}).get("text/html", "")) for o in outputs)
    assert "background-color: #ffc7c7" in html  # the disagreement, in red
    assert any("image/png" in o.get("data", {}) for o in outputs)
    assert "parameters" in nb.cells[1].metadata.tags

    # committed: the run folder with the records, nothing else of the user's
    shown = subprocess.run(
        ["git", "-C", str(repo), "log", "--name-only", "--format="],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert f"labbook/audits/{run.name}/results.jsonl" in shown
    assert f"labbook/audits/{run.name}/audit.ipynb" in shown
    assert "capitals.yaml" not in shown and "workbench.toml" not in shown

    # replay with every server stopped: no network, an identical table
    for server in wire.values():
        server.stop()
    result = CliRunner().invoke(main, ["audit", "rerun", run.name, "--replay", "--no-progress"])
    assert result.exit_code == 0, result.output
    replayed = next(r for r in _runs(repo) if r.manifest.get("replay_of") == run.name)
    assert replayed.outcomes().equals(run.outcomes())
    assert replayed.answers().equals(run.answers())
    assert replayed.manifest["spent_usd"] == 0.0
    assert not diff(run.name, replayed.name)["changed"].any()


def test_review_records_decisions_and_updates_the_summary(repo: Path, wire: dict[str, Any]) -> None:
    run = run_audit("capitals.yaml", notebook=False, progress=False)
    assert not (run.path / "audit.ipynb").exists()
    # item de (agree-wrong): reject all; item it (disagree): answer 1 (gpt) is right
    result = CliRunner().invoke(
        main, ["audit", "review", run.name], input="r\nexpected is wrong? no: all wrong\n1\nRome\n"
    )
    assert result.exit_code == 0, result.output
    assert "2 reviewed" in result.output
    table = open_run(run.name).outcomes()
    assert table.loc["de", "review"] == "reject"
    assert table.loc["it", "review"] == "pick gpt"
    assert open_run(run.name).needing_human().empty
    from workbench.labbook.book import records

    decisions = [r for r in records(repo / "labbook") if r["kind"] == "decision"]
    assert len(decisions) == 2
    pick = next(d for d in decisions if d["data"]["verdict"] == "pick")
    gpt_answer = next(
        a for row in run.rows if row["item"] == "it" for a in row["answers"] if a["model"] == "gpt"
    )
    assert pick["data"]["choice"] == gpt_answer["record"] and len(pick["links"]) == 3
    assert pick["data"]["reason"] == "Rome" and f"audit:{run.name}" in pick["tags"]


def test_a_judge_grades_answers_and_its_calls_are_recorded(
    repo: Path, wire: dict[str, Any]
) -> None:
    write(
        repo,
        "judged.yaml",
        EXERCISE.replace(
            "scorer: normalised", "scorer: {type: judge, model: gpt, rubric: Names the city.}"
        ).replace("models: [gpt, claude, gem]", "models: [claude, gem]"),
    )

    def judge(request: Any) -> str:
        text = wire["openai"].last_user_text(request)
        answer = text.rsplit("Answer to grade:\n", 1)[-1].strip().lower()
        return (
            "PASS\nright city"
            if answer.rstrip(".!") in ("paris", "rome", "madrid", "tokyo")
            else "FAIL\nwrong"
        )

    wire["openai"].script = None
    wire["openai"].responder = judge
    run = run_audit("judged.yaml", notebook=False, progress=False)
    outcomes = {item: str(v) for item, v in run.outcomes()["outcome"].items()}
    assert outcomes == {
        "fr": "agree-correct",
        "de": "agree-wrong",
        "it": "disagree",
        "es": "agree-correct",
        "jp": "error",
    }
    judged = [a for row in run.rows for a in row["answers"] if a["judge_record"]]
    assert len(judged) == 9  # every answer that came back was graded
    assert len(prompts_sent(wire["openai"])) == 9
    assert all(a["why"].startswith("judge: ") for a in judged)


def _runs(repo: Path) -> list[Any]:
    from workbench.audit import runs

    return runs()


def test_results_are_json_lines_one_per_item(repo: Path, wire: dict[str, Any]) -> None:
    run = run_audit("capitals.yaml", notebook=False, progress=False, sample=3)
    lines = (run.path / "results.jsonl").read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    assert len(rows) == 3 == run.manifest["total_items"]
    assert run.manifest["all_items"] == 5
    assert all(len(r["answers"]) == 3 for r in rows)
    assert {a["resolved"] for r in rows for a in r["answers"]} == set(MODELS.values())


def test_the_review_panel_records_a_verdict_per_click(repo: Path, wire: dict[str, Any]) -> None:
    run = run_audit("capitals.yaml", notebook=False, progress=False)
    panel = run.review_panel()
    assert panel.todo == ["de", "it"] and panel.current == "de"
    assert "Munich" in panel.view.value and "expected</i>: &#x27;Berlin&#x27;" in panel.view.value
    labels = [b.description for b in panel.buttons.children]
    assert labels == ["✓ gpt", "✓ claude", "✓ gem", "reject all", "skip"]
    panel.buttons.children[4].click()  # skip de
    assert panel.current == "it"
    panel.reason.value = "Rome is the capital"
    panel.buttons.children[0].click()  # gpt is right about it
    assert panel.current is None and "Nothing left" in panel.view.value
    table = open_run(run.name).outcomes()
    assert table.loc["it", "review"] == "pick gpt" and pd.isna(table.loc["de", "review"])
    assert "1 reviewed" in panel.status.value


def test_samples_per_model_must_all_agree(repo: Path, wire: dict[str, Any]) -> None:
    write(repo, "twice.yaml", EXERCISE.replace("params:", "samples: 2\nparams:"))
    flaky = iter(["Rome", "Naples"])
    wire["openai"].script = None
    wire["openai"].responder = lambda request: (
        next(flaky) if "Italy" in wire["openai"].last_user_text(request) else "Paris"
    )
    run = run_audit("twice.yaml", notebook=False, progress=False)
    italy = run.rows[2]
    assert [(a["model"], a["sample"]) for a in italy["answers"]] == [
        ("gpt", 0), ("gpt", 1), ("claude", 0), ("claude", 1), ("gem", 0), ("gem", 1),
    ]  # fmt: skip
    assert {a["text"] for a in italy["answers"] if a["model"] == "gpt"} == {"Rome", "Naples"}
    assert italy["outcome"] == "disagree" and run.rows[0]["outcome"] == "agree-correct"
    assert len(prompts_sent(wire["anthropic"])) == 10
