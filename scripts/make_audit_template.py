"""Write templates/audit.ipynb, the papermill template of audit runs, from its source.

The cells live in workbench/audit/template.py (so an installed package can build it too).
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench.audit.template import audit_template  # noqa: E402

if __name__ == "__main__":
    target = ROOT / "templates" / "audit.ipynb"
    nbformat.write(audit_template(), target)
    print(f"wrote {target.relative_to(ROOT)}")
