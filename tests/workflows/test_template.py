"""templates/workflow.ipynb: generated from its source, run by papermill with parameters."""

from __future__ import annotations

import runpy
from pathlib import Path

import nbformat
import papermill
import pytest

from tests.labbook.helpers import git
from workbench.workflows.demo import make

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "templates" / "workflow.ipynb"


def test_the_template_is_up_to_date_with_its_source_and_has_its_parameters() -> None:
    made = runpy.run_path(str(ROOT / "scripts" / "make_workflow_template.py"))
    on_disk = nbformat.read(TEMPLATE, as_version=4)
    assert [c.source for c in on_disk.cells] == [
        c.source for c in made["workflow_template"]().cells
    ]
    tagged = [c for c in on_disk.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and 'workflow = ""' in tagged[0].source


@pytest.mark.local_model
def test_papermill_runs_a_workflow_and_a_second_run_has_nothing_to_do(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    make(repo).session.close()  # the demo's files, committed; this process sends nothing
    out = tmp_path / "run.ipynb"
    papermill.execute_notebook(
        str(TEMPLATE), str(out), parameters={"workflow": "paper.yaml"}, cwd=str(repo),
        progress_bar=False,
    )  # fmt: skip

    shown = _shown(out)
    assert 'class="wb-grid"' in shown and shown.count(">made<") == 3
    assert "flow paper: draft (teacher) ..." in shown  # progress, on stderr
    for output in ("paper/draft.md", "reviews/referee.md", "paper/response.md"):
        assert (repo / output).read_text().strip()
    assert git(repo, "status", "--porcelain", "--", "paper", "reviews", "labbook") == ""
    subjects = git(repo, "log", "--format=%s").splitlines()
    assert "flow paper: response -> paper/response.md (local, 1 call)" in subjects

    again = tmp_path / "again.ipynb"
    papermill.execute_notebook(
        str(TEMPLATE), str(again), parameters={"workflow": "paper.yaml", "steps": ["referee"]},
        cwd=str(repo), progress_bar=False,
    )  # fmt: skip
    assert _shown(again).count(">skipped<") == 3
    assert git(repo, "log", "--format=%s").splitlines() == subjects


def _shown(path: Path) -> str:
    executed = nbformat.read(path, as_version=4)
    outputs = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    return "".join(
        str(o.get("text", "")) + str(o.get("data", {}).get("text/html", "")) for o in outputs
    )
