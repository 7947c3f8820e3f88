"""The panel without a browser: real wire servers behind the real SDKs, buttons clicked."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from typing import Any

import pytest

from tests.conftest import wire_config
from tests.wire.harness import Step
from workbench.sessions import Session
from workbench.widgets.panel import Panel, panel

MODELS = ["openai:gpt-test", "anthropic:claude-test", "gemini:gemini-test"]


@pytest.fixture
def session(wire: dict[str, Any]) -> Session:
    return Session(wire_config(wire))  # type: ignore[arg-type]


def records(session: Session, kind: str) -> list[dict[str, Any]]:
    assert session.labbook is not None
    return [r for r in session.labbook.records() if r["kind"] == kind]


def run(p: Panel, prompt: str) -> None:
    p.controls.prompt.value = prompt
    p.run_button.click()
    p.wait(30)


def test_run_fills_every_column_and_records_every_call(session: Session) -> None:
    p = panel(MODELS, session=session)
    assert [c.box._dom_classes for c in p.columns] == [
        ("wb-column", f"wb-column-{i}") for i in range(3)
    ]
    run(p, "hello there")
    for column in p.columns:
        assert "<p>echo: hello there</p>" in column.answer.value
        assert "tok" in column.stats.value and "first token" in column.stats.value
        assert not column.decisions.pick.disabled
    assert "3 call(s) recorded" in p.status.value
    calls = records(session, "call")
    assert sorted(r["model"] for r in calls) == sorted(MODELS)
    assert {r["reply"]["text"] for r in calls} == {"echo: hello there"}
    assert p.run_button.disabled is False and p.stop_button.disabled is True
    spent = session.budget.spent_usd
    assert spent > 0 and f"${spent:.5f}" in p.spend.value and "no cap" in p.spend.value


def test_the_spend_line_shows_the_budget_left_and_a_refusal_stays_in_its_column(
    wire: dict[str, Any],
) -> None:
    capped = Session(wire_config(wire), budget_usd=5.0)  # type: ignore[arg-type]
    p = panel(["openai:gpt-test"], session=capped)
    assert "$5.0000 left" in p.spend.value
    run(p, "cheap")
    left = capped.budget.left_usd
    assert left is not None and 0 < left < 5 and f"${left:.4f} left" in p.spend.value
    p.controls.max_tokens.value = "100000"  # could cost more than is left: refused, not sent
    sent = len(wire["openai"].requests)
    run(p, "dear")
    assert "BudgetExceeded" in p.columns[0].answer.value
    assert len(wire["openai"].requests) == sent


def test_pick_reject_and_note_buttons_record_linked_decisions(session: Session) -> None:
    p = panel(MODELS, session=session)
    run(p, "pick one")
    assert p.comparison is not None
    ids = {m: p.comparison.record_id(m) for m in MODELS}

    bar = p.columns[1].decisions
    bar.text.value = "clearest"
    bar.tags.value = "good, short"
    bar.pick.click()
    assert "recorded" in p.status.value
    picked = records(session, "decision")[-1]
    assert picked["id"] in p.status.value
    assert picked["data"] == {"verdict": "pick", "choice": ids[MODELS[1]], "reason": "clearest"}
    assert sorted(picked["links"]) == sorted(ids.values())
    assert picked["tags"] == ["good", "short"]
    assert bar.said.value == f"✓ picked · {picked['id'][-8:]}"
    assert [c.decisions.said.value for c in p.columns[::2]] == ["", ""]

    bar = p.columns[2].decisions
    bar.reject.click()  # no reason given: nothing recorded, and the status says what to do
    assert p.status_text.startswith("not recorded: say why")
    assert len(records(session, "decision")) == 1
    bar.text.value = "made up"
    bar.reject.click()
    rejected = records(session, "decision")[-1]
    assert rejected["data"]["verdict"] == "reject" and rejected["links"] == [ids[MODELS[2]]]
    assert rejected["data"]["reason"] == "made up"

    bar = p.columns[0].decisions
    bar.text.value = ""
    bar.tags.value = "baseline"
    bar.note.click()
    note = records(session, "note")[-1]
    assert note["links"] == [ids[MODELS[0]]] and note["tags"] == ["baseline"]
    assert f"recorded {note['id']}" in p.status.value


def test_a_failing_model_shows_its_error_in_its_column_only(
    session: Session, wire: dict[str, Any]
) -> None:
    wire["anthropic"].queue(Step(status=400))
    p = panel(MODELS, session=session)
    run(p, "hi")
    failed, *fine = [p.columns[1], p.columns[0], p.columns[2]]
    assert "wb-error" in failed.answer.value and "BadRequest" in failed.answer.value
    assert failed.decisions.pick.disabled and not failed.decisions.reject.disabled
    for column in fine:
        assert "wb-error" not in column.answer.value and "echo: hi" in column.answer.value
        assert not column.decisions.pick.disabled
    assert "1 error(s)" in p.status.value
    errors = [r for r in records(session, "call") if r["reply"]["error"]]
    assert [r["model"] for r in errors] == ["anthropic:claude-test"]


def test_stop_cancels_a_slow_model_and_keeps_the_others(
    session: Session, wire: dict[str, Any]
) -> None:
    wire["openai"].queue(Step(hang=True))
    p = panel(["openai:gpt-test", "gemini:gemini-test"], session=session)
    p.controls.prompt.value = "slow"
    start = time.perf_counter()
    p.run_button.click()
    assert time.perf_counter() - start < 2, "Run blocked the kernel"
    assert p.run_button.disabled and not p.stop_button.disabled
    deadline = time.perf_counter() + 10
    while "echo: slow" not in p.columns[1].answer.value and time.perf_counter() < deadline:
        time.sleep(0.02)
    p.stop_button.click()
    comparison = p.wait(10)
    assert time.perf_counter() - start < 10
    assert comparison["openai:gpt-test"].error is not None
    assert comparison["openai:gpt-test"].error.type == "Cancelled"
    assert "Cancelled" in p.columns[0].answer.value
    assert comparison["gemini:gemini-test"].ok
    assert "wb-error" not in p.columns[1].answer.value
    cancelled = [r for r in records(session, "call") if r["reply"]["error"]]
    assert [r["reply"]["error"]["type"] for r in cancelled] == ["Cancelled"]
    assert not p.run_button.disabled


def test_bad_input_says_what_to_do_and_sends_nothing(
    session: Session, wire: dict[str, Any]
) -> None:
    p = panel(["openai:gpt-test", "nope:x"], session=session)
    assert "unknown" in p.controls.models.options[1][0]
    p.run_button.click()
    assert p.status_text == "the prompt is empty: type something to send"
    p.controls.prompt.value = "hi"
    p.run_button.click()
    assert p.status_text.startswith("unknown model 'nope:x'")
    p.controls.choose(["openai:gpt-test"])
    p.controls.temperature.value = "warm"
    p.run_button.click()
    assert "temperature must be a number" in p.status.value
    assert not wire["openai"].requests and p.live is None


def test_parameters_and_samples_reach_the_calls(session: Session, wire: dict[str, Any]) -> None:
    p = panel(["openai:gpt-test", "gemini:gemini-test"], session=session, temperature=0.5)
    p.controls.max_tokens.value = "40"
    p.controls.samples.value = 2
    p.controls.system.value = "Be brief."
    run(p, "params")
    sent = [r.body for r in wire["openai"].requests]
    assert len(sent) == 2
    assert {b["temperature"] for b in sent} == {0.5}
    assert sent[0]["messages"][0] == {"role": "system", "content": "Be brief."}
    assert p.columns[0].answer.value.count("echo: params") == 2
    assert "sample 2" in p.columns[0].answer.value
    calls = records(session, "call")
    assert sorted(r["prompt"]["sample"] for r in calls) == [0, 0, 1, 1]
    assert {r["prompt"]["params"]["max_tokens"] for r in calls} == {40}

    bar = p.columns[1].decisions  # with samples, the bar chooses which answer it judges
    assert bar.sample.layout.display is None and bar.sample.options[1] == ("sample 2", 1)
    bar.sample.value = 1
    bar.pick.click()
    assert p.status_text.endswith("pick gemini:gemini-test sample 2")
    assert p.comparison is not None
    picked = records(session, "decision")[-1]
    assert picked["data"]["choice"] == p.comparison.record_id("gemini:gemini-test", 0, 1)
    assert len(picked["links"]) == 4
    bar.text.value = "repeats itself"
    bar.reject.click()
    rejected = records(session, "decision")[-1]
    assert rejected["links"] == [p.comparison.record_id("gemini:gemini-test", 0, 1)]


def test_wb_models_stays_callable_after_a_panel_imports_the_models_package() -> None:
    import workbench as wb

    wb.panel(["local"])
    assert list(wb.models()["name"])[:3] == ["claude", "gemini", "gpt"]


def test_answers_render_as_markdown_with_code_highlighted_and_html_escaped(
    session: Session, wire: dict[str, Any]
) -> None:
    wire["openai"].responder = lambda request: (
        "Use **this**:\n\n```python\ndef f(x):\n    return x + 1\n```\n\n<script>alert(1)</script>"
    )
    p = panel(["openai:gpt-test"], session=session)
    run(p, "code please")
    shown = p.columns[0].answer.value
    assert "<strong>this</strong>" in shown
    assert '<pre class="wb-code"><code class="language-python">' in shown
    assert '<span class="k">def</span>' in shown  # Pygments marked the keyword
    assert "<script>" not in shown and "&lt;script&gt;" in shown


def test_a_model_without_its_key_is_marked_and_fails_in_its_column_only() -> None:
    p = panel(["gpt", "terse"], max_tokens=4)
    labels = dict((name, label) for label, name in p.controls.models.options)
    assert labels["gpt"].endswith("no key: set OPENAI_API_KEY")
    assert "no key" not in labels["terse"]
    run(p, "Say hi.")
    gpt, terse = p.columns
    assert "MissingKey" in gpt.answer.value and "OPENAI_API_KEY" in gpt.answer.value
    assert "wb-error" not in terse.answer.value and "out tok" in terse.stats.value
    assert gpt.decisions.pick.disabled and not terse.decisions.pick.disabled


def test_dollar_amounts_stay_text_not_latex(session: Session) -> None:
    """JupyterLab's MathJax would typeset "$5 and $10"; every HTML part of the panel opts out."""
    p = panel(MODELS[:1], session=session)
    run(p, "costs $5 and $10")
    ignore = '<div class="tex2jax_ignore mathjax_ignore">'
    column = p.columns[0]
    for value in (column.answer.value, column.stats.value, p.spend.value, p.status.value):
        assert value.startswith(ignore) and value.endswith("</div>")
    assert "echo: costs $5 and $10" in column.answer.value


def test_the_panel_imports_its_models_sdks_before_the_first_run(session: Session) -> None:
    code = textwrap.dedent(
        """
        import sys
        from workbench.config import Config
        from workbench.sessions import Session
        from workbench.widgets.panel import panel
        config = Config.load({"providers": {"anthropic": {"base_url": "http://127.0.0.1:9"}}})
        assert "anthropic" not in sys.modules
        p = panel(["anthropic:claude-test"], session=Session(config, labbook=False))
        p.warming.result(timeout=60)
        assert "anthropic" in sys.modules, "the SDK was not imported ahead of the first run"
        """
    )
    env = {**os.environ, "ANTHROPIC_API_KEY": "k"}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=120)


def test_a_total_over_replies_of_unknown_cost_says_it_is_partial(
    wire: dict[str, Any],
) -> None:
    from tests.wire.openai_server import OpenAIServer
    from workbench.config import Config

    # A compat server with a price set in config that answers without usage: cost unknown.
    lab = OpenAIServer(require_auth=False).start()
    price = {"input": 1000.0, "output": 1000.0}
    config = Config.load(
        {
            "providers": {
                "anthropic": {"base_url": wire["anthropic"].base_url},
                "lab": {"type": "compat", "base_url": lab.base_url},
            },
            "prices": {"lab:m": price, "anthropic:claude-test": price},
            "run": {"retries": 0},
        }
    )
    lab.queue(Step(no_usage=True))
    p = panel(["lab:m", "anthropic:claude-test"], session=Session(config))
    try:
        run(p, "hello")
    finally:
        lab.stop()
    comparison = p.live.comparison  # type: ignore[union-attr]
    assert comparison is not None and comparison.cost_unknown == 1
    assert "+ 1 reply of unknown cost" in p.spend.value
    assert "estimated" in p.spend.value  # the session's spend says part of it is a guess
    assert "+ 1 reply of unknown cost" in comparison._repr_html_()


def test_the_follow_up_box_continues_each_models_conversation(session: Session) -> None:
    p = panel(MODELS[:2], session=session)
    assert p.follow_button.disabled  # nothing to follow up yet
    run(p, "Capital of France?")
    assert not p.follow_button.disabled
    first = p.comparison
    assert first is not None
    p.follow_text.value = "And in one word?"
    p.follow_button.click()
    p.wait(30)
    second = p.comparison
    assert second is not None and second is not first
    assert [j.parent for j in second.jobs] == list(first.record_ids)
    assert all(len(j.prompt.turns) == 3 for j in second.jobs)
    assert p.follow_text.value == "" and "And in one word?" in p.columns[0].answer.value


def test_attached_files_and_reasoning_reach_the_calls(session: Session) -> None:
    from datetime import UTC, datetime

    p = panel(["local", MODELS[0]], session=session)
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 32
    upload = {"name": "fig.png", "type": "", "size": len(png), "content": memoryview(png)}
    p.controls.attach.value = ({**upload, "last_modified": datetime.now(UTC)},)
    p.controls.reasoning.value = "high"
    p.controls.prompt.value = "What is in the figure?"
    _, _, options = p.controls.request()
    assert options["reasoning"] == "high"
    [file] = options["files"]
    assert (file.name, file.media_type, file.data) == ("fig.png", "image/png", png)
    run(p, "What is in the figure?")
    local = p.live.comparison["local"]  # type: ignore[union-attr]
    assert local.error is not None and local.error.type == "Unsupported"
    assert "Unsupported" in p.columns[0].answer.value
