"""The browser harness on its own: Jupyter + Chromium run a widget notebook, clicks reach it.

In both UIs (JupyterLab 4 and Notebook 7) on the one shared server.

Independent of the panel, so that when the quickstart test fails this one tells whether the
browser set-up or the panel is at fault.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest

from tests.browser.lab import ROOT, Lab
from tests.browser.notebook import UIS, NotebookPage

WHERE = "import sys, workbench\nprint(sys.executable)\nprint(sys.prefix)\nprint(workbench.__file__)"
PROBE = """\
import pathlib
import ipywidgets as w

button = w.Button(description="Press me")
button.add_class("probe-button")
label = w.Label("waiting")
label.add_class("probe-label")

def pressed(_):
    pathlib.Path("pressed.txt").write_text("pressed")
    label.value = "pressed"

button.on_click(pressed)
w.VBox([button, label])
"""


def probe_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Probe"),
        nbformat.v4.new_code_cell(WHERE),
        nbformat.v4.new_code_cell(PROBE),
    ]
    nbformat.write(nb, path)
    return path


@pytest.mark.parametrize("ui", UIS)
def test_a_widget_notebook_runs_and_answers_clicks(
    ui: str,
    workspace: Path,
    jupyter: Lab,
    notebook_page: Callable[..., NotebookPage],
    save_screenshot: Callable[..., list[Path]],
) -> None:
    root = workspace
    notebook = probe_notebook(root / "probe.ipynb")
    nb = notebook_page(jupyter, ui).open(notebook)

    nb.run_through(2)
    printed = nb.output_text(1).split()
    assert printed == [sys.executable, sys.prefix, str(ROOT / "workbench" / "__init__.py")], (
        "the kernel must run on this interpreter and import this checkout's workbench"
    )

    widget = nb.cell(2).locator(".jp-OutputArea")
    button = widget.locator("button.probe-button")
    assert button.inner_text().strip() == "Press me"
    button.click()
    nb.wait_until(
        "the label to say 'pressed'",
        lambda: widget.locator(".probe-label").inner_text().strip() == "pressed",
        30,
    )
    assert (root / "pressed.txt").read_text() == "pressed"

    (shot,) = save_screenshot(widget, f"probe-{ui}.png")
    assert shot.stat().st_size > 1000
