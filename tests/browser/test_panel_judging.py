"""Judging in a real browser, JupyterLab 4 and Notebook 7: a column can be picked while another
model still runs, two picks leave one winner (on screen and in the lab notebook), verdicts
between two columns (clicked and typed) are recorded, and the history brings an earlier
comparison's answers back without a single new request to the servers.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.browser.lab import Lab
from tests.browser.notebook import UIS, NotebookPage
from tests.browser.panel_page import (
    ANSWER,
    panel_notebook,
    records,
    requests,
    wire_servers,
)
from tests.wire.harness import Step

TWO = ["openai:gpt-test", "anthropic:claude-test"]


def open_panel(nb: NotebookPage, repo: Path, servers: dict[str, Any], models: list[str]) -> Any:
    nb.open(panel_notebook(repo / "judge.ipynb", servers, models))
    nb.hide_sidebars()
    nb.run_through(1)
    panel = nb.cell(1).locator(".wb-panel")
    nb.wait_until("the panel to render", lambda: panel.count() == 1, 30)
    return panel


def ask(panel: Any, prompt: str) -> None:
    panel.locator(".wb-prompt textarea").fill(prompt)
    panel.locator("button.wb-run").click()


def status(panel: Any) -> str:
    return str(panel.locator(".wb-status").inner_text())


@pytest.mark.parametrize("ui", UIS)
def test_pick_while_another_model_runs_then_one_winner_after_two_picks(
    ui: str, research_repo: Path, jupyter: Lab, notebook_page: Callable[..., NotebookPage]
) -> None:
    with wire_servers() as servers:
        servers["anthropic"].queue(Step(delay_s=3))  # answers after 3 s
        nb = notebook_page(jupyter, ui)
        panel = open_panel(nb, research_repo, servers, TWO)
        ask(panel, "Why is the sky blue?")
        fast, slow = panel.locator(".wb-column-0"), panel.locator(".wb-column-1")
        fast_pick, slow_pick = fast.locator("button.wb-pick"), slow.locator("button.wb-pick")
        nb.wait_until("the fast column's pick to be enabled", fast_pick.is_enabled, 30)
        assert "waiting" in slow.inner_text() or "sending" in slow.inner_text()
        assert slow_pick.is_disabled()
        fast_pick.click()
        nb.wait_until("the early pick to be recorded", lambda: "recorded" in status(panel), 10)
        assert "picked" in fast.locator(".wb-decided").inner_text()
        assert "Rayleigh" not in slow.locator(".wb-answer").inner_text(), "picked before B came"
        (early,) = records(research_repo, "decision")
        (fast_call,) = records(research_repo, "call")
        assert early["links"] == [fast_call["id"]] and early["data"]["choice"] == fast_call["id"]

        nb.wait_until("the slow column's pick to be enabled", slow_pick.is_enabled, 30)
        slow_pick.click()
        nb.wait_until(
            "the second pick to show",
            lambda: "picked" in slow.locator(".wb-decided").inner_text(),
            10,
        )
        assert "picked" not in fast.locator(".wb-decided").inner_text(), "two winners on screen"
        first, second = records(research_repo, "decision")
        calls = {c["model"]: c["id"] for c in records(research_repo, "call")}
        assert second["data"]["supersedes"] == first["id"]
        assert second["data"]["choice"] == calls["anthropic:claude-test"]
        assert sorted(second["links"]) == sorted(calls.values())
        assert "replaces" in status(panel)


@pytest.mark.parametrize("ui", UIS)
def test_a_verdict_between_two_columns_is_recorded_by_click_and_by_key(
    ui: str, research_repo: Path, jupyter: Lab, notebook_page: Callable[..., NotebookPage]
) -> None:
    with wire_servers() as servers:
        nb = notebook_page(jupyter, ui)
        panel = open_panel(nb, research_repo, servers, TWO)
        ask(panel, "Which is better?")
        better_b = panel.locator("button.wb-better-b")
        nb.wait_until("the verdicts to be enabled", better_b.is_enabled, 30)
        better_b.click()
        nb.wait_until("the verdict to be recorded", lambda: "better" in status(panel), 10)
        (verdict,) = records(research_repo, "decision")
        calls = {c["model"]: c["id"] for c in records(research_repo, "call")}
        assert verdict["data"]["verdict"] == "better"
        assert verdict["links"] == [calls[TWO[0]], calls[TWO[1]]]
        assert verdict["data"]["choice"] == calls[TWO[1]]
        assert "better than" in panel.locator(".wb-column-1 .wb-decided").inner_text()

        # the keyboard: focus the panel (a click on its background), then t (tie), 4 (rate)
        cells = nb.cells.count()
        panel.locator(".wb-summary").click()
        nb.page.keyboard.press("t")
        nb.wait_until("the tie to be recorded", lambda: "tie" in status(panel), 10)
        nb.page.keyboard.press("4")
        nb.wait_until("the rating to be recorded", lambda: "rate 4" in status(panel), 10)
        _, tie, rating = records(research_repo, "decision")
        assert tie["data"]["verdict"] == "tie" and tie["data"]["supersedes"] == verdict["id"]
        assert rating["data"] == {
            "verdict": "rating", "choice": None, "reason": None, "score": 4,
        }  # fmt: skip
        assert rating["links"] == [calls[TWO[0]]]
        assert nb.cells.count() == cells, "a key reached the notebook (a cell was added)"


@pytest.mark.parametrize("ui", UIS)
def test_history_brings_back_an_earlier_comparison_without_a_request(
    ui: str, research_repo: Path, jupyter: Lab, notebook_page: Callable[..., NotebookPage]
) -> None:
    with wire_servers() as servers:
        servers["openai"].responder = lambda request: "The first answer, from gpt."
        nb = notebook_page(jupyter, ui)
        panel = open_panel(nb, research_repo, servers, TWO)
        ask(panel, "The first question")
        nb.wait_until("the first run", lambda: "done in" in status(panel), 30)
        panel.locator(".wb-column-0 button.wb-pick").click()
        nb.wait_until("the pick", lambda: "recorded" in status(panel), 10)
        servers["openai"].responder = lambda request: ANSWER
        ask(panel, "The second question")
        nb.wait_until(
            "the second run",
            lambda: "done in" in status(panel) and "Rayleigh" in panel.inner_text(),
            30,
        )
        sent = requests(servers)

        panel.get_by_text("history: earlier comparisons").click()
        picker = panel.locator(".wb-history select")
        options = picker.locator("option").evaluate_all("os => os.map(o => o.textContent)")
        first = [i for i, o in enumerate(options) if "The\xa0first\xa0question" in o]
        assert first, f"the history offers {options}"
        picker.select_option(index=first[0])
        panel.locator("button.wb-load").click()
        column = panel.locator(".wb-column-0")
        nb.wait_until(
            "the first answers to come back",
            lambda: "The first answer, from gpt." in column.locator(".wb-answer").inner_text(),
            15,
        )
        assert requests(servers) == sent, "the history sent a request"
        assert "recorded" in panel.locator(".wb-recalled").inner_text()
        assert "recorded" in column.locator(".wb-head").inner_text()
        assert "picked" in column.locator(".wb-decided").inner_text()
        assert "tok" in column.locator(".wb-stats").inner_text()
        assert "Rayleigh" not in column.locator(".wb-answer").inner_text()  # not the 2nd run
        rerun = panel.locator("button.wb-rerun")
        assert rerun.is_visible() and rerun.inner_text().strip() == "rerun on these models"
        rerun.click()
        nb.wait_until("the rerun", lambda: "done in" in status(panel), 30)
        assert requests(servers) == sent + 2
