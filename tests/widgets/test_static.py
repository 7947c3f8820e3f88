"""The static HTML view, as a papermill output or GitHub shows it, mid-run and finished."""

from __future__ import annotations

from workbench.providers.base import Reply, ReplyError, Usage
from workbench.widgets.live import ColumnState
from workbench.widgets.static import panel_html


def test_a_snapshot_mid_run_shows_text_so_far_and_no_made_up_figures() -> None:
    streaming = ColumnState("local", "local:smollm2", samples=2)
    streaming.texts[0] = "Rayleigh *scattering*"
    streaming.statuses[1] = "sending…"
    failed = ColumnState("gpt", "openai:gpt-5.4")
    failed.replies[0] = Reply("gpt", "openai:gpt-5.4", error=ReplyError("MissingKey", "set <KEY>"))
    done = ColumnState("terse", "local:smollm2")
    done.replies[0] = Reply("terse", "local:smollm2", text="Blue.", usage=Usage(3, 2))
    page = panel_html(
        prompt="Why <blue>?",
        system=None,
        models=["local", "gpt", "terse"],
        columns=[streaming, failed, done],
        status="running…",
        spend="session spend $0.00000",
    )
    assert "Why &lt;blue&gt;?" in page and 'class="wb-grid"' in page
    assert "Rayleigh <em>scattering</em>" in page and "sending…" in page
    assert "sample 2" in page
    assert "<b>MissingKey</b>: set &lt;KEY&gt;" in page
    assert page.count("out tok") == 1 and "3 in / 2 out tok" in page
    assert page.index("local") < page.index("gpt") < page.index("terse")
