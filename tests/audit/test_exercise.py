"""Exercise files: every kind of items, and every malformed file giving the precise error."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.audit.helpers import write
from workbench.audit import load
from workbench.cli import main
from workbench.config import Config
from workbench.errors import ExerciseError

GOOD = """
name: capitals
instructions: Answer with the city only.
reason: Capitals are stable facts.
template: "What is the capital of {country}?"
scorer: normalised
models: [local, terse]
items:
  - {id: fr, country: France, expected: Paris}
  - {id: de, country: Germany, expected: Berlin}
"""


def problems_of(path: Path) -> list[tuple[int | None, str, str]]:
    with pytest.raises(ExerciseError) as caught:
        load(path, Config.load())
    return [(p.line, p.field, p.message) for p in caught.value.problems]


def test_a_good_exercise_loads_with_its_items_and_renders_prompts(isolated: Path) -> None:
    ex = load(write(isolated, "ex.yaml", GOOD), Config.load())
    assert ex.name == "capitals" and ex.models == ("local", "terse")
    assert [(i.id, i.fields, i.expected) for i in ex.items] == [
        ("fr", {"country": "France"}, "Paris"),
        ("de", {"country": "Germany"}, "Berlin"),
    ]
    assert ex.render(ex.items[0]) == "Answer with the city only.\n\nWhat is the capital of France?"
    assert ex.scorer.name == "normalised"


def test_items_from_csv_and_jsonl_files(isolated: Path) -> None:
    write(isolated, "data/items.csv", "id,country,expected\nfr,France,Paris\nit,Italy,Rome\n")
    write(isolated, "data/items.jsonl", '{"id": "es", "country": "Spain", "expected": "Madrid"}\n')
    base = "name: c\ntemplate: 'Capital of {country}?'\nitems: {file: data/items.%s}\n"
    csv_ex = load(write(isolated, "a.yaml", base % "csv"))
    assert [(i.id, i.expected, i.where) for i in csv_ex.items] == [
        ("fr", "Paris", "data/items.csv row 2"),
        ("it", "Rome", "data/items.csv row 3"),
    ]
    jsonl_ex = load(write(isolated, "b.yaml", base % "jsonl"))
    assert [(i.id, i.fields) for i in jsonl_ex.items] == [("es", {"country": "Spain"})]


def test_items_from_globs_one_per_file_and_per_pair(isolated: Path) -> None:
    write(isolated, "specs/a.md", "spec A")
    write(isolated, "specs/b.md", "spec B")
    write(isolated, "src/a.py", "code A")
    write(isolated, "src/b.py", "code B")
    one = load(
        write(
            isolated,
            "one.yaml",
            "name: g\ntemplate: 'Review {code}'\nitems: {glob: 'src/*.py', as: code}\n",
        )
    )
    assert [(i.id, i.fields["code"]) for i in one.items] == [
        ("src/a.py", "code A"),
        ("src/b.py", "code B"),
    ]
    pairs = (
        "name: p\ntemplate: '{spec} vs {module}'\n"
        "items:\n  pairs: {spec: 'specs/*.md', module: 'src/*.py'}\n"
    )
    every = load(write(isolated, "pairs.yaml", pairs))
    assert len(every.items) == 4
    stem = load(write(isolated, "stem.yaml", pairs + "  match: stem\n"))
    assert [i.id for i in stem.items] == ["specs/a.md|src/a.py", "specs/b.md|src/b.py"]
    assert stem.render(stem.items[1]) == "spec B vs code B"


def test_bad_yaml_names_its_line(isolated: Path) -> None:
    path = write(
        isolated, "bad.yaml", "name: x\ntemplate: 'Q {q}'\nitems:\n  - {q: 1\n  - {q: 2}\n"
    )
    [(line, field, message)] = problems_of(path)
    assert field == "(yaml)" and "not valid YAML" in message and line in (4, 5)


def test_an_unknown_field_is_an_error_with_its_line(isolated: Path) -> None:
    path = write(isolated, "ex.yaml", GOOD + "colour: blue\n")
    [(line, field, message)] = problems_of(path)
    assert (line, field) == (10, "colour")
    assert message.startswith("unknown field 'colour': allowed fields are budget_usd")


def test_a_missing_template_field_names_the_item_and_its_line(isolated: Path) -> None:
    path = write(
        isolated, "ex.yaml", GOOD.replace("{id: de, country: Germany", "{id: de, land: Germany")
    )
    [(line, field, message)] = problems_of(path)
    assert (line, field) == (9, "items[1].country")
    assert "item 'de' has no field 'country', which the template uses" in message


def test_an_unknown_scorer_is_named_with_the_known_ones(isolated: Path) -> None:
    path = write(isolated, "ex.yaml", GOOD.replace("scorer: normalised", "scorer: {type: fuzzy}"))
    [(line, field, message)] = problems_of(path)
    assert (line, field) == (5, "scorer.type")
    assert message.startswith("unknown scorer 'fuzzy': use one of choice, contains, exact")


def test_an_unknown_model_is_named_with_its_line(isolated: Path) -> None:
    path = write(isolated, "ex.yaml", GOOD.replace("[local, terse]", "[local, gpt-9000]"))
    [(line, field, message)] = problems_of(path)
    assert (line, field) == (6, "models[1]")
    assert "unknown model 'gpt-9000'" in message


def test_every_problem_is_reported_at_once(isolated: Path) -> None:
    text = (
        GOOD.replace("scorer: normalised", "scorer: {type: regex, patern: x}")
        .replace("[local, terse]", "[nobody]")
        .replace("{id: de, country: Germany", "{id: fr, country: Germany")
        + "samples: 0\n"
    )
    problems = problems_of(write(isolated, "ex.yaml", text))
    fields = [field for _, field, _ in problems]
    assert fields == ["scorer.patern", "models[0]", "items[1].id", "samples"], problems
    assert [line for line, _, _ in problems] == [5, 6, 9, 10]


def test_a_bad_csv_row_points_into_the_csv_file(isolated: Path) -> None:
    write(isolated, "items.csv", "id,country\nfr,France\nde\n")
    path = write(
        isolated,
        "ex.yaml",
        "name: c\ntemplate: 'Capital of {country}?'\nitems: {file: items.csv}\n",
    )
    with pytest.raises(ExerciseError) as caught:
        load(path)
    [problem] = caught.value.problems
    assert (problem.file, problem.line, problem.field) == (
        "items.csv",
        3,
        "items.csv row 3.country",
    )


def test_the_cli_prints_every_problem_without_a_traceback(isolated: Path) -> None:
    path = write(
        isolated, "ex.yaml", GOOD.replace("scorer: normalised", "scorer: nope") + "extra: 1\n"
    )
    result = CliRunner().invoke(main, ["audit", "run", str(path), "--no-progress"])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert f"{path}:5: scorer: unknown scorer 'nope'" in result.output
    assert f"{path}:10: extra: unknown field 'extra'" in result.output
    assert not list(isolated.parent.rglob("audits")), "nothing is made for a bad exercise"


def test_a_missing_key_stops_the_run_before_anything_is_made(isolated: Path) -> None:
    path = write(isolated, "ex.yaml", GOOD.replace("[local, terse]", "[local, gpt]"))
    result = CliRunner().invoke(main, ["audit", "run", str(path), "--no-progress"])
    assert result.exit_code == 1
    assert "no API key for openai: set the OPENAI_API_KEY environment variable" in result.output
    assert not list(isolated.parent.rglob("audits"))
