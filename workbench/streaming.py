"""Text as it arrives, for code that wants it without writing a Listener.

wb.compare("...", models=["gpt", "local"], on_text=lambda model, piece: print(piece))

stream = wb.astream("...", models=["gpt", "local"])
async for piece in stream:          # Piece(model, text, prompt_index, sample)
    print(piece.model, piece.text)
stream.comparison                   # the finished Comparison, once the loop ends
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.run import Forwarding, Job, Listener

if TYPE_CHECKING:
    from workbench.comparison import Comparison

TextCallback = Callable[[str, str], object]
"""Called with (model label, piece of text) as each piece arrives."""


@dataclass(frozen=True)
class Piece:
    """A piece of one answer: which model, which prompt and sample, and the text."""

    model: str
    text: str
    prompt_index: int = 0
    sample: int = 0


class CallbackListener(Forwarding):
    """Passes each piece of text to a callback, then on to the wrapped listener, if any."""

    def __init__(self, callback: TextCallback, inner: Listener | None = None) -> None:
        super().__init__(inner)
        self.callback = callback

    def text(self, job: Job, piece: str) -> None:
        """Hand the piece to the callback, then pass it on."""
        self.callback(job.spec.label, piece)
        super().text(job, piece)


class Stream:
    """An async iterator of Pieces while a comparison runs; `.comparison` once it is over."""

    def __init__(self, start: Callable[[Listener], Coroutine[Any, Any, Comparison]]) -> None:
        self._start = start
        self._iterator: AsyncGenerator[Piece, None] | None = None
        self.comparison: Comparison | None = None

    def __aiter__(self) -> AsyncIterator[Piece]:
        if self._iterator is None:
            self._iterator = self._pieces()
        return self._iterator

    async def aclose(self) -> None:
        """Stop early: the calls still in flight become Cancelled replies (and are recorded)."""
        if self._iterator is not None:
            await self._iterator.aclose()

    async def _pieces(self) -> AsyncGenerator[Piece, None]:
        queue: asyncio.Queue[Piece] = asyncio.Queue()

        class _Enqueue(Listener):
            def text(self, job: Job, piece: str) -> None:
                queue.put_nowait(Piece(job.spec.label, piece, job.prompt_index, job.sample))

        task = asyncio.ensure_future(self._start(_Enqueue()))
        try:
            while not (task.done() and queue.empty()):
                getter = asyncio.ensure_future(queue.get())
                await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
                if getter.done():
                    yield getter.result()
                else:
                    getter.cancel()
            self.comparison = task.result()
        finally:  # the consumer stopped early: stop the calls (each becomes a Cancelled reply)
            if not task.done():
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
