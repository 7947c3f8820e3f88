"""Drive a notebook through Playwright in JupyterLab 4 or Notebook 7: open, run, read outputs.

Notebook 7 is built from JupyterLab's own notebook widgets, so cells, prompts, outputs, the
toolbar's kernel name and its execution indicator carry the same CSS classes in both UIs;
only the URL and the page around the notebook (no side bars in Notebook 7) differ.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

    from tests.browser.lab import Lab

OPEN_TIMEOUT_S = 90.0
CELL_TIMEOUT_S = 180.0
TRACEBACK = "Traceback (most recent call last)"


UIS = ("lab", "notebook")  # JupyterLab 4, Notebook 7
APP_NAMES = {"lab": "JupyterLab", "notebook": "Jupyter Notebook"}  # each page's PageConfig


class NotebookPage:
    """One notebook open in a UI, with failures that show what the page and server said."""

    def __init__(self, page: Page, lab: Lab, ui: str = "lab") -> None:
        if ui not in UIS:
            raise ValueError(f"unknown UI {ui!r}: use one of {UIS}")
        self.page = page
        self.lab = lab
        self.ui = ui
        self.notebook: Path | None = None

    # -- diagnostics ---------------------------------------------------------------------

    def page_text(self, chars: int = 6000) -> str:
        """The visible text of the notebook (its end, where the trouble usually is)."""
        try:
            text = self.page.locator(".jp-NotebookPanel:visible").first.inner_text(timeout=2000)
        except Exception as exc:  # the page may be gone; say so rather than hide the failure
            return f"(could not read the page: {exc})"
        return text[-chars:]

    def fail(self, message: str) -> AssertionError:
        """An AssertionError with the page's text and the server's log attached."""
        return AssertionError(
            f"{message}\n\n--- the notebook page shows (end) ---\n{self.page_text()}"
            f"\n\n--- jupyter server log (end) ---\n{self.lab.log_tail()}"
        )

    def wait_until(
        self, what: str, check: Callable[[], bool], timeout_s: float, every_s: float = 0.2
    ) -> None:
        """Poll `check()` (Python, on the page or on disk) until true, else fail saying `what`."""
        deadline = time.monotonic() + timeout_s
        while True:
            if check():
                return
            if time.monotonic() > deadline:
                raise self.fail(f"timed out after {timeout_s:.0f} s waiting for {what}")
            self.page.wait_for_timeout(every_s * 1000)

    # -- opening and running -------------------------------------------------------------

    def open(self, notebook: Path) -> NotebookPage:
        """Open `notebook` and wait until its kernel is connected and idle."""
        self.notebook = notebook
        url = self.lab.notebook_url(notebook, self.ui)
        response = self.page.goto(url, timeout=OPEN_TIMEOUT_S * 1000)
        if response is not None and response.status == 404 and self.ui == "notebook":
            raise self.fail("the server has no Notebook 7 (/notebooks/): pip install 'notebook>=7'")
        self.wait_until(
            "the notebook's cells to appear",
            lambda: self.cells.count() > 0,
            OPEN_TIMEOUT_S,
        )
        self.wait_until("the kernel to be idle", self.kernel_ready, OPEN_TIMEOUT_S)
        app = self.page.evaluate(
            "() => JSON.parse(document.getElementById('jupyter-config-data').textContent).appName"
        )
        assert app == APP_NAMES[self.ui], f"{self.ui!r} should open in {APP_NAMES[self.ui]}: {app}"
        return self

    def kernel_ready(self) -> bool:
        """The page shows a kernel, idle, and the server agrees it is idle."""
        shown = self.page.evaluate(
            """() => {
                const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
                if (!panel) return false;
                const name = panel.querySelector('.jp-Toolbar-kernelName');
                const state = panel.querySelector('.jp-Notebook-ExecutionIndicator');
                return !!name && !!state && name.textContent.trim() !== 'No Kernel'
                    && state.getAttribute('data-status') === 'idle';
            }"""
        )
        if not shown or self.notebook is None:
            return False
        sessions = self.lab.sessions(self.notebook)
        return any(s["kernel"]["execution_state"] == "idle" for s in sessions)

    def close(self) -> None:
        """Shut down the open notebook's kernel (the server goes on serving other tests)."""
        if self.notebook is not None:
            self.lab.shut_down_kernels(self.notebook)
            self.notebook = None

    @property
    def cells(self) -> Locator:
        """Every cell of the open notebook, in order."""
        return self.page.locator(".jp-NotebookPanel:visible .jp-Notebook .jp-Cell")

    def cell(self, index: int) -> Locator:
        """The cell at `index` (0-based, counting markdown cells too)."""
        return self.cells.nth(index)

    def run_through(self, last: int, timeout_s: float = CELL_TIMEOUT_S) -> None:
        """Run cells 0..last in order (Shift+Enter from the first) and wait until they finish."""
        self.cell(0).locator(".jp-InputPrompt").first.click()
        self.page.keyboard.press("Escape")  # command mode: Shift+Enter runs and moves on
        for _ in range(last + 1):
            self.page.keyboard.press("Shift+Enter")
        code = [i for i in range(last + 1) if self.is_code(i)]

        def finished() -> bool:
            for i in code:  # a failing cell stops the rest: say so at once
                if error := self.error_text(i):
                    raise self.fail(f"cell {i} raised an error:\n{error}")
            return all(self.execution_count(i) is not None for i in code)

        self.wait_until(f"code cells {code} to finish running", finished, timeout_s, every_s=0.5)

    def is_code(self, index: int) -> bool:
        """Whether the cell at `index` is a code cell."""
        classes = self.cell(index).get_attribute("class") or ""
        return "jp-CodeCell" in classes.split()

    def execution_count(self, index: int) -> int | None:
        """The number in the cell's `[n]:` prompt; None while queued, running or never run."""
        prompt = self.cell(index).locator(".jp-InputArea-prompt").first.inner_text().strip()
        digits = prompt.strip("[]: \xa0")
        return int(digits) if digits.isdigit() else None

    def output_text(self, index: int) -> str:
        """The text of the cell's outputs."""
        return self.cell(index).locator(".jp-OutputArea").first.inner_text()

    def error_text(self, index: int) -> str:
        """The text of any error output in the cell (a traceback), else ''."""
        stderr = self.cell(index).locator(
            '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
        )
        return "\n".join(t for t in stderr.all_inner_texts() if TRACEBACK in t)

    def hide_sidebars(self) -> None:
        """Collapse JupyterLab's left side panel, so the notebook gets the page's width.

        Notebook 7 shows no side panel by default (Control+b would open one): nothing to do.
        """
        if self.ui == "lab" and self.page.locator("#jp-left-stack:visible").count():
            self.page.keyboard.press("Control+b")


def copy_notebook(source: Path, target: Path) -> Path:
    """Copy a notebook without its outputs or execution counts, as a user would start it."""
    nb = nbformat.read(source, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return target
