"""Readable panel: chips, figures kept whole, "stopped", no LaTeX, a summary row, wb.models()."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.conftest import wire_config
from tests.wire.harness import Step
from tests.wire.openai_server import OpenAIServer
from workbench.config import Config
from workbench.render import summary_html
from workbench.sessions import Session, reset_session
from workbench.widgets.panel import Panel, panel

MODELS = ["openai:gpt-test", "anthropic:claude-test", "gemini:gemini-test"]


@pytest.fixture
def session(wire: dict[str, Any]) -> Session:
    return Session(wire_config(wire))  # type: ignore[arg-type]


def run(p: Panel, prompt: str) -> None:
    p.controls.prompt.value = prompt
    p.run_button.click()
    p.wait(30)


def test_a_plain_click_on_a_model_chip_adds_it_and_keeps_the_others(session: Session) -> None:
    p = panel(MODELS[:1], session=session)
    picker = p.controls.models
    picker.chips["claude"].value = True  # what a click on the chip does
    picker.chips["terse"].value = True
    assert picker.value == (MODELS[0], "claude", "terse")
    picker.chips[MODELS[0]].value = False
    assert picker.value == ("claude", "terse")
    picker.filter.value = "gemini"
    shown = [n for n, chip in picker.chips.items() if chip.layout.display != "none"]
    assert "gemini" in shown and "gpt" not in shown
    assert "claude" in shown  # a chosen model stays in sight


def test_a_model_without_a_key_is_marked_on_its_chip() -> None:
    p = panel(["gpt", "local"])
    chip = p.controls.models.chips["gpt"]
    assert chip.button_style == "warning" and "no key: set OPENAI_API_KEY" in chip.tooltip
    assert "OPENAI_API_KEY" in p.controls.models.warning.value


def test_figures_stay_whole_and_the_static_view_is_not_typeset(session: Session) -> None:
    p = panel(MODELS[:2], session=session)
    run(p, "costs $5 and $10")
    stats = p.columns[0].stats.value
    assert '<span class="wb-fig">first token ' in stats  # one unbreakable phrase per figure
    page = p.static_html()
    assert 'class="wb-panel wb-static tex2jax_ignore mathjax_ignore"' in page
    assert "$" in page and "wb-summary" in page


def test_a_stopped_run_says_stopped(session: Session, wire: dict[str, Any]) -> None:
    wire["openai"].queue(Step(hang=True))
    p = panel(MODELS[::2], session=session)
    # Importing SDKs in the warm-up thread and the run at once can fail ("partially
    # initialized module 'httpx'"): reported to the lead; here the warm-up ends first.
    p.warming.result(timeout=60)
    p.controls.prompt.value = "slow"
    p.run_button.click()
    deadline = time.monotonic() + 10
    while "echo: slow" not in p.columns[1].answer.value and time.monotonic() < deadline:
        time.sleep(0.02)
    p.stop_button.click()
    p.wait(10)
    assert p.status_text.startswith("stopped after "), [r.error for r in p.comparison or ()]
    assert "1 answered · 1 cancelled" in p.status_text and "error" not in p.status_text


def test_the_summary_row_ranks_the_models_and_says_what_is_missing(
    session: Session, wire: dict[str, Any]
) -> None:
    wire["anthropic"].queue(Step(status=400))
    wire["gemini"].responder = lambda request: "a much longer answer than the others give"
    p = panel(MODELS, session=session)
    run(p, "rank us")
    summary = p.summary.value
    assert "<th>cost</th><th>latency</th><th>tokens out</th>" in summary
    assert "fewest tokens: openai:gpt-test" in summary
    assert "not ranked (no answer): anthropic:claude-test" in summary
    from workbench.providers.base import Reply, Usage

    unpriced = Reply("x", "lab:x", text="hi", usage=Usage(None, None), latency_s=0.5)
    priced = Reply("y", "lab:y", text="hi", usage=Usage(1, 2), cost_usd=0.001, latency_s=1.0)
    table = summary_html([("x", [unpriced]), ("y", [priced])])
    assert "not known: cost of x, tokens of x" in table and "fastest: x" in table


def test_models_has_no_empty_cells_and_probes_compatible_servers() -> None:
    import workbench as wb

    server = OpenAIServer(require_auth=False).start()
    try:
        config = Config.load(
            {
                "providers": {
                    "up": {"type": "compat", "base_url": server.base_url},
                    "down": {"type": "compat", "base_url": "http://127.0.0.1:9/v1"},
                }
            }
        )
        reset_session(Session(config, labbook=False))
        table = wb.models().set_index("name")
        unchecked = wb.models(probe=False).set_index("name")
    finally:
        server.stop()
    assert not table.isna().any().any(), "no NaN cells"
    assert table.loc["up:<model>", "status"] == "ready" and table.loc["up:<model>", "ready"]
    assert table.loc["down:<model>", "status"] == "not reachable at http://127.0.0.1:9/v1"
    assert not table.loc["down:<model>", "ready"]
    assert table.loc["ollama:<model>", "status"].startswith("not reachable")
    assert table.loc["gpt", "status"] == "no key: set OPENAI_API_KEY"
    assert table.loc["local", "status"] == "ready" and table.loc["local", "system"] == ""
    assert unchecked.loc["down:<model>", "status"] == "not checked"
