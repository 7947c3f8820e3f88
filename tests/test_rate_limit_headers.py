"""Rate-limit headers on successful answers pause the provider: the real SDKs, wire servers."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest

from tests.conftest import wire_config
from tests.wire.harness import Request, Step
from tests.wire.ratelimit import window_headers
from workbench.providers._common import Exhausted, paused
from workbench.providers.base import Completion, Usage
from workbench.run import Runner, close_models
from workbench.sessions import Session
from workbench.workers import ProcessModel

MODEL = {"openai": "openai:gpt-test", "anthropic": "anthropic:claude-test"}


def two_calls(
    wire: dict[str, Any],
    provider: str,
    stream: bool,
    remaining: int,
    reset_s: float,
    workers: bool = False,
    limit: float = 1,
    **run: Any,
) -> tuple[float, list[Any]]:
    """Answer "first" with the window's headers (made as it is answered), then ask "second".

    `limit`: the window's size; with 1 (the default), one request's worth is the whole reset.

    Returns the seconds between the server's receiving the two, and the two replies.
    `workers`: the calls go through worker processes (as an audit's do).
    """
    server = wire[provider]

    def script(request: Request) -> Step | None:
        if "first" in json.dumps(request.body):
            return Step(headers=window_headers(provider, limit, remaining, reset_s))
        return None

    server.script = script
    session = Session(wire_config(wire, **run), labbook=False)  # type: ignore[arg-type]
    models: dict[str, Any] = {}
    runner = Runner(session.config, processes=True, models=models) if workers else None
    options: Any = {"stream": stream, "runner": runner}
    try:
        session.compare("warm up", [MODEL[provider]], **options)  # SDK imported, client made
        first = session.compare("first", [MODEL[provider]], **options)
        second = session.compare("second", [MODEL[provider]], **options)
        assert not workers or isinstance(models[MODEL[provider]], ProcessModel)
    finally:
        session.close()
        asyncio.run(close_models(models))
    sent = {json.dumps(r.body): r.received for r in server.requests}
    at_first = next(t for body, t in sent.items() if "first" in body)
    at_second = next(t for body, t in sent.items() if "second" in body)
    return at_second - at_first, [first[MODEL[provider]], second[MODEL[provider]]]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_an_answer_with_nothing_remaining_holds_the_next_call_until_the_reset(
    wire: dict[str, Any], provider: str, stream: bool
) -> None:
    gap, replies = two_calls(wire, provider, stream, remaining=0, reset_s=0.5)
    assert all(r.ok for r in replies), [r.error for r in replies]
    assert gap >= 0.49, f"the second call went {gap:.3f} s after the first, before the reset"
    assert gap < 2.0
    # waiting for the reset is queueing, not the second request's latency
    assert (replies[1].queued_s or 0) >= 0.3 and (replies[1].latency_s or 0) < 0.3
    assert replies[1].attempts == 1  # no 429 drawn


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_an_answer_with_requests_remaining_does_not_delay_the_next_call(
    wire: dict[str, Any], provider: str, stream: bool
) -> None:
    gap, replies = two_calls(wire, provider, stream, remaining=5, reset_s=0.5)
    assert all(r.ok for r in replies)
    assert gap < 0.4, f"the second call waited {gap:.3f} s though requests remained"


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_used_up_window_of_many_requests_waits_for_one_requests_worth(
    wire: dict[str, Any], provider: str
) -> None:
    """Windows refill continuously: 10 requests a second have room for one after 0.1 s."""
    gap, replies = two_calls(wire, provider, False, remaining=0, reset_s=1.0, limit=10)
    assert all(r.ok for r in replies)
    assert 0.09 <= gap < 0.6, f"the second call went {gap:.3f} s after the first"


def test_the_pause_an_answer_asks_for_is_bounded_by_retry_after_max_s(
    wire: dict[str, Any],
) -> None:
    gap, replies = two_calls(wire, "openai", False, remaining=0, reset_s=60, retry_after_max_s=0.3)
    assert all(r.ok for r in replies)
    assert 0.29 <= gap < 2.0, gap


def test_the_pause_crosses_from_a_worker_process(wire: dict[str, Any]) -> None:
    gap, replies = two_calls(wire, "anthropic", False, remaining=0, reset_s=0.5, workers=True)
    assert all(r.ok for r in replies), [r.error for r in replies]
    assert gap >= 0.49, f"the second call went {gap:.3f} s after the first, before the reset"


def test_the_pause_counts_from_when_the_headers_came_not_from_the_end_of_the_stream() -> None:
    headers = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "200ms"}
    answer = Completion("hi", Usage())
    pause = paused(answer, Exhausted.seen(headers)).pause_s
    assert pause is not None and 0.15 < pause <= 0.2
    exhausted = Exhausted.seen(headers)  # a stream's headers, then its events for 0.25 s
    time.sleep(0.25)
    assert paused(answer, exhausted).pause_s is None


def test_any_used_up_window_pauses_and_the_longest_reset_wins() -> None:
    headers = {
        "anthropic-ratelimit-requests-remaining": "12",
        "anthropic-ratelimit-requests-reset": "2099-01-01T00:00:00Z",
        "anthropic-ratelimit-output-tokens-remaining": "0",
        "anthropic-ratelimit-output-tokens-reset": time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 30)
        ),
    }
    pause = paused(Completion("hi", Usage()), Exhausted.seen(headers)).pause_s
    assert pause is not None and 28 < pause <= 30  # the output tokens', not the requests'
