"""LiveRun keeps streamed text in time linear in its length (the panel and %%compare use it)."""

from __future__ import annotations

import asyncio
import time

from workbench.config import Config
from workbench.sessions import Session
from workbench.widgets.live import LiveRun


def stream(pieces: int) -> tuple[float, str]:
    """CPU seconds to take `pieces` streamed words (best of three), and the text a snapshot has."""
    session = Session(Config.load(), labbook=False)
    job = session.plan("hi", ["local"])[2][0]
    best, text = float("inf"), ""

    async def arrive(live: LiveRun) -> None:  # on the loop thread, as the runner calls it
        for _ in range(pieces):
            live.text(job, "lorem ")
        await asyncio.sleep(live.interval_s * 2)  # the redraw after the last piece

    for _ in range(3):
        live = LiveRun(session, "hi", ["local"], interval_s=0.01)
        start = time.process_time()
        asyncio.run(arrive(live))
        best = min(best, time.process_time() - start)
        text = live.columns["local"].texts[0]  # what the panel reads on a redraw
    session.close()
    return best, text


def test_a_long_answer_streams_in_linear_time() -> None:
    # Each piece used to copy the text so far (`texts[i] += piece`): a 5 MB answer, minutes.
    small, _ = stream(20_000)
    large, text = stream(80_000)
    assert text == "lorem " * 80_000
    assert large < 8 * small + 0.05, (small, large)  # quadratic: 16x
