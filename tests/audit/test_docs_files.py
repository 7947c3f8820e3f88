"""docs/audit.md's files, schema and reasoning example runs as written (see test_docs.py).

The exercise, its schema file and its aliases are the page's. Scripted models stand in for
`gpt` and `claude` (tests/audit/scripted.py): the run, its files, the schema and the
scoring are the real ones; the vendors' own adapters are tested on their wire servers.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.audit.scripted import Script, registered
from tests.audit.test_docs import blocks
from workbench.audit import run_audit
from workbench.config import Config
from workbench.providers import registry
from workbench.providers.base import Prompt

CHARTS = {
    "charts/sales.png": b"\x89PNG\r\n\x1a\n sales: north ends at 42",
    "charts/costs.png": b"\x89PNG\r\n\x1a\n costs: rent ends at 12.5",
    "notes/costs.md": b"Costs are in thousands.\n",
}
READINGS = {  # what each stand-in reads in a chart, written its own way
    ("a", b"north"): '{"series": "north", "value": 42}',
    ("b", b"north"): '{"value": 42.0, "series": "north"}',
    ("a", b"rent"): '{"series": "rent", "value": 12.5}',
    ("b", b"rent"): '```json\n{"series": "rent", "value": 12.5}\n```',
}


@pytest.fixture
def script(isolated: Path) -> Iterator[Script]:
    yield from registered(isolated)


def read_chart(model: str, prompt: Prompt) -> str:
    data = b"".join(f.data for f in prompt.files)
    return next(text for (m, word), text in READINGS.items() if m == model and word in data)


def test_the_files_and_schema_example_runs(isolated: Path, script: Script) -> None:
    [exercise] = [code for code in blocks("yaml") if code.startswith("name: charts")]
    [schema] = blocks("json")
    [aliases] = blocks("toml")
    (isolated / "charts.yaml").write_text(exercise)
    (isolated / "schemas").mkdir()
    (isolated / "schemas" / "reading.json").write_text(schema)
    for name, data in CHARTS.items():
        (isolated / name).parent.mkdir(exist_ok=True)
        (isolated / name).write_bytes(data)
    script.answer = read_chart

    run = run_audit("charts.yaml", ["a", "b"], progress=False, notebook=False)
    assert run.status == "complete", run.summary()
    outcomes = {item: str(o) for item, o in run.outcomes()["outcome"].items()}
    assert outcomes == {"sales": "agree-correct", "costs": "agree-correct"}
    sent = script.prompts("a")
    assert sorted([f.name for f in p.files] for p in sent) == [
        ["costs.png", "costs.md"],
        ["sales.png"],
    ]
    assert {p.params.reasoning for p in sent} == {"low"} and all(p.schema for p in sent)
    table = run.answers(expand=True)
    assert list(table["data.series"]) == ["north", "north", "rent", "rent"]  # in item order

    config = Config.load(tomllib.loads(aliases))
    assert registry.resolve("gpt-high", config).params.reasoning == "high"
    assert registry.resolve("gpt-low", config).params.reasoning == "low"
