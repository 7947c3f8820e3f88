"""Write templates/workflow.ipynb, the papermill template of workflow runs, from its source.

The cells live in workbench/workflows/template.py (so an installed package can build it too).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench.workflows.template import workflow_template  # noqa: E402

if __name__ == "__main__":
    target = ROOT / "templates" / "workflow.ipynb"
    nbformat.write(workflow_template(), target)
    print(f"wrote {target.relative_to(ROOT)}")
