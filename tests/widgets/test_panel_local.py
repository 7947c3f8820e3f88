"""The panel on the embedded local model: columns fill as tokens stream; the static view."""

from __future__ import annotations

import re
from typing import Any

import workbench as wb
from workbench.widgets.panel import Panel


def word(text: str) -> str:
    return re.findall(r"[A-Za-z]{3,}", text)[0]


def test_local_columns_fill_while_streaming_and_the_pick_is_recorded() -> None:
    p = wb.panel(models=["local", "terse"], max_tokens=24)
    assert isinstance(p, Panel)
    assert p.box._dom_classes == ("wb-panel",)
    assert p.controls.prompt._dom_classes == ("wb-prompt",)
    assert p.run_button.description == "Run" and "wb-run" in p.run_button._dom_classes
    assert "wb-stop" in p.stop_button._dom_classes
    seen: list[str] = []
    p.columns[0].answer.observe(lambda change: seen.append(change["new"]), names="value")
    p.controls.prompt.value = "Name three colours."
    p.run_button.click()
    comparison = p.wait(120)
    final = p.columns[0].answer.value
    assert comparison["local"].ok and comparison["local"].text
    assert final == seen[-1] and word(comparison["local"].text) in final
    partial = [v for v in seen if v and v != final and "wb-waiting" not in v]
    assert len(partial) >= 2, f"the column did not fill as tokens streamed: {seen}"
    for column in p.columns:
        assert "wb-answer" in column.answer._dom_classes and "wb-stats" in column.stats._dom_classes
        assert "out tok" in column.stats.value
    pick = p.columns[0].decisions.pick
    assert pick.description == "pick" and "wb-pick" in pick._dom_classes
    pick.click()
    assert "wb-status" in p.status._dom_classes and "recorded" in p.status.value
    log = wb.log.to_frame()
    assert list(log[log["kind"] == "call"]["model"].astype(str)) == ["local", "terse"]
    decision = log[log["kind"] == "decision"].iloc[0]
    assert decision["verdict"] == "pick" and decision["choice"] == comparison.record_id("local")


def test_the_display_carries_a_readable_static_html_view() -> None:
    p = wb.panel(models=["local", "terse"], max_tokens=8)
    bundle: dict[str, Any] = p._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "nothing run yet" in bundle["text/html"] and "local, terse" in bundle["text/html"]
    p.run("Say <b>hi</b>")
    comparison = p.wait(120)
    html = p._repr_mimebundle_()["text/html"]
    assert 'class="wb-grid"' in html and "Say &lt;b&gt;hi&lt;/b&gt;" in html
    for reply in comparison:
        assert word(reply.text) in html
    assert "call(s) recorded" in html and "session spend" in html
    assert p.static().data == p.static_html()
