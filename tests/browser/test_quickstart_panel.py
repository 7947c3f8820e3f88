"""The quickstart in a real browser: run the panel, ask, pick, and find it all in the lab notebook.

A Jupyter server runs headless on 127.0.0.1 with a token; Debian's Chromium, driven by
Playwright, opens a copy of notebooks/quickstart.ipynb in a fresh git repository, in
JupyterLab 4 and in Notebook 7, runs the cells up to the panel, types a prompt, clicks Run,
waits for the local model's answer, clicks "pick" and checks the JSONL files of the lab
notebook (the repository's `labbook/`, found from the kernel's working folder) and its git
commit. The panel's screenshot is saved in the test's tmp folder (and, for JupyterLab, at
docs/images/compare.png when $WORKBENCH_SCREENSHOTS=docs/images).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.browser.lab import ROOT, Lab
from tests.browser.notebook import UIS, NotebookPage, copy_notebook

QUICKSTART = ROOT / "notebooks" / "quickstart.ipynb"
PANEL_CELL = "panel = wb.panel("
PROMPT = "Name one primary colour."
MAX_TOKENS = "24"
ANSWER_TIMEOUT_S = 90.0
DAY_FILE = re.compile(r"^\d{4}/\d{2}/\d{2}/[^/]+\.jsonl$")


def panel_cell_index(notebook: Path) -> int:
    """The index of the first code cell starting `panel = wb.panel(`."""
    nb = nbformat.read(notebook, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and cell.source.lstrip().startswith(PANEL_CELL):
            return i
    raise AssertionError(f"{notebook} has no code cell starting with {PANEL_CELL!r}")


def labbook_records(root: Path) -> dict[str, list[dict[str, Any]]]:
    """Every record under the lab notebook's YYYY/MM/DD/<session>.jsonl files, by file."""
    found: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(root.rglob("*.jsonl")):
        rel = path.relative_to(root).as_posix()
        assert DAY_FILE.match(rel), f"a lab notebook file outside YYYY/MM/DD/: {rel}"
        lines = path.read_text(encoding="utf-8").splitlines()
        found[rel] = [json.loads(line) for line in lines if line.strip()]
    return found


def git(repo: Path, *args: str, check: bool = True) -> str:
    done = subprocess.run(["git", *args], cwd=repo, check=check, capture_output=True, text=True)
    return done.stdout


@pytest.mark.local_model
@pytest.mark.parametrize("ui", UIS)
def test_quickstart_panel_run_and_pick_are_recorded(
    ui: str,
    research_repo: Path,
    jupyter: Lab,
    notebook_page: Callable[..., NotebookPage],
    save_screenshot: Callable[..., list[Path]],
) -> None:
    began = time.monotonic()
    notebook = copy_notebook(QUICKSTART, research_repo / "quickstart.ipynb")
    git(research_repo, "add", "quickstart.ipynb")
    git(research_repo, "commit", "-q", "-m", "Start the research")
    index = panel_cell_index(notebook)
    labbook = research_repo / "labbook"  # the default: the kernel runs in research_repo
    nb = notebook_page(jupyter, ui).open(notebook)
    nb.hide_sidebars()
    opened = time.monotonic()

    nb.run_through(index)
    ran = time.monotonic()
    panel = nb.cell(index).locator(".wb-panel")
    nb.wait_until("the panel to render", lambda: panel.count() == 1 and panel.is_visible(), 30)
    before = {f: len(r) for f, r in labbook_records(labbook).items()}

    panel.locator(".wb-prompt textarea").fill(PROMPT)
    max_tokens = panel.get_by_label("max tokens")
    max_tokens.fill(MAX_TOKENS)
    max_tokens.press("Tab")  # let the widget sync before Run reads it
    run = panel.locator("button.wb-run")
    assert run.inner_text().strip() == "Run", "the Run button should say Run"
    run.click()

    local = panel.locator(".wb-column-0")
    answer, stats = local.locator(".wb-answer"), local.locator(".wb-stats")
    pick = local.locator("button.wb-pick")
    nb.wait_until(
        "the local model's column to fill (answer, figures, and pick enabled)",
        lambda: (
            bool(answer.inner_text().strip())
            and bool(stats.inner_text().strip())
            and pick.is_enabled()
        ),
        ANSWER_TIMEOUT_S,
    )
    shown_answer = answer.inner_text().strip()
    answered = time.monotonic()
    assert pick.inner_text().strip() == "pick"
    pick.click()
    status = panel.locator(".wb-status")
    nb.wait_until(
        "the status to say the pick was recorded",
        lambda: "recorded" in status.inner_text() and "pick" in status.inner_text(),
        30,
    )
    # the pick may come before terse has answered (each column is judged as it finishes)
    nb.wait_until(
        "terse's answer to be recorded",
        panel.locator(".wb-column-1 button.wb-pick").is_enabled,
        ANSWER_TIMEOUT_S,
    )
    save_screenshot(panel, f"compare-{ui}.png", publish="compare.png" if ui == "lab" else None)

    # -- the lab notebook on disk --------------------------------------------------------
    after = labbook_records(labbook)
    new = [r for f, rs in after.items() for r in rs[before.get(f, 0) :]]
    calls = [
        r for r in new if r["kind"] == "call" and r["prompt"]["messages"][-1]["content"] == PROMPT
    ]
    assert sorted(c["model"] for c in calls) == ["local", "terse"], (
        f"expected one call record per model for {PROMPT!r}, got {json.dumps(calls, indent=1)}"
    )
    for call in calls:
        assert call["prompt"]["params"]["max_tokens"] == int(MAX_TOKENS), call["prompt"]
    (local_call,) = [c for c in calls if c["model"] == "local"]
    assert local_call["reply"]["error"] is None, local_call["reply"]
    assert local_call["reply"]["text"].strip(), "the local model's recorded answer is empty"
    first_words = " ".join(local_call["reply"]["text"].split()[:3])
    assert first_words in " ".join(shown_answer.split()), (
        f"the column shows {shown_answer!r}, the record says {local_call['reply']['text']!r}"
    )
    decisions = [r for r in new if r["kind"] == "decision"]
    assert len(decisions) == 1, f"expected one decision record, got {decisions}"
    (decision,) = decisions
    assert decision["data"]["verdict"] == "pick"
    assert decision["data"]["choice"] == local_call["id"], "the pick must name the local call"
    assert local_call["id"] in decision["links"]
    assert decision["id"] in status.inner_text(), "the status should show the decision's id"

    # -- and git has it ------------------------------------------------------------------
    decision_file = next(f for f, rs in after.items() if decision in rs)
    nb.wait_until(
        "the lab notebook's commit of the decision",
        lambda: (
            decision["id"]
            in git(research_repo, "show", f"HEAD:labbook/{decision_file}", check=False)
        ),
        15,
    )
    # (records made after that commit, such as a slower model's call, go in the next one)
    nb.wait_until(
        "everything the panel recorded to be committed",
        lambda: git(research_repo, "status", "--porcelain", "--", "labbook") == "",
        15,
    )
    print(
        f"\n{ui} timings: open {opened - began:.1f} s, cells {ran - opened:.1f} s, "
        f"answer {answered - ran:.1f} s, recorded {time.monotonic() - began:.1f} s"
    )

    # -- and it reads right: no '$' amounts typeset as LaTeX by the browser ---------------
    typeset = panel.locator("mjx-container, .MathJax, .MathJax_Preview")
    assert typeset.count() == 0, (
        "part of the panel was typeset as LaTeX (a '$' in a Label's text?): "
        + " | ".join(typeset.evaluate_all("els => els.map(e => e.parentElement.textContent)"))
    )
