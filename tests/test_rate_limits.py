"""Adaptive concurrency through the real SDKs against wire servers that enforce a rate limit."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import WIRE_PROVIDERS, wire_config
from tests.wire.harness import Step
from tests.wire.ratelimit import RateLimit
from workbench.config import Config
from workbench.errors import ConfigError
from workbench.limiter import AdaptiveLimit
from workbench.run import Runner
from workbench.sessions import Session

MODEL = {
    "openai": "openai:gpt-test",
    "anthropic": "anthropic:claude-test",
    "gemini": "gemini:gemini-test",
}


@pytest.mark.parametrize("provider", WIRE_PROVIDERS)
def test_a_rate_limited_provider_gets_every_call_answered_at_its_rate(
    wire: dict[str, Any], provider: str
) -> None:
    server = wire[provider]
    server.latency_s = 0.1
    bucket = RateLimit(rate=40, burst=4)
    bucket.attach(server)
    tweaks = {provider: {"concurrency": 16, "min_concurrency": 1, "max_concurrency": 16}}
    config = wire_config(wire, tweaks, retries=1)  # a 429 is waited out, not counted
    limits: dict[str, AdaptiveLimit] = {}
    runner = Runner(config, limits=limits)  # type: ignore[arg-type]
    start = time.perf_counter()
    comparison = Session(config, labbook=False).compare(  # type: ignore[arg-type]
        [f"q{i}" for i in range(80)], [MODEL[provider]], stream=False, runner=runner
    )
    wall = time.perf_counter() - start
    assert all(r.ok for r in comparison), [r.error for r in comparison if not r.ok][:3]
    assert bucket.refused > 0, "the limit was never reached: the test proves nothing"
    limit = limits[provider]
    assert limit.cuts >= 1 and limit.allowed < 16  # it learned the provider takes fewer
    assert wall < 80 / 40 * 5, f"80 calls at 40/s took {wall:.1f} s"  # a shared, busy machine
    # Waiting for a slot or a pause is queueing; latency is the answering request's alone.
    queued = sorted(r.queued_s or 0 for r in comparison)
    latency = sorted(r.latency_s or 0 for r in comparison)
    assert queued[-10] > 0.5 and latency[-10] < 0.5, (queued[-10], latency[-10])


@pytest.mark.parametrize("provider", WIRE_PROVIDERS)
def test_rate_limit_headers_without_retry_after_say_how_long_to_wait(
    wire: dict[str, Any], provider: str
) -> None:
    headers = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1s"}
    if provider == "anthropic":
        soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
        headers = {
            "anthropic-ratelimit-requests-remaining": "0",
            "anthropic-ratelimit-requests-reset": soon,
        }
    wire[provider].queue(Step(status=429, headers=headers))
    start = time.perf_counter()
    reply = Session(wire_config(wire), labbook=False).compare("hi", [MODEL[provider]])  # type: ignore[arg-type]
    elapsed = time.perf_counter() - start
    assert reply[MODEL[provider]].ok and reply[MODEL[provider]].attempts == 2
    assert elapsed >= 0.9, f"the reset header was not honoured ({elapsed:.2f} s)"


def test_a_session_keeps_what_each_provider_taught_its_limit(wire: dict[str, Any]) -> None:
    wire["openai"].queue(Step(status=429, retry_after="0.05"))
    config = wire_config(wire, {"openai": {"concurrency": 8}})
    session = Session(config, labbook=False)  # type: ignore[arg-type]
    session.compare("one", ["openai:gpt-test"])
    limit = next(iter(session._limits.values()))["openai"]
    assert limit.allowed == 4  # halved: nothing had been answered yet
    session.compare("two", ["openai:gpt-test"])
    assert next(iter(session._limits.values()))["openai"] is limit


def test_a_run_wide_concurrency_is_its_own_limit(wire: dict[str, Any]) -> None:
    config = wire_config(wire, {"openai": {"concurrency": 8, "max_concurrency": 32}})
    limits: dict[str, AdaptiveLimit] = {}
    Session(config, labbook=False).compare(  # type: ignore[arg-type]
        "x",
        ["openai:gpt-test"],
        runner=Runner(config, limits=limits),
        concurrency=2,  # type: ignore[arg-type]
    )
    (limit,) = limits.values()
    assert (limit.allowed, limit.maximum) == (2, 2)


def test_the_bounds_are_read_from_config() -> None:
    config = Config.load({"providers": {"openai": {"concurrency": 4, "max_concurrency": 20}}})
    settings = config.providers["openai"]
    assert (settings.min_concurrency, settings.concurrency, settings.max_concurrency) == (1, 4, 20)
    assert Config.load().providers["openai"].max_concurrency is None  # never above the start


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"min_concurrency": 0}, r"min_concurrency = 0: must be a whole number >= 1"),
        ({"max_concurrency": 2.5}, r"max_concurrency = 2.5: must be a whole number >= 1"),
        (
            {"max_concurrency": 4},
            r"min_concurrency \(1\) <= concurrency \(8\) <= max_concurrency \(4\)",
        ),
        ({"min_concurrency": 9}, r"min_concurrency \(9\) <= concurrency \(8\)"),
    ],
)
def test_bounds_out_of_order_are_a_one_line_config_error(
    isolated: Path, body: dict[str, Any], message: str
) -> None:
    lines = "".join(f"{k} = {v}\n" for k, v in body.items())
    (isolated / "workbench.toml").write_text(f"[providers.openai]\n{lines}")
    with pytest.raises(ConfigError, match=message) as caught:
        Config.load()
    assert "\n" not in str(caught.value)
    assert "workbench.toml" in str(caught.value)


def test_429s_that_say_when_to_come_back_are_waited_out_beyond_the_retries(
    wire: dict[str, Any],
) -> None:
    wire["openai"].queue(*[Step(status=429, retry_after="0.05")] * 3)
    config = wire_config(wire, retries=1)
    reply = Session(config, labbook=False).compare("hi", ["openai:gpt-test"])["openai:gpt-test"]  # type: ignore[arg-type]
    assert reply.ok and reply.attempts == 4


def test_429s_without_a_retry_after_count_against_the_retries(wire: dict[str, Any]) -> None:
    wire["openai"].queue(*[Step(status=429)] * 3)
    config = wire_config(wire, retries=1)
    reply = Session(config, labbook=False).compare("hi", ["openai:gpt-test"])["openai:gpt-test"]  # type: ignore[arg-type]
    assert reply.error is not None and reply.error.type == "RateLimited"
    assert reply.attempts == 2


def test_a_rate_limit_is_waited_out_only_up_to_retry_after_max_s(wire: dict[str, Any]) -> None:
    wire["openai"].queue(*[Step(status=429, retry_after="0.3")] * 10)
    config = wire_config(wire, retries=0, retry_after_max_s=1.0)
    reply = Session(config, labbook=False).compare("hi", ["openai:gpt-test"])["openai:gpt-test"]  # type: ignore[arg-type]
    assert reply.error is not None and reply.error.type == "RateLimited"
    assert 2 <= reply.attempts <= 4  # about 1 s of waiting, then it fails
