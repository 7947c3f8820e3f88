"""The audit notebook (templates/audit.ipynb) as code: one source for the file and the package.

`scripts/make_audit_template.py` writes it to templates/; an installed package without the
templates folder builds it from here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def audit_template() -> Any:
    """Run (or resume, or replay) one audit run, then show its tables, plots and open items."""
    from nbformat import v4

    new_code_cell: Callable[..., Any] = v4.new_code_cell
    new_markdown_cell: Callable[..., Any] = v4.new_markdown_cell
    new_notebook: Callable[..., Any] = v4.new_notebook

    parameters = new_code_cell(
        '# Parameters (papermill fills these in)\nrun_dir = ""  # the run folder, made by '
        "`workbench audit run`"
    )
    parameters.metadata["tags"] = ["parameters"]
    cells = [
        new_markdown_cell(
            "# Audit run\n\n"
            "Every model completes the exercise independently. Where all agree and match "
            "what is expected, the result merges with confidence; where they disagree, a "
            "human looks. Start it with `workbench audit run EXERCISE.yaml -m ...`; this "
            "notebook is what that command executes."
        ),
        parameters,
        new_code_cell(
            "from workbench import workers\n\n"
            "workers.start(run_dir)  # the models' worker processes start while this kernel sets up"
        ),
        new_code_cell(
            "from IPython.display import Image, display\n\n"
            "from workbench import audit\n"
            "from workbench.audit.notebook import warm_report\n\n"
            "warming = warm_report()  # the report's libraries load while the calls run\n"
            "if not run_dir:  # opened by hand: a small demo audit on the embedded local model\n"
            "    run_dir = str(audit.demo().path)\n"
            "audit.execute(run_dir)  # answers every item still to do; saved as each finishes\n"
            "warming.join()\n"
            "run = audit.open_run(run_dir)\n"
            "print(run.summary())"
        ),
        new_markdown_cell(
            "## Outcome per item\n\nGreen: all agree and are right. Orange: all agree but "
            "not with what was expected. Red: the models disagree. Grey: a call failed."
        ),
        new_code_cell("run.styled(limit=200)"),
        new_markdown_cell(
            "## Per model: accuracy, errors, cost, latency\n\n"
            "Each rate with its 95% interval: Wilson's with one answer per item; with several "
            "samples per item, a bootstrap over items (`interval` names the method)."
        ),
        new_code_cell("run.per_model()"),
        new_markdown_cell(
            "## Models paired\n\n"
            "Every two models on the items both answered: the difference in accuracy with its "
            "95% interval, McNemar's exact test on the items where one is right and the other "
            "wrong (a sign-flip permutation test with several samples), p-values adjusted by "
            "Holm's method over the pairs."
        ),
        new_code_cell(
            "pairs = run.paired()\n"
            'for sentence in pairs["sentence"]:\n'
            "    print(sentence)\n"
            'pairs.drop(columns="sentence")'
        ),
        new_markdown_cell(
            "## How many items the next sweep needs\n\n"
            "This run as a pilot: per pair, the items needed to detect the difference seen (or "
            "`run.plan(0.05)`: 5 points) with 80% power; put it in the exercise's `sample:`."
        ),
        new_code_cell('for sentence in run.plan()["sentence"]:\n    print(sentence)'),
        new_markdown_cell(
            "## Structured answers\n\nWith a schema: each answer's fields side by side, one "
            "column per field (an answer that does not fit the schema is an error)."
        ),
        new_code_cell(
            'if run.manifest.get("schema"):\n'
            "    table = run.answers(expand=True)\n"
            '    shown = ["item", "model", "sample", "error"]\n'
            '    display(table[shown + [c for c in table.columns if c.startswith("data.")]])'
        ),
        new_markdown_cell("## Agreement between models (share of items with the same answer)"),
        new_code_cell("run.agreement()"),
        new_code_cell("display(Image(run.plot_png()))"),
        new_markdown_cell(
            "## Items that need a human\n\n"
            "Review them here (in JupyterLab: a button per model, each verdict is a decision "
            "record in the lab notebook), with `workbench audit review RUN`, or from Python "
            'with `run.decide(item, pick="model", reason="...")`.'
        ),
        new_code_cell("run.needing_human()"),
        new_code_cell("run.review_panel()"),
        new_markdown_cell(
            "## Judges checked against humans\n\n"
            "Each judge (and the panel's verdict, with several) against the humans' reviews: "
            "Cohen's kappa with its 95% interval and the confusion table (`pass_fail`: the "
            "humans said right, the judge wrong). A kappa below 0.6 is flagged. Without a "
            "judge, the scorer is checked the same way."
        ),
        new_code_cell(
            "judges = run.judges()\n"
            'for sentence in judges["sentence"]:\n'
            "    print(sentence)\n"
            'judges.drop(columns="sentence")'
        ),
        new_markdown_cell(
            "Side by side: the first items that need a human (or the first item). "
            "`run.compare(item)` shows any item this way."
        ),
        new_code_cell(
            "shown = list(run.needing_human().index[:3]) or list(run.outcomes().index[:1])\n"
            "for item in shown:\n"
            "    display(run.compare(item))"
        ),
    ]
    cells.append(
        new_markdown_cell(
            "What made this run (models and the versions their providers reported, params, "
            "the exercise's hash, prices, sessions, the research repo's commit, the workbench "
            "version) is kept in this notebook's metadata, under `workbench`, when the run ends "
            "(`run.provenance()` reads it from the lab notebook)."
        )
    )
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb
