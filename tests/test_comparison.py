"""Comparison tables and the side-by-side HTML view, from real calls to the wire servers."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from tests.conftest import wire_config
from tests.wire.harness import Step
from workbench.sessions import Session

MODELS = ["openai:gpt-test", "anthropic:claude-test", "gemini:gemini-test"]


def session_for(wire: dict[str, Any]) -> Session:
    return Session(wire_config(wire))  # type: ignore[arg-type]


def test_several_prompts_by_several_models_give_a_tidy_frame_and_a_pivot(
    wire: dict[str, Any],
) -> None:
    prompts = ["one", "two", "three"]
    comparison = session_for(wire).compare(prompts, MODELS, samples=2, temperature=0)
    frame = comparison.to_frame()
    assert len(frame) == 3 * 3 * 2
    assert frame["model"].dtype == "category" and list(frame["model"].cat.categories) == MODELS
    assert isinstance(frame["started_at"].dtype, pd.DatetimeTZDtype)
    assert frame["ok"].all()
    first = frame[(frame["prompt"] == "two") & (frame["model"] == "anthropic:claude-test")]
    assert list(first["sample"]) == [0, 1] and set(first["text"]) == {"echo: two"}
    assert (frame["params"].map(lambda p: p["temperature"]) == 0).all()
    table = comparison.pivot()
    assert list(table.index) == prompts and list(table.columns) == MODELS
    assert table.loc["three", "gemini:gemini-test"] == "echo: three"
    costs = comparison.pivot("cost_usd")
    assert costs.notna().all().all()


def test_reply_lookup_by_model_prompt_and_sample(wire: dict[str, Any]) -> None:
    comparison = session_for(wire).compare(["a", "b"], MODELS[:2], samples=2)
    assert comparison.reply("anthropic:claude-test", prompt=1, sample=1).text == "echo: b"
    assert comparison["openai:gpt-test"].text == "echo: a"
    with pytest.raises(KeyError, match="'gpt' is not in this comparison"):
        comparison["gpt"]


def test_the_html_view_puts_models_side_by_side_with_figures_and_errors(
    wire: dict[str, Any],
) -> None:
    wire["openai"].queue(Step(text="**bold** <script>alert(1)</script>\n\n```python\nx = 1\n```"))
    wire["gemini"].queue(Step(status=400))
    html = session_for(wire).compare("show me", MODELS)._repr_html_()
    assert "grid-template-columns:repeat(3," in html
    assert (
        html.index("openai:gpt-test")
        < html.index("anthropic:claude-test")
        < html.index("gemini:gemini-test")
    )
    assert "<strong>bold</strong>" in html
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '<code class="language-python">' in html
    assert "BadRequest" in html and 'class="wb-error"' in html
    assert " tok" in html and "first token" in html and "$0.0" in html
    # every "$" of a cost sits inside the element MathJax is told to leave alone
    body = html[html.index('<div class="wb-cmp tex2jax_ignore mathjax_ignore">') :]
    assert html.count("$") == body.count("$") > 1


def test_repr_summarises_outcomes(wire: dict[str, Any]) -> None:
    wire["gemini"].queue(Step(status=401))
    text = repr(session_for(wire).compare("x", MODELS))
    assert text.startswith("<Comparison 1 prompt(s) x 3 model(s)")
    assert "gemini:gemini-test: AuthenticationFailed" in text
