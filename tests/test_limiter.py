"""The adaptive limit on a fake clock: increase, cuts on 429, pauses, bounds; then waiting."""

from __future__ import annotations

import asyncio
import time

import pytest

from workbench.limiter import AdaptiveLimit, Slot


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def fill(limit: AdaptiveLimit) -> list[Slot]:
    slots = []
    while limit.free():
        slots.append(limit.take())
    return slots


def test_it_starts_at_concurrency_and_grows_one_slot_per_round_of_answers_up_to_the_top() -> None:
    limit = AdaptiveLimit(4, 1, 6, clock=Clock())
    slots = fill(limit)
    assert len(slots) == 4
    for _ in range(5):  # a round of answers (and a bit), every slot busy each time
        limit.answered(slots.pop())
        slots += fill(limit)
    assert limit.allowed == 5 and len(slots) == 5
    for _ in range(50):
        limit.answered(slots.pop())
        slots += fill(limit)
    assert limit.allowed == 6 and limit.limit == 6.0  # never past max_concurrency


def test_answers_while_slots_stand_idle_do_not_grow_the_limit() -> None:
    limit = AdaptiveLimit(4, 1, 64, clock=Clock())
    for _ in range(100):
        limit.answered(limit.take())  # one call at a time: the limit is not what holds it back
    assert limit.allowed == 4


def answer_for(limit: AdaptiveLimit, clock: Clock, seconds: float, every: float) -> None:
    """Keep every slot busy, answering one request each `every` seconds, each after 0.2 s."""
    slots = fill(limit)
    for _ in range(round(seconds / every)):
        clock.now += every
        slot = slots.pop(0)
        limit.answered(Slot(clock.now - 0.2))
        del slot
        slots += fill(limit)


def test_a_first_429_with_nothing_answered_yet_halves_the_limit_once_per_round_trip() -> None:
    limit = AdaptiveLimit(16, 3, 16, clock=Clock())
    slots = fill(limit)
    for slot in slots[:10]:  # ten refusals at once: one cut
        limit.limited(slot)
    assert limit.allowed == 8 and limit.cuts == 1 and limit.refused == 10
    limit.clock.now += 0.001  # type: ignore[attr-defined]
    limit.limited(limit.take())  # sent after the cut: cuts again
    assert limit.allowed == 4 and limit.cuts == 2
    limit.clock.now += 0.001  # type: ignore[attr-defined]
    limit.limited(limit.take())
    assert limit.allowed == 3  # min_concurrency


def test_a_429_while_most_requests_are_answered_takes_one_slot_off() -> None:
    clock = Clock()
    limit = AdaptiveLimit(10, 1, 64, clock=clock)
    answer_for(limit, clock, 2.0, 0.02)  # 50 answers a second, 0.2 s each
    before = limit.limit
    clock.now += 0.01
    limit.limited(Slot(clock.now))
    assert limit.limit == pytest.approx(before - 1)
    limit.limited(Slot(clock.now))  # within the same round trip: no second cut
    assert limit.cuts == 1


def test_a_429_when_most_requests_are_refused_cuts_to_what_the_provider_carries() -> None:
    clock = Clock()
    limit = AdaptiveLimit(64, 1, 64, clock=clock)
    answer_for(limit, clock, 1.0, 0.02)  # it answers 50 a second at 0.2 s: 10 in flight carry it
    limit.limited(Slot(clock.now))  # the first cut (answers outnumber refusals): one slot
    assert limit.allowed == 63
    for _ in range(10):  # the next round trip: 10 answered, 30 refused
        clock.now += 0.02
        limit.answered(Slot(clock.now - 0.2))
        for _ in range(3):
            limit.limited(Slot(clock.now))
    clock.now += 0.02
    limit.limited(Slot(clock.now))
    assert limit.allowed in (9, 10)  # about rate x round trip


def test_no_growth_for_a_round_trip_after_a_429_and_never_below_the_floor() -> None:
    clock = Clock()
    limit = AdaptiveLimit(6, 5, 64, clock=clock)
    answer_for(limit, clock, 1.0, 0.02)
    grown = limit.limit
    limit.limited(Slot(clock.now))
    after_cut = limit.limit
    clock.now += 0.05
    limit.answered(Slot(clock.now - 0.2))
    assert limit.limit == after_cut < grown
    for _ in range(10):
        clock.now += 0.3
        limit.limited(Slot(clock.now))
    assert limit.allowed == 5  # min_concurrency


def test_a_retry_after_pauses_every_new_request_until_it_passes() -> None:
    clock = Clock()
    limit = AdaptiveLimit(8, clock=clock)
    limit.limited(limit.take(), retry_after=2.0)
    assert not limit.free()
    clock.now += 1.9
    assert not limit.free()
    clock.now += 0.2
    assert limit.free()


def test_a_retry_after_with_requests_still_remaining_is_not_a_pause_for_all() -> None:
    limit = AdaptiveLimit(8, clock=Clock())
    limit.limited(limit.take(), retry_after=2.0, remaining=5)  # a tokens limit, say
    assert limit.free()


def test_an_answer_that_says_its_window_is_used_up_pauses_every_new_request() -> None:
    clock = Clock()
    limit = AdaptiveLimit(8, clock=clock)
    limit.answered(limit.take(), pause_s=0.5)  # remaining 0, resets in 0.5 s
    assert not limit.free() and limit.cuts == 0 and limit.allowed == 8  # a pause, not a cut
    clock.now += 0.45
    assert not limit.free()
    clock.now += 0.1
    assert limit.free()


def test_an_answer_with_no_pause_leaves_the_next_request_free() -> None:
    limit = AdaptiveLimit(8, clock=Clock())
    limit.answered(limit.take(), pause_s=None)
    limit.answered(limit.take(), pause_s=0.0)
    assert limit.free()


def wait_behind_the_one_slot(leave: str) -> bool:
    """Whether a request waiting for the one slot got it at once when it was left with a pause."""

    async def scenario() -> bool:
        limit = AdaptiveLimit(1)
        slot = limit.take()
        waiter = asyncio.ensure_future(limit.acquire())
        await asyncio.sleep(0)  # the waiter is queued
        if leave == "answered":
            limit.answered(slot, pause_s=5.0)
        else:
            limit.limited(slot, retry_after=5.0)
        await asyncio.sleep(0.05)
        handed = waiter.done()
        waiter.cancel()
        return handed

    return asyncio.run(scenario())


@pytest.mark.parametrize("leave", ["answered", "limited"])
def test_the_slot_a_pausing_answer_or_429_leaves_is_not_handed_on_before_the_pause(
    leave: str,
) -> None:
    assert not wait_behind_the_one_slot(leave)


def test_errors_other_than_429_leave_the_limit_alone() -> None:
    limit = AdaptiveLimit(8, 1, 16, clock=Clock())
    fill(limit)
    limit.failed(Slot(0))
    assert limit.allowed == 8 and limit.in_flight == 7


@pytest.mark.parametrize(("start", "low", "high"), [(4, 5, 8), (4, 1, 3), (0, 1, 1)])
def test_bounds_out_of_order_are_refused(start: int, low: int, high: int) -> None:
    with pytest.raises(ValueError, match="minimum"):
        AdaptiveLimit(start, low, high)


def test_waiters_get_slots_in_order_and_a_cancelled_waiter_leaks_none() -> None:
    async def scenario() -> tuple[list[int], int]:
        limit = AdaptiveLimit(2)
        order: list[int] = []

        async def call(i: int) -> None:
            slot = await limit.acquire()
            order.append(i)
            await asyncio.sleep(0.01)
            limit.answered(slot)

        tasks = [asyncio.create_task(call(i)) for i in range(6)]
        await asyncio.sleep(0)
        tasks[4].cancel()  # cancelled while waiting for a slot
        await asyncio.gather(*tasks, return_exceptions=True)
        return order, limit.in_flight

    order, in_flight = asyncio.run(scenario())
    assert order == [0, 1, 2, 3, 5]
    assert in_flight == 0


def test_a_pause_holds_waiters_back_then_lets_them_go() -> None:
    async def scenario() -> float:
        limit = AdaptiveLimit(4)
        limit.limited(limit.take(), retry_after=0.3)
        start = time.monotonic()
        slot = await limit.acquire()
        limit.answered(slot)
        return time.monotonic() - start

    waited = asyncio.run(scenario())
    assert 0.28 <= waited < 1.0
