"""Every notebook in notebooks/ and templates/ runs top to bottom on a real kernel."""

from __future__ import annotations

from pathlib import Path

import nbformat
import papermill
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted([*ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("templates/*.ipynb")])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_without_errors(path: Path, tmp_path: Path) -> None:
    out = tmp_path / path.name
    papermill.execute_notebook(str(path), str(out), cwd=str(tmp_path), progress_bar=False)
    executed = nbformat.read(out, as_version=4)
    outputs = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = "".join(str(o.get("data", {}).get("text/html", "")) for o in outputs)
    assert 'class="wb-grid"' in html, "no side-by-side view was displayed"


def test_quickstart_is_up_to_date_with_its_source() -> None:
    import runpy

    make = runpy.run_path(str(ROOT / "scripts" / "make_notebooks.py"))
    on_disk = nbformat.read(ROOT / "notebooks" / "quickstart.ipynb", as_version=4)
    assert [c.source for c in on_disk.cells] == [c.source for c in make["quickstart"]().cells]
