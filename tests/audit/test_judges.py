"""A panel of judges: majority or unanimity, splits routed to a human, each judge checked
against the humans' reviews with Cohen's kappa (a lenient judge is flagged)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.audit.helpers import write
from tests.audit.scripted import Script, registered
from workbench.audit import load, open_run, run_audit
from workbench.audit.scorers import Judge
from workbench.cli import main
from workbench.errors import ExerciseError
from workbench.providers.base import Prompt

EXERCISE = """
name: capitals
instructions: Answer with the city only.
template: "What is the capital of {country}?"
scorer: {type: judge, model: [j1, j2, j3], rubric: Names the right city.}
models: [a, b]
items:
  - {id: fr, country: France, expected: Paris}
  - {id: de, country: Germany, expected: Berlin}
  - {id: it, country: Italy, expected: Rome}
  - {id: es, country: Spain, expected: Madrid}
  - {id: jp, country: Japan, expected: Tokyo}
"""
COUNTRIES = ["France", "Germany", "Italy", "Spain", "Japan"]
SAYS = {
    "a": dict(zip(COUNTRIES, ["Paris", "Berlin", "Milan", "Madrid", "Kyoto"], strict=True)),
    "b": dict(zip(COUNTRIES, ["Paris", "Munich", "Rome", "Madrid", "Tokyo"], strict=True)),
}
LENIENT = {"j3": "PASS"}  # j3 passes everything; j1 and j2 grade honestly


def answer(model: str, prompt: Prompt) -> str:
    text = prompt.text
    if model in SAYS:
        country = re.search(r"capital of (\w+)\?", text)
        assert country is not None
        return SAYS[model][country.group(1)]
    if model in LENIENT:
        return f"{LENIENT[model]}\nAlways."
    graded = re.search(r"Expected answer: (\w+)\nAnswer to grade:\n(\w+)", text)
    assert graded is not None
    return "PASS\nRight." if graded.group(1) == graded.group(2) else "FAIL\nWrong city."


@pytest.fixture
def script(isolated: Path) -> Iterator[Script]:
    for found in registered(isolated):
        with (isolated / "workbench.toml").open("a") as f:
            f.write('j1 = "scripted:j1"\nj2 = "scripted:j2"\nj3 = "scripted:j3"\n')
        found.answer = answer
        yield found


def test_a_panel_votes_and_routes_split_items_to_a_human(isolated: Path, script: Script) -> None:
    write(isolated, "capitals.yaml", EXERCISE)
    run = run_audit("capitals.yaml", notebook=False, progress=False)
    assert run.status == "complete"
    assert len(script.prompts("j1")) == len(script.prompts("j3")) == 10  # every answer, each
    outcomes = {str(i): str(o) for i, o in run.outcomes()["outcome"].items()}
    # fr and es: every judge passes both answers; de, it, jp: j3 passes a wrong answer
    assert outcomes == {
        "fr": "agree-correct", "de": "judges-split", "it": "judges-split",
        "es": "agree-correct", "jp": "judges-split",
    }  # fmt: skip
    assert list(run.needing_human().index) == ["de", "it", "jp"]
    # the majority's verdict is the honest one: a right on 3 of 5, b on 4 of 5
    per_model = run.per_model()
    assert per_model.loc["a", "accuracy"] == pytest.approx(3 / 5)
    assert per_model.loc["b", "accuracy"] == pytest.approx(4 / 5)
    munich = next(
        a for r in run.rows if r["item"] == "de" for a in r["answers"] if a["model"] == "b"
    )
    assert munich["judges"] == {"j1": False, "j2": False, "j3": True}
    assert munich["correct"] is False
    assert munich["why"] == "judges (majority): j1 FAIL, j2 FAIL, j3 PASS"
    assert set(munich["judge_records"]) == {"j1", "j2", "j3"}
    assert munich["judge_record"] == munich["judge_records"]["j1"]

    # the humans review the split items; each judge is checked against them
    run.decide("de", pick="a", reason="Berlin")
    run.decide("it", pick="b", reason="Rome")
    run.decide("jp", pick="b", reason="Tokyo")
    table = run.judges()
    assert list(table.index) == ["j1", "j2", "j3", "panel"]
    honest = table.loc["j1"]
    assert (honest["pass_pass"], honest["pass_fail"], honest["fail_pass"], honest["fail_fail"]) == (
        3, 0, 0, 3,
    )  # fmt: skip
    assert honest["kappa"] == 1.0 and not honest["flagged"]
    lenient = table.loc["j3"]  # says PASS to all 6: agreement 3/6, no better than chance
    assert (lenient["pass_pass"], lenient["fail_pass"]) == (3, 3)
    assert lenient["kappa"] == pytest.approx(0.0) and lenient["flagged"]
    assert lenient["sentence"] == (
        "j3 agrees with the humans on 3 of 6 answers; kappa 0.00 (95% CI "
        f"{lenient['kappa_low']:.2f} to {lenient['kappa_high']:.2f}): LOW, below 0.6"
    )
    assert table.loc["panel", "kappa"] == 1.0
    confusion = run.confusion("j3")
    assert confusion.loc["FAIL", "PASS"] == 3 and confusion.loc["PASS", "FAIL"] == 0

    result = CliRunner().invoke(main, ["audit", "judges", run.name])
    assert result.exit_code == 0, result.output
    assert "j1 agrees with the humans on 6 of 6 answers; kappa 1.00" in result.output
    assert "low agreement with the humans: j3" in result.output


def test_unanimity_fails_an_answer_one_judge_fails(isolated: Path, script: Script) -> None:
    strict = EXERCISE.replace("model: [j1, j2, j3]", "model: [j1, j3], panel: unanimous")
    write(isolated, "capitals.yaml", strict)
    LENIENT["j3"] = "FAIL"  # j3 now fails everything: unanimity fails every answer
    try:
        run = run_audit("capitals.yaml", notebook=False, progress=False)
    finally:
        LENIENT["j3"] = "PASS"
    assert run.per_model()["accuracy"].tolist() == [0.0, 0.0]
    assert run.outcomes().loc["fr", "outcome"] == "judges-split"
    paris = next(a for r in run.rows if r["item"] == "fr" for a in r["answers"])
    assert paris["why"] == "judges (unanimous): j1 PASS, j3 FAIL"


def test_the_vote_rules() -> None:
    majority = Judge(model=["x", "y", "z", "w"])
    assert majority.vote([True, True, False]) == (True, True)
    assert majority.vote([True, False]) == (None, True)  # a tie: no verdict, a human looks
    assert majority.vote([None, None]) == (None, False)
    assert majority.vote([True, True]) == (True, False)
    unanimous = Judge(model=["x", "y"], panel="unanimous")
    assert unanimous.vote([True, True]) == (True, False)
    assert unanimous.vote([True, False]) == (False, True)
    assert unanimous.vote([True, None]) == (None, True)


def test_a_bad_panel_is_a_problem_at_its_line(isolated: Path, script: Script) -> None:
    twice = EXERCISE.replace("model: [j1, j2, j3]", "model: [j1, j1]")
    write(isolated, "twice.yaml", twice)
    with pytest.raises(
        ExerciseError, match=r"twice\.yaml:4: scorer\.model: a judge is named twice"
    ):
        load(isolated / "twice.yaml")
    rule = EXERCISE.replace("model: [j1, j2, j3]", "model: [j1, j2], panel: most")
    write(isolated, "rule.yaml", rule)
    with pytest.raises(ExerciseError, match=r"rule\.yaml:4: scorer\.panel: .*majority"):
        load(isolated / "rule.yaml")
    unknown = EXERCISE.replace("model: [j1, j2, j3]", "model: [j1, nobody]")
    write(isolated, "unknown.yaml", unknown)
    with pytest.raises(ExerciseError, match=r"unknown judge model 'nobody'"):
        from workbench.config import Config

        load(isolated / "unknown.yaml", Config.load())


def test_without_judges_the_scorer_is_checked_against_the_humans(
    isolated: Path, script: Script
) -> None:
    plain = EXERCISE.replace(
        "scorer: {type: judge, model: [j1, j2, j3], rubric: Names the right city.}",
        "scorer: normalised",
    )
    write(isolated, "capitals.yaml", plain)
    run = run_audit("capitals.yaml", notebook=False, progress=False)
    run.decide("de", pick="a")
    run.decide("jp", pick="a", reason="the expected answer is wrong")  # the humans disagree
    table = open_run(run.name).judges()
    assert list(table.index) == ["normalised"]
    [line] = table.to_dict("records")
    # de: a right (both say so), b wrong (both); jp: the humans call a right and b wrong
    assert (line["pass_pass"], line["pass_fail"], line["fail_pass"], line["fail_fail"]) == (
        1, 1, 1, 1,
    )  # fmt: skip
    assert line["answers"] == 4 and line["kappa"] == 0.0


def test_the_panel_shown_in_the_docs_loads(isolated: Path, script: Script) -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "audit.md").read_text()
    [line] = re.findall(r"^scorer: \{type: judge, model: \[.*$", page, re.MULTILINE)
    with (isolated / "workbench.toml").open("a") as f:
        f.write('gpt = "scripted:gpt"\nclaude = "scripted:claude"\ngemini = "scripted:gemini"\n')
    write(isolated, "panel.yaml", re.sub(r"^scorer: .*$", line, EXERCISE, flags=re.MULTILINE))
    from workbench.config import Config

    scorer = load(isolated / "panel.yaml", Config.load()).scorer
    assert isinstance(scorer, Judge) and scorer.models == ["gpt", "claude", "gemini"]
    assert scorer.rule == "majority"
