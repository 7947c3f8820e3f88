"""The panel fits the page at 1400 px and at 900 px, in JupyterLab 4 and Notebook 7.

Four models answer (one fails, in its column); then every button must show its whole label
(scrollWidth <= clientWidth), nothing in the panel may scroll sideways, no control may stick
out of it, the prompt box keeps a useful width and each column a readable one. The panel's
screenshots at both widths are saved (and published to docs/images with
$WORKBENCH_SCREENSHOTS=docs/images: panel-{width}.png, from JupyterLab).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.browser.lab import Lab
from tests.browser.notebook import UIS, NotebookPage
from tests.browser.panel_page import layout_problems, panel_notebook, width, wire_servers
from tests.wire.harness import Step

READABLE_COLUMN_PX = 240
"""The narrowest a column may get: below it the columns wrap."""


@pytest.mark.parametrize("ui", UIS)
@pytest.mark.parametrize("viewport", [1400, 900])
def test_nothing_is_clipped_and_nothing_scrolls_sideways(
    ui: str,
    viewport: int,
    research_repo: Path,
    jupyter: Lab,
    notebook_page: Callable[..., NotebookPage],
    save_screenshot: Callable[..., list[Path]],
) -> None:
    with wire_servers() as servers:
        servers["anthropic"].queue(Step(status=400))
        notebook = panel_notebook(research_repo / "layout.ipynb", servers)
        nb = notebook_page(jupyter, ui).open(notebook)
        nb.hide_sidebars()
        nb.run_through(1)
        # narrowed once the kernel is idle (a narrow toolbar folds its kernel indicator away)
        nb.page.set_viewport_size({"width": viewport, "height": 1000})
        panel = nb.cell(1).locator(".wb-panel")
        nb.wait_until("the panel to render", lambda: panel.count() == 1, 30)
        problems = layout_problems(panel)
        assert problems == [], "before running:\n" + "\n".join(problems)

        panel.locator(".wb-prompt textarea").fill("Why is the sky blue?")
        panel.locator("button.wb-run").click()
        picks = panel.locator("button.wb-pick:enabled")
        nb.wait_until("three answers to be recorded", lambda: picks.count() == 3, 60)
        nb.wait_until(
            "the run to finish",
            lambda: "done in" in panel.locator(".wb-status").inner_text(),
            30,
        )
        panel.locator(".wb-column-0 button.wb-pick").click()
        nb.wait_until(
            "the pick to show",
            lambda: "picked" in panel.locator(".wb-column-0 .wb-decided").inner_text(),
            30,
        )
        problems = layout_problems(panel)
        assert problems == [], "\n".join(problems)
        panel_px = width(panel)
        assert width(panel.locator(".wb-prompt textarea")) >= min(400, panel_px * 0.5)
        columns = panel.locator(".wb-column")
        assert columns.count() == 4
        for i in range(4):
            assert width(columns.nth(i)) >= READABLE_COLUMN_PX, f"column {i} is too narrow"
        assert "BadRequest" in panel.locator(".wb-column-1 .wb-answer").inner_text()
        assert panel.locator(".wb-summary table").count() == 1
        nb.page.set_viewport_size({"width": viewport, "height": 1800})  # the whole panel in view
        shot = f"panel-{viewport}.png"
        save_screenshot(panel, f"{ui}-{shot}", publish=shot if ui == "lab" else None)
