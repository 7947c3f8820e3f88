"""Exercises with a schema (structured answers scored as values) and a reasoning effort.

The runs use the scripted provider (tests/audit/scripted.py); one papermill run uses the
real local model once it can be held to a schema.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest

from tests.audit.helpers import write
from tests.audit.scripted import Script, registered
from workbench.audit import load, rerun, run_audit
from workbench.audit.scorers import Json, Value
from workbench.config import Config
from workbench.errors import ExerciseError
from workbench.providers.base import Prompt


@pytest.fixture
def script(isolated: Path) -> Iterator[Script]:
    yield from registered(isolated)


SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "year": {"type": "integer"}},
    "required": ["city", "year"],
}

CAPITALS = """
name: founded
template: "Name the capital of {country} and the year it became the capital."
schema:
  type: object
  properties:
    city: {type: string}
    year: {type: integer}
  required: [city, year]
models: [a, b]
items:
  - {id: fr, country: France, expected: {city: Paris, year: 987}}
  - {id: it, country: Italy, expected: {city: Rome, year: 1871}}
  - {id: de, country: Germany, expected: {city: Berlin, year: 1990}}
"""

ANSWERS = {
    # the same values written differently: key order, 987.0, a code fence
    ("a", "France"): '{"city": "Paris", "year": 987}',
    ("b", "France"): '```json\n{"year": 987.0, "city": "Paris"}\n```',
    # b's answer does not fit the schema (no year): an error, never scored
    ("a", "Italy"): '{"city": "Rome", "year": 1871}',
    ("b", "Italy"): '{"city": "Rome"}',
    # different values: the models disagree
    ("a", "Germany"): '{"city": "Berlin", "year": 1990}',
    ("b", "Germany"): '{"city": "Bonn", "year": 1949}',
}


def answer(model: str, prompt: Prompt) -> str:
    country = next(c for m, c in ANSWERS if c in prompt.text)
    return ANSWERS[(model, country)]


def problems_of(name: str) -> list[tuple[str, int | None, str, str]]:
    with pytest.raises(ExerciseError) as caught:
        load(Path(name), Config.load())
    return [(p.file, p.line, p.field, p.message) for p in caught.value.problems]


def test_a_schema_inline_or_in_a_file_is_checked_at_load(isolated: Path, script: Script) -> None:
    ex = load(write(isolated, "inline.yaml", CAPITALS), Config.load())
    assert ex.schema is not None and dict(ex.schema.json_schema) == SCHEMA
    assert isinstance(ex.scorer, Json), "with a schema the answers are values: json by default"

    (isolated / "schemas").mkdir()
    (isolated / "schemas" / "capital.json").write_text(json.dumps(SCHEMA, indent=2))
    head, items = CAPITALS.split("models:")
    in_file = head.split("schema:")[0] + "schema: schemas/capital.json\nmodels:" + items
    assert load(write(isolated, "file.yaml", in_file)).schema == ex.schema

    bad = CAPITALS.replace("year: {type: integer}", "year: {type: integr}")
    bad = bad.replace("year: 1990}", "year: '1990'}")  # the expected value cannot fit
    write(isolated, "bad.yaml", bad)
    [(file, line, field, message)] = problems_of("bad.yaml")
    assert (file, line, field) == ("bad.yaml", 7, "schema")
    assert message.startswith("schema is not a valid JSON Schema: 'integr' is not valid")

    write(isolated, "unfit.yaml", CAPITALS.replace("year: 1990}", "year: '1990'}"))
    [(file, line, field, message)] = problems_of("unfit.yaml")
    assert (file, line, field) == ("unfit.yaml", 13, "items[2].expected")
    assert "does not fit the schema at year: '1990' is not of type 'integer'" in message

    (isolated / "schemas" / "broken.json").write_text('{\n  "type": "object",\n  oops\n}\n')
    (isolated / "schemas" / "wrong.json").write_text('{\n  "type": "objet"\n}\n')
    for target, want in [
        ("schemas/broken.json", ("schemas/broken.json", 3, "schema", "not JSON: Expecting")),
        ("schemas/wrong.json", ("schemas/wrong.json", 2, "schema", "schema is not a valid")),
        ("schemas/gone.json", ("gone.yaml", 3, "schema", "cannot read the schema file")),
        ("../capital.json", ("gone.yaml", 3, "schema", "../capital.json is outside")),
    ]:
        text = in_file.replace("schemas/capital.json", target)
        write(isolated, "gone.yaml", text)
        [(file, line, field, message)] = problems_of("gone.yaml")
        assert (file, line, field) == want[:3] and message.startswith(want[3]), message


def test_answers_are_scored_and_agree_as_values_and_a_misfit_is_an_error(
    isolated: Path, script: Script
) -> None:
    write(isolated, "founded.yaml", CAPITALS)
    script.answer = answer
    run = run_audit("founded.yaml", progress=False, notebook=False)
    assert all(
        p.schema is not None and dict(p.schema.json_schema) == SCHEMA for _, p in script.received
    )
    outcomes = {item: str(o) for item, o in run.outcomes()["outcome"].items()}
    assert outcomes == {"fr": "agree-correct", "it": "error", "de": "disagree"}

    rows = {row["item"]: {a["model"]: a for a in row["answers"]} for row in run.rows}
    assert rows["fr"]["b"]["data"] == {"year": 987, "city": "Paris"}  # the value, kept
    assert rows["fr"]["a"]["key"] == rows["fr"]["b"]["key"] == '{"city": "Paris", "year": 987}'
    misfit = rows["it"]["b"]
    assert misfit["error"].startswith("InvalidOutput: the answer does not fit the schema")
    assert misfit["text"] == '{"city": "Rome"}' and misfit["data"] is None
    assert misfit["correct"] is None, "never scored"
    assert rows["de"]["b"]["correct"] is False and rows["de"]["a"]["correct"] is True

    table = run.answers(expand=True).set_index(["item", "model"])
    assert table.loc[("de", "b"), "data.city"] == "Bonn"
    assert table.loc[("fr", "b"), "data.year"] == 987
    assert str(table["data.year"].dtype) == "Int64"
    stats = run.per_model()
    assert stats.loc["b", "errors"] == 1 and stats.loc["b", "accuracy"] == 0.5
    assert run.agreement().loc["a", "b"] == 0.5  # fr the same value, de not

    replayed = rerun(run.name, progress=False)
    assert replayed.answers(expand=True).equals(run.answers(expand=True))
    side = run.compare("de").to_frame(expand=True).set_index("model")
    assert list(side["data.city"]) == ["Berlin", "Bonn"]


def test_a_python_scorer_gets_the_value(isolated: Path, script: Script) -> None:
    write(
        isolated,
        "checks.py",
        """
        def city(answer, expected, item):
            assert isinstance(answer, dict), answer
            return answer["city"] == expected["city"], f"city {answer['city']}"
        """,
    )
    text = CAPITALS.replace(
        "models: [a, b]", "models: [a, b]\nscorer: {type: python, function: checks.py:city}"
    )
    write(isolated, "founded.yaml", text)
    script.answer = answer
    run = run_audit("founded.yaml", progress=False, notebook=False)
    rows = {row["item"]: {a["model"]: a for a in row["answers"]} for row in run.rows}
    assert rows["fr"]["b"]["why"] == "city Paris" and rows["fr"]["b"]["correct"] is True
    assert rows["de"]["b"]["correct"] is False


def test_the_json_scorer_compares_values_not_text() -> None:
    from workbench.audit.items import Item

    scorer, item = Json(), Item("x", {})
    same = scorer.score("", {"a": [1, 2.5]}, item, Value({"a": [1.0, 2.5]}))
    assert same.correct is True
    assert scorer.score("", {"a": 1}, item, Value({"a": True})).correct is False  # true is not 1
    assert scorer.score("", None, item, Value(None)).answer == "null"
    assert scorer.score('{"a": 2}', {"a": 2}, item).correct is True  # no schema: the text


REASONING = """
name: effort
template: "What is {a} + {b}?"
scorer: numeric
models: [a, plain]
params: {reasoning: high, max_tokens: 64}
items:
  - {a: 2, b: 2, expected: 4}
"""


def test_reasoning_in_params_reaches_the_models_that_take_it(
    isolated: Path, script: Script
) -> None:
    write(isolated, "effort.yaml", REASONING)
    script.answer = lambda model, prompt: "4"
    run = run_audit("effort.yaml", progress=False, notebook=False)
    assert run.status == "complete-with-errors", "a model that cannot reason fails its answers"
    [sent] = script.prompts("a")
    assert sent.params.reasoning == "high" and sent.params.max_tokens == 64
    answers = run.answers().set_index("model")
    assert answers.loc["a", "correct"] == True  # noqa: E712 - a pandas boolean
    assert answers.loc["plain", "error"] == (
        "Unsupported: textonly:plain does not take reasoning='high': leave it out for this model"
    )
    assert script.prompts("plain") == [], "nothing was sent to it"

    budget = REASONING.replace("reasoning: high", "reasoning: 2048").replace("a, plain", "a")
    write(isolated, "budget.yaml", budget)
    run_audit("budget.yaml", progress=False, notebook=False)
    assert script.prompts("a")[-1].params.reasoning == 2048

    write(isolated, "bad.yaml", REASONING.replace("reasoning: high", "reasoning: extreme"))
    [(_, line, field, message)] = problems_of("bad.yaml")
    assert (line, field) == (5, "params.reasoning")
    assert message.startswith("reasoning must be low, medium, high or a budget")


def test_aliases_that_bundle_an_effort_compare_like_two_models(
    isolated: Path, script: Script
) -> None:
    text = REASONING.replace("models: [a, plain]", "models: [deep, quick]")
    write(isolated, "effort.yaml", text.replace("reasoning: high, ", ""))
    script.answer = lambda model, prompt: "4"
    run = run_audit("effort.yaml", progress=False, notebook=False)
    assert run.status == "complete"
    assert sorted(str(p.params.reasoning) for p in script.prompts("a")) == ["high", "low"]
    assert list(run.per_model().index) == ["deep", "quick"]


LOCAL = """
name: local-structured
instructions: Answer with a JSON object.
template: 'Give the capital of {country} as {{"city": ...}}.'
schema:
  type: object
  properties: {city: {type: string}}
  required: [city]
models: [local]
params: {max_tokens: 24, temperature: 0, seed: 1}
items:
  - {id: fr, country: France}
"""


@pytest.mark.local_model
def test_a_papermill_run_with_a_schema_on_the_local_model(isolated: Path) -> None:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("the local extra (llama-cpp-python) is not installed")
    from workbench.providers.local import LocalModel

    write(isolated, "local.yaml", LOCAL)
    run = run_audit("local.yaml", progress=False)  # papermill, on a real kernel
    nb = nbformat.read(run.path / "audit.ipynb", as_version=4)
    cells = [c for c in nb.cells if c.cell_type == "code"]
    assert not [o for c in cells for o in c.outputs if o.output_type == "error"]
    [answer] = run.rows[0]["answers"]
    if not LocalModel.structured:  # refused in its own answer, before anything is sent
        assert answer["error"].startswith("Unsupported: local:")
        assert "cannot be held to a schema" in answer["error"]
        pytest.skip("the value waits for the local model's JSON-schema grammar on main")
    assert answer["error"] is None, answer
    assert isinstance(answer["data"], dict) and isinstance(answer["data"]["city"], str)
    assert answer["key"] == json.dumps(answer["data"], sort_keys=True, ensure_ascii=False)
    shown = next(c for c in cells if "answers(expand=True)" in c.source)
    assert "data.city" in str(shown.outputs)  # the notebook's table of fields


def test_a_key_in_the_schema_is_redacted_before_it_is_sent(
    isolated: Path, script: Script, capsys: pytest.CaptureFixture[str]
) -> None:
    key = "sk-proj-FAKEauditPastedOpenAI0123456789abcd"
    (isolated / "capital.json").write_text(json.dumps({**SCHEMA, "description": f"use {key}"}))
    head, items = CAPITALS.split("models:")
    write(
        isolated, "founded.yaml", head.split("schema:")[0] + "schema: capital.json\nmodels:" + items
    )
    script.answer = answer
    run = run_audit("founded.yaml", progress=False, notebook=False)
    assert "the schema" in capsys.readouterr().err
    sent = {p.schema.json_schema["description"] for _, p in script.received if p.schema}
    assert sent == {"use [REDACTED]"}
    assert key not in (run.path / "manifest.json").read_text()
