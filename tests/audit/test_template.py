"""templates/audit.ipynb is generated from scripts/make_audit_template.py and has its parameters."""

from __future__ import annotations

import runpy
from pathlib import Path

import nbformat

from workbench.audit import default_template

ROOT = Path(__file__).resolve().parents[2]


def test_the_template_is_up_to_date_with_its_source() -> None:
    make = runpy.run_path(str(ROOT / "scripts" / "make_audit_template.py"))
    on_disk = nbformat.read(ROOT / "templates" / "audit.ipynb", as_version=4)
    assert [c.source for c in on_disk.cells] == [c.source for c in make["audit_template"]().cells]
    assert default_template() == ROOT / "templates" / "audit.ipynb"


def test_the_template_has_one_tagged_parameters_cell_naming_run_dir() -> None:
    nb = nbformat.read(default_template(), as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and 'run_dir = ""' in tagged[0].source
