"""The workflow notebook (templates/workflow.ipynb) as code, for papermill.

    papermill templates/workflow.ipynb run.ipynb -p workflow paper.yaml -p budget_usd 0.5

`scripts/make_workflow_template.py` writes it to templates/. Opened by hand (no parameters),
it runs a small demo workflow on the embedded local model in a fresh git repository.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

PARAMETERS = (
    "# Parameters (papermill fills these in)\n"
    'workflow = ""  # the workflow file, e.g. "paper.yaml"; empty: the demo\n'
    "steps = []  # only these steps (empty: every step that is due)\n"
    "budget_usd = None  # the most this run may spend (None: the file's budget_usd)\n"
    "fresh = False  # ask again what the lab notebook already answered"
)


def workflow_template() -> Any:
    """Status, run (progress on stderr, each step's answers side by side), status, the desk."""
    from nbformat import v4

    new_code_cell: Callable[..., Any] = v4.new_code_cell
    new_markdown_cell: Callable[..., Any] = v4.new_markdown_cell
    new_notebook: Callable[..., Any] = v4.new_notebook

    parameters = new_code_cell(PARAMETERS)
    parameters.metadata["tags"] = ["parameters"]
    cells = [
        new_markdown_cell(
            "# Workflow run\n\n"
            "Each step of the workflow goes to the model chosen for its role; the steps that "
            "are stale (an input, the prompt file or the model changed) or never made run, in "
            "order, and each output is committed with its call records. Run it with papermill "
            "(`papermill templates/workflow.ipynb run.ipynb -p workflow paper.yaml`), from "
            "Python (`wb.workflow(...).run()`) or the shell (`workbench flow run paper.yaml`)."
        ),
        parameters,
        new_code_cell(
            "import workbench as wb\n"
            "from workbench import desk\n"
            "from workbench.workflows import demo\n\n"
            "# opened by hand: a demo workflow on the embedded local model, in a new git repo\n"
            "flow = wb.workflow(workflow) if workflow else demo()\n"
            "flow.status()"
        ),
        new_markdown_cell(
            "## The due steps\n\nProgress below; then each step's answers side by side."
        ),
        new_code_cell("run = flow.run(only=steps, budget_usd=budget_usd, fresh=fresh)\nrun"),
        new_markdown_cell("## Where each step stands now"),
        new_code_cell("flow.status()"),
        new_markdown_cell("## The desk: what is waiting for whom"),
        new_code_cell("desk.board(flow.spec.folder, fetch=False)"),
        new_code_cell(
            "if not run.ok:  # papermill reports the run as failed\n"
            '    raise RuntimeError(f"a step failed: {run}")'
        ),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb
