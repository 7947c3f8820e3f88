"""Text as it arrives without a Listener: the `on_text` callback and `astream`."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.test_run import MODEL, session_for
from tests.wire.harness import Step
from workbench.streaming import Piece


def test_on_text_hears_every_provider_piece_by_piece(wire: dict[str, Any]) -> None:
    for server in wire.values():
        server.queue(Step(text="one two three four"))
    heard: dict[str, list[str]] = {}
    comparison = session_for(wire).compare(
        "count", list(MODEL.values()), on_text=lambda m, p: heard.setdefault(m, []).append(p)
    )
    for label in MODEL.values():
        assert len(heard[label]) >= 3
        assert "".join(heard[label]) == comparison[label].text == "one two three four"


def test_astream_yields_pieces_then_holds_the_comparison(wire: dict[str, Any]) -> None:
    for server in wire.values():
        server.queue(Step(text="alpha beta gamma"))
    session = session_for(wire)

    async def scenario() -> tuple[list[Piece], Any]:
        stream = session.astream(["first", "second"], list(MODEL.values()))
        assert stream.comparison is None
        pieces = [piece async for piece in stream]
        await session.aclose()
        return pieces, stream.comparison

    pieces, comparison = asyncio.run(scenario())
    assert comparison is not None and not comparison.errors
    for label in MODEL.values():
        for index in (0, 1):
            text = "".join(p.text for p in pieces if p.model == label and p.prompt_index == index)
            assert text == comparison.reply(label, prompt=index).text != ""


def test_aclose_after_leaving_the_loop_early_cancels_the_calls(wire: dict[str, Any]) -> None:
    wire["openai"].queue(Step(text="fast answer"))
    wire["anthropic"].queue(Step(hang=True))
    session = session_for(wire)

    async def scenario() -> tuple[Piece, Any, float]:
        stream = session.astream("hello", ["openai:gpt-test", "anthropic:claude-test"])
        loop = asyncio.get_running_loop()
        piece = await anext(aiter(stream))
        started = loop.time()
        await stream.aclose()
        waited = loop.time() - started
        await session.aclose()
        return piece, stream.comparison, waited

    piece, comparison, waited = asyncio.run(scenario())
    assert piece.model == "openai:gpt-test"
    assert comparison is None  # stopped before it finished
    assert waited < 2  # the hung call was cancelled, not waited out
    assert session.labbook is not None
    calls = {r["model"]: r["reply"] for r in session.labbook.records() if r["kind"] == "call"}
    assert calls["anthropic:claude-test"]["error"]["type"] == "Cancelled"
