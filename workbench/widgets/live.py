"""A comparison running in the background: its answers so far, cancellation, and batched updates.

`LiveRun.start` sends one prompt to several models on a shared background event loop (so
the kernel stays free), keeps each model's text as it streams in, and calls `on_change`
with the labels whose columns changed, at most every `interval_s` (and once more at the
end). The panel and the `%%compare` magic both build on it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.loop import BackgroundLoop
from workbench.providers.base import Reply
from workbench.run import Job, Listener, Runner

if TYPE_CHECKING:
    from workbench.comparison import Comparison
    from workbench.errors import ProviderError
    from workbench.sessions import Session

INTERVAL_S = 0.05
"""How often, at most, the columns are redrawn while answers stream in."""

_LOOP = BackgroundLoop("workbench-widgets")


def live_loop() -> BackgroundLoop:
    """The loop every panel and magic run is sent on."""
    return _LOOP


@dataclass
class ColumnState:
    """What one model's column shows: per sample, the text so far, a status, the final reply."""

    label: str
    resolved: str
    samples: int = 1
    texts: list[str] = field(init=False)
    statuses: list[str] = field(init=False)
    replies: list[Reply | None] = field(init=False)
    pieces: list[list[str]] = field(init=False, repr=False)
    """Pieces streamed since the last `settle` (`texts[i] += piece` copied the text each time)."""
    record_ids: list[str | None] = field(init=False)
    """Each sample's call record id, once it is durable in the lab notebook."""

    def __post_init__(self) -> None:
        self.texts = [""] * self.samples
        self.statuses = ["waiting…"] * self.samples
        self.replies = [None] * self.samples
        self.pieces = [[] for _ in range(self.samples)]
        self.record_ids = [None] * self.samples

    def settle(self) -> None:
        """Add the pieces streamed since the last call to `texts`: once a redraw, not a piece."""
        for i, pieces in enumerate(self.pieces):
            if pieces:
                self.texts[i] += "".join(pieces)
                pieces.clear()

    def copy(self) -> ColumnState:
        """A copy whose lists later updates do not change."""
        self.settle()
        state = ColumnState(self.label, self.resolved, self.samples)
        state.texts, state.statuses = list(self.texts), list(self.statuses)
        state.replies = list(self.replies)
        state.record_ids = list(self.record_ids)
        return state


class LiveRun(Listener):
    """One comparison in flight: start it, watch it, stop it, wait for it."""

    def __init__(
        self,
        session: Session,
        prompt: str,
        models: Sequence[str],
        *,
        on_change: Callable[[set[str]], None] | None = None,
        interval_s: float = INTERVAL_S,
        after: Comparison | None = None,
        **options: Any,
    ) -> None:
        """Plan the run (bad names and parameters raise here, before anything is sent)."""
        self.session = session
        self.prompt = prompt
        self.options = options
        self.after = after
        if after is None:
            _, self.labels, jobs = session.plan(prompt, list(models), **_plan_options(options))
            samples = int(options.get("samples", 1))
        else:  # a follow-up: each model's own conversation, one turn longer
            planned = _plan_options(options)
            _, self.labels, jobs = session.plan_follow_up(after, prompt, **planned)
            samples = after.samples
        self.jobs = jobs
        self.samples = samples
        self.columns = {
            j.spec.label: ColumnState(j.spec.label, j.spec.full_name, samples) for j in jobs
        }
        self.on_change = on_change
        self.interval_s = interval_s
        self.comparison: Comparison | None = None
        self.error: BaseException | None = None
        self.started_at: float | None = None
        self.elapsed_s: float | None = None
        self._runner = Runner(session.config)
        self._future: Future[None] | None = None
        self._finished = threading.Event()
        self._lock = threading.Lock()
        self._dirty: set[str] = set()
        self._scheduled = False
        """Whether a redraw is already due (the changes that follow wait for it)."""

    # -- control -------------------------------------------------------------------------

    def start(self, then: Callable[[LiveRun], None] | None = None) -> LiveRun:
        """Send every call in the background; `then(self)` runs on the loop when all are done."""
        self.started_at = time.perf_counter()
        self._future = asyncio.run_coroutine_threadsafe(self._go(then), _LOOP.loop)
        return self

    def stop(self) -> None:
        """Cancel the calls in flight; each ends as a Cancelled reply (text so far kept)."""
        loop = _LOOP.running_loop
        if loop is not None and not self._finished.is_set():
            loop.call_soon_threadsafe(self._runner.cancel)

    def wait(self, timeout: float | None = None) -> Comparison:
        """Block until the run and its `then` are done; the Comparison, or the error raised."""
        if not self._finished.wait(timeout):
            raise TimeoutError(f"the comparison was still running after {timeout} s")
        if self.error is not None:
            raise self.error
        assert self.comparison is not None
        return self.comparison

    def snapshot(self) -> list[ColumnState]:
        """Every column as it is now, copied under the lock: safe to read from any thread."""
        with self._lock:
            return [state.copy() for state in self.columns.values()]

    @property
    def running(self) -> bool:
        """True from `start` until everything (including `then`) is done."""
        return self._future is not None and not self._finished.is_set()

    async def _go(self, then: Callable[[LiveRun], None] | None) -> None:
        try:
            if self.after is not None:
                self.comparison = await self.session.afollow_up(
                    self.after, self.prompt, listener=self, runner=self._runner, **self.options
                )
            else:
                self.comparison = await self.session.acompare(
                    self.prompt, self.labels, listener=self, runner=self._runner, **self.options
                )
        except BaseException as e:  # shown by whoever waits; never lost in the loop thread
            self.error = e
        finally:
            self.elapsed_s = time.perf_counter() - (self.started_at or time.perf_counter())
            try:
                self._flush()
                if then is not None:
                    then(self)
            finally:
                self._finished.set()

    # -- Listener: called on the loop thread -------------------------------------------------

    def started(self, job: Job) -> None:
        """The call is under way."""
        self._update(job, status="sending…")

    def text(self, job: Job, piece: str) -> None:
        """Add a streamed piece to the model's column."""
        column = self.columns[job.spec.label]
        with self._lock:
            column.pieces[job.sample].append(piece)
            column.statuses[job.sample] = ""
        self._touch(job.spec.label)

    def retrying(self, job: Job, error: ProviderError, wait_s: float) -> None:
        """Drop the void text and say why the column waits."""
        with self._lock:
            self.columns[job.spec.label].texts[job.sample] = ""
            self.columns[job.spec.label].pieces[job.sample].clear()
        self._update(job, status=f"{type(error).__name__}; retrying in {wait_s:.1f} s")

    def finished(self, job: Job, reply: Reply) -> None:
        """Keep the final reply; learn its record id as soon as the record is durable."""
        with self._lock:
            self.columns[job.spec.label].replies[job.sample] = reply
        self._touch(job.spec.label)
        # The session's recording listener (it wraps this one) has just handed the call to
        # the recorders; their futures resolve on the writer thread once the record is
        # fsync'd. (A `Listener.recorded(job, record)` event would say this without looking
        # at the wrapper: asked of the lead.)
        futures = getattr(self._runner.listener, "futures", {}).get(job) or []
        if futures:
            loop = asyncio.get_running_loop()
            futures[0].add_done_callback(lambda f: loop.call_soon_threadsafe(self._written, job, f))

    def _written(self, job: Job, future: Future[dict[str, Any]]) -> None:
        """On the loop: a call's record is durable (or failed to be written: not judgeable)."""
        if future.cancelled() or future.exception() is not None:
            return
        self.recorded(job, future.result())

    def recorded(self, job: Job, record: dict[str, Any]) -> None:
        """The call's record is in the lab notebook: its column can be judged."""
        with self._lock:
            self.columns[job.spec.label].record_ids[job.sample] = str(record["id"])
        self._touch(job.spec.label)

    def _update(self, job: Job, *, status: str) -> None:
        with self._lock:
            self.columns[job.spec.label].statuses[job.sample] = status
        self._touch(job.spec.label)

    def _touch(self, label: str) -> None:
        """Mark a column changed and redraw within `interval_s`."""
        with self._lock:
            self._dirty.add(label)
            if self._scheduled:
                return
            self._scheduled = True
        try:
            asyncio.get_running_loop().call_later(self.interval_s, self._flush)
        except RuntimeError:  # called off a loop (a listener driven by hand): redraw now
            self._flush()

    def _flush(self) -> None:
        with self._lock:
            changed, self._dirty, self._scheduled = self._dirty, set(), False
            for label in changed:
                self.columns[label].settle()
        if changed and self.on_change is not None:
            self.on_change(changed)


def _plan_options(options: dict[str, Any]) -> dict[str, Any]:
    """The options `Session.plan` takes (the rest are for running the calls)."""
    from workbench.options import split

    return split(options)[0]  # type: ignore[arg-type]
