"""A real papermill run on the embedded local model: no key, no network."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest

from tests.audit.helpers import write
from workbench.audit import run_audit
from workbench.audit.scorers import normalise

pytestmark = pytest.mark.local_model

EXERCISE = """
name: local-capitals
instructions: Answer with the name of the city only.
reason: Capitals are stable facts.
template: "What is the capital of {country}?"
scorer: contains
models: [local, terse]
params: {max_tokens: 12, temperature: 0, seed: 1}
items:
  - {id: fr, country: France, expected: Paris}
  - {id: jp, country: Japan, expected: Tokyo}
"""


def test_a_papermill_run_on_the_local_model(isolated: Path) -> None:
    if importlib.util.find_spec("llama_cpp") is None:  # not imported here: it opens files
        pytest.skip("the local extra (llama-cpp-python) is not installed")
    write(isolated, "local.yaml", EXERCISE)
    run = run_audit("local.yaml", progress=False)
    assert run.status in ("complete", "complete-with-errors")
    table = run.outcomes()
    assert list(table.index) == ["fr", "jp"]
    for row in run.rows:  # the outcome of each item follows from the two answers
        texts = {a["model"]: a["text"] for a in row["answers"]}
        assert set(texts) == {"local", "terse"} and all(texts.values())
        want = normalise(row["expected"])
        found = [f" {want} " in f" {normalise(t)} " for t in texts.values()]
        keys = {want if hit else normalise(t) for hit, t in zip(found, texts.values(), strict=True)}
        expected = "disagree" if len(keys) > 1 else "agree-correct" if all(found) else "agree-wrong"
        assert str(table.loc[row["item"], "outcome"]) == expected, texts
    assert run.manifest["spent_usd"] == 0.0
    nb = nbformat.read(run.path / "audit.ipynb", as_version=4)
    assert not [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
