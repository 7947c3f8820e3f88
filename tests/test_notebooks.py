"""Every notebook in notebooks/ and templates/ runs top to bottom on a real kernel."""

from __future__ import annotations

import re
import runpy
from pathlib import Path

import nbformat
import papermill
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted([*ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("templates/*.ipynb")])
EXAMPLES = {  # what each example notebook shows once run, besides the side-by-side view
    "quickstart.ipynb": [
        r'class="wb-panel wb-static[ "]',  # the panel's static fallback, after a run
        r"recorded \w+: pick local",  # the panel's pick, recorded
        r"recorded \w+ \w+ \w+",  # pick, reject and note from code
        r"<th>verdict</th>",  # %workbench log and wb.log.decisions()
        r"# Lab notebook: ",  # the export
    ],
    "side_by_side.ipynb": [r"<del>", r"<ins>", r"Answer like a pirate|pirate", r"wb-sample"],
    "many_prompts.ipynb": [r"<th>agree</th>", r"<th>correct</th>", r"mean_latency_s"],
    "files_and_schemas.ipynb": [
        r"cannot read fig.png \(image/png\)",  # the local model's column, nothing sent
        r"data\.title",  # the structured answers spread into columns
        r"does not take reasoning",
        r"Are you sure\? Check the year\.",  # the follow-up, in the thread
    ],
    "statistics.ipynb": [
        r"accuracy_low",  # the intervals
        r"McNemar p [=<]",  # a pair in one sentence
        r"exact McNemar, alpha = 0\.05\): \d+ items",  # the plan
        r"agrees with the humans on \d+ of \d+ answers",  # the scorer against the human
        r"p_beats_average",  # the leaderboard
        r"workbench_version",  # the provenance
    ],
    "workflow.ipynb": [
        r"wrote 2 alternatives; pick one",  # the drafts side by side
        r"picked alternative 2 -&gt; paper/draft.md|picked alternative 2 -> paper/draft.md",
        r"memo [a-z0-9-]+ for editor",  # the referee's review, left on the desk
        r"flow paper: response -> paper/response.md",  # git log
        r"changed: the prompt prompts/referee.md",  # an edit: only what depends on it
        r"prompt_version",
        r"# Brief for terse",
    ],
    "export_log.ipynb": [
        r"every chain intact",
        r"labbook-\d{4}-\d\d-\d\d\.csv",
        r"\*\*Records:\*\* \d+ \(2 calls, 1 decision",
    ],
}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_without_errors(path: Path, tmp_path: Path) -> None:
    out = tmp_path / path.name
    papermill.execute_notebook(str(path), str(out), cwd=str(tmp_path), progress_bar=False)
    executed = nbformat.read(out, as_version=4)
    outputs = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = "".join(str(o.get("data", {}).get("text/html", "")) for o in outputs)
    assert 'class="wb-grid"' in html, "no side-by-side view was displayed"
    shown = html + "".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/plain", "")) for o in outputs
    )
    for pattern in EXAMPLES.get(path.name, []) if path.parent.name == "notebooks" else []:
        assert re.search(pattern, shown), f"{path.name} did not show {pattern!r}"


def test_example_notebooks_are_up_to_date_with_their_source() -> None:
    make = runpy.run_path(str(ROOT / "scripts" / "make_notebooks.py"))
    names = {f"{name}.ipynb" for name in make["NOTEBOOKS"]}
    assert names == {p.name for p in ROOT.glob("notebooks/*.ipynb")} == set(EXAMPLES)
    for name, build in make["NOTEBOOKS"].items():
        on_disk = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
        assert [c.source for c in on_disk.cells] == [c.source for c in build().cells], name


def test_quickstart_has_the_panel_cell_the_browser_test_runs() -> None:
    quickstart = nbformat.read(ROOT / "notebooks" / "quickstart.ipynb", as_version=4)
    code = [c.source for c in quickstart.cells if c.cell_type == "code"]
    at = next(i for i, source in enumerate(code) if source.startswith("panel = wb.panel("))
    assert 'models=["local", "terse"]' in code[at] and code[at].splitlines()[-1] == "panel"
    assert at <= 1 and code[:at] == ["import workbench as wb"], "slow cells come before the panel"


def test_files_and_schemas_with_a_provider_that_takes_them(
    tmp_path: Path, wire: dict[str, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same notebook with `gpt` on the OpenAI wire server: the file and the effort go out."""
    server = wire["openai"]
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)  # type: ignore[attr-defined]
    path = ROOT / "notebooks" / "files_and_schemas.ipynb"
    out = tmp_path / path.name
    papermill.execute_notebook(str(path), str(out), cwd=str(tmp_path), progress_bar=False)
    bodies = [r.body for r in server.requests]  # type: ignore[attr-defined]
    parts = [p for b in bodies for m in b.get("messages", []) if isinstance(m["content"], list)
             for p in m["content"]]  # fmt: skip
    assert any(p.get("type") == "image_url" for p in parts), "the chart was not sent to gpt"
    assert any(b.get("reasoning_effort") == "low" for b in bodies)
    executed = nbformat.read(out, as_version=4)
    shown = "".join(
        str(o.get("data", {}).get("text/plain", ""))
        for c in executed.cells
        for o in c.get("outputs", [])
    )
    assert "gpt: ok" in shown
