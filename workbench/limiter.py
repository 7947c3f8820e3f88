"""Adaptive concurrency: how many calls one provider may have in flight, learned from its answers.

`AdaptiveLimit` replaces a fixed semaphore per provider. It starts at the configured
`concurrency` and moves between `min_concurrency` and `max_concurrency`:

- an answer that came while the limit was in use, with no 429 for a round trip, raises the
  limit by 1 / limit (about one more slot per round of answers: additive increase);
- a 429 cuts it, at most once per round trip (and only for a request sent after the last
  cut): by one slot when the provider still answered
  most requests since the last cut (a burst went over); to what the provider is seen to
  take when it refused more than it answered (the answers of the last `WINDOW_S` seconds
  per second times the round trip: the concurrency that carries that rate), or by half
  when nothing was answered yet. (Halving at every round with a 429, tried first, kept a
  server of 50 requests/s at 45 % of its rate, and 0.9 at 83 %: bench/README.md);
- a Retry-After (or a rate-limit reset with nothing remaining) pauses every new request to
  the provider until then: the server said when to come back, and the pause paces the
  requests while the limit is above what the provider takes. A successful answer whose
  rate-limit headers say a window is used up (`answered(slot, pause_s)`) pauses the same way,
  so the next request waits for the reset instead of drawing a 429.

Waiting for a slot or a pause is queueing (`queued_s`), never latency: the runner starts a
request's clock only when `acquire` returns. The decisions (`take`, `answered`, `limited`,
`free`) are plain methods on a clock that tests replace; `acquire` adds the waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_S = 2.0
"""How far back answers count when a 429 asks what rate the provider takes."""


@dataclass(frozen=True)
class Slot:
    """One request's place in flight, and when it was sent."""

    sent: float


class AdaptiveLimit:
    """Concurrency for one provider: additive increase, a cut on 429, pauses the server asks for."""

    def __init__(
        self,
        start: int,
        minimum: int = 1,
        maximum: int | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Start at `start` slots; never fewer than `minimum` nor more than `maximum` (= start)."""
        top = start if maximum is None else maximum
        if not 1 <= minimum <= start <= top:
            raise ValueError(f"need 1 <= minimum ({minimum}) <= start ({start}) <= maximum ({top})")
        self.minimum, self.maximum = minimum, top
        self.limit = float(start)
        self.in_flight = 0
        self.paused_until = float("-inf")
        self.cuts = 0
        """How many times a 429 cut the limit (figures for benchmarks and tests)."""
        self.refused = 0
        """How many requests the provider refused with a 429."""
        self.clock = clock
        self.round_trip = 0.0
        """Smoothed seconds from sending to an answer (0 until one came)."""
        self._answers: deque[float] = deque()
        self._cut_at = float("-inf")
        self._round = [0, 0]  # answered, refused since the last cut
        self._refused_at = float("-inf")
        self._waiters: deque[asyncio.Future[Slot]] = deque()
        self._timer: asyncio.TimerHandle | None = None

    @property
    def allowed(self) -> int:
        """Slots open now: the limit rounded down."""
        return max(self.minimum, int(self.limit))

    # -- decisions (no waiting) -----------------------------------------------------------

    def free(self) -> bool:
        """Whether a request may go now: a slot is open and no pause is in force."""
        return self.in_flight < self.allowed and self.clock() >= self.paused_until

    def take(self) -> Slot:
        """Occupy a slot (the caller checked `free`)."""
        self.in_flight += 1
        return Slot(self.clock())

    def answered(self, slot: Slot, pause_s: float | None = None) -> None:
        """The provider answered: one more slot per round of answers, while the limit is in use.

        `pause_s`: the answer said a rate-limit window is used up for that long (nothing
        remaining): no new request until then, as for a 429's Retry-After.
        """
        busy = self.in_flight >= self.allowed
        self.pause(pause_s)  # before the slot is handed on: the next request waits too
        self._leave()
        now = self.clock()
        took = now - slot.sent
        self.round_trip = took if not self.round_trip else 0.8 * self.round_trip + 0.2 * took
        self._answers.append(now)
        self._forget(now)
        self._round[0] += 1
        calm = now - self._refused_at >= self.round_trip  # no 429 for a round trip
        if busy and calm and self.limit < self.maximum:
            self.limit = min(float(self.maximum), self.limit + 1.0 / self.limit)

    def limited(
        self, slot: Slot, retry_after: float | None = None, remaining: int | None = None
    ) -> None:
        """The provider refused the request with a 429: cut the limit, pause if it said how long."""
        self.refused += 1
        self._round[1] += 1
        now = self._refused_at = self.clock()
        # One cut per round trip, and only for a request sent after the last cut
        if slot.sent > self._cut_at and now - self._cut_at >= self.round_trip:
            answered, refused = self._round
            self._cut_at, self._round = now, [0, 0]
            self.cuts += 1
            taken = self.carried()
            if taken is None:
                cut = self.limit / 2
            elif refused > answered:  # far over what the provider takes
                cut = min(self.limit - 1.0, taken)
            else:
                cut = self.limit - 1.0
            self.limit = max(float(self.minimum), cut)
        self.pause(retry_after if remaining in (None, 0) else None)
        self._leave()  # after the cut and the pause, or a waiter takes the slot and goes now

    def carried(self) -> float | None:
        """The concurrency that carries the rate answered lately (rate x round trip), if known."""
        now = self.clock()
        self._forget(now)
        if not self._answers:
            return None
        span = max(self.round_trip, now - self._answers[0])
        return len(self._answers) / span * self.round_trip

    def _forget(self, now: float) -> None:
        while self._answers and self._answers[0] < now - WINDOW_S:
            self._answers.popleft()

    def failed(self, slot: Slot) -> None:
        """The request ended otherwise (an error, a timeout, a cancel): the limit stays."""
        self._leave()

    def pause(self, seconds: float | None) -> None:
        """No new request for `seconds` (a Retry-After, or a rate-limit window's reset)."""
        if seconds is not None and seconds > 0:
            self.paused_until = max(self.paused_until, self.clock() + seconds)

    def _leave(self) -> None:
        self.in_flight -= 1
        self._wake()

    # -- waiting --------------------------------------------------------------------------

    async def acquire(self) -> Slot:
        """Wait for a slot (first come, first served) and take it."""
        if not self._waiters and self.free():
            return self.take()
        waiter: asyncio.Future[Slot] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._wake()
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # handed a slot as it was cancelled
                self.failed(waiter.result())
            else:
                self._waiters.remove(waiter)
            raise

    def _wake(self) -> None:
        """Hand open slots to the waiters in order; when paused, come back at the pause's end."""
        while self._waiters and self.free():
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(self.take())
        if self._waiters and self.in_flight < self.allowed and self._timer is None:
            delay = max(0.0, self.paused_until - self.clock())
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(delay, self._resume)

    def _resume(self) -> None:
        self._timer = None
        self._wake()
