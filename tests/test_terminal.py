"""The CLI's live side-by-side table: text kept as it streams in, in time linear in its size."""

from __future__ import annotations

import io
import time

from rich.console import Console
from rich.live import Live

from workbench.providers.base import Prompt, Reply
from workbench.providers.registry import ModelSpec
from workbench.run import Job
from workbench.terminal import LiveColumns

JOB = Job.plan(ModelSpec("m", "openai", "gpt-test"), Prompt.of("hi"))


def stream(pieces: int, *, live: bool) -> float:
    """CPU seconds to take `pieces` streamed words into a view (best of three)."""
    best = float("inf")
    for _ in range(3):
        view = LiveColumns(["m"])
        console = Console(file=io.StringIO(), force_terminal=True, width=80, height=24)
        display = Live(view, console=console, refresh_per_second=8)
        if live:
            display.start()
        start = time.process_time()
        view.started(JOB)
        for _ in range(pieces):
            view.text(JOB, "lorem ")
        best = min(best, time.process_time() - start)
        if live:
            display.stop()
    return best


def test_streamed_text_is_kept_whole_and_in_order() -> None:
    view = LiveColumns(["m"])
    view.started(JOB)
    for piece in ("The ", "sky ", "is ", "blue."):
        view.text(JOB, piece)
    assert view.so_far(JOB) == "The sky is blue."
    view.finished(JOB, Reply("m", "openai:gpt-test", text="The sky is blue."))
    out = Console(file=io.StringIO(), width=60)
    out.print(view.render())
    assert "The sky is blue." in out.file.getvalue()  # type: ignore[attr-defined]


def test_a_long_answer_streams_in_linear_time() -> None:
    # A 5 MB answer (an echo of a 5 MB prompt) took minutes: each piece copied the text so
    # far, and on a terminal each piece re-parsed all of it as Markdown.
    for live in (False, True):
        small, large = stream(20_000, live=live), stream(80_000, live=live)
        assert large < 8 * small + 0.05, (live, small, large)  # quadratic: 16x


def test_the_live_table_shows_the_tail_of_a_long_answer() -> None:
    view = LiveColumns(["m"])
    view.started(JOB)
    for i in range(50_000):
        view.text(JOB, f"w{i} ")
    out = Console(file=io.StringIO(), width=80)
    out.print(view)  # what Live draws at each refresh
    shown = out.file.getvalue()  # type: ignore[attr-defined]
    assert "w49999" in shown and "w0 " not in shown and len(shown) < 20_000
