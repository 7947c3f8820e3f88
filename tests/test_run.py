"""Fan-out through the real SDKs against the wire servers: retries, timeouts, failures, budgets."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from tests.conftest import WIRE_PROVIDERS, wire_config
from tests.wire.harness import Step
from workbench.providers.base import Prompt
from workbench.run import Job, Listener, Runner
from workbench.sessions import Session

MODEL = {
    "openai": "openai:gpt-test",
    "anthropic": "anthropic:claude-test",
    "gemini": "gemini:gemini-test",
}


def session_for(wire: dict[str, Any], **run: Any) -> Session:
    return Session(wire_config(wire, **run))  # type: ignore[arg-type]


@pytest.mark.parametrize("provider", WIRE_PROVIDERS)
def test_a_429_with_retry_after_is_waited_out_then_answered(
    wire: dict[str, Any], provider: str
) -> None:
    server = wire[provider]
    server.queue(Step(status=429, retry_after="1"))
    start = time.perf_counter()
    reply = session_for(wire).compare("hello", [MODEL[provider]])[MODEL[provider]]
    elapsed = time.perf_counter() - start
    assert reply.ok, reply.error
    assert reply.text == "echo: hello"
    assert reply.attempts == 2
    assert len(server.requests) == 2
    assert elapsed >= 1.0, "Retry-After: 1 was not honoured"


@pytest.mark.parametrize("provider", WIRE_PROVIDERS)
def test_server_errors_are_retried_with_backoff(wire: dict[str, Any], provider: str) -> None:
    wire[provider].queue(Step(status=500), Step(status=503))
    reply = session_for(wire).compare("hello", [MODEL[provider]])[MODEL[provider]]
    assert reply.ok and reply.attempts == 3


@pytest.mark.parametrize("provider", WIRE_PROVIDERS)
def test_a_hang_past_the_timeout_becomes_a_timeout_error(
    wire: dict[str, Any], provider: str
) -> None:
    wire[provider].queue(Step(hang=True))
    config = wire_config(wire, {provider: {"timeout_s": 0.5}}, retries=0)
    start = time.perf_counter()
    reply = Session(config).compare("hello", [MODEL[provider]])[MODEL[provider]]  # type: ignore[arg-type]
    assert time.perf_counter() - start < 5
    assert reply.error is not None and reply.error.type == "ProviderTimeout"
    assert "within 0.5 s" in reply.error.message or "timed out" in reply.error.message.lower()


@pytest.mark.parametrize("provider", WIRE_PROVIDERS)
def test_a_wrong_key_is_not_retried(
    wire: dict[str, Any], provider: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import KEY_ENV

    monkeypatch.setenv(KEY_ENV[provider], "wrong-key")
    reply = session_for(wire).compare("hello", [MODEL[provider]])[MODEL[provider]]
    assert reply.error is not None
    assert (reply.error.type, reply.error.status, reply.attempts) == (
        "AuthenticationFailed",
        401,
        1,
    )


def test_a_retry_after_beyond_the_policy_fails_at_once(wire: dict[str, Any]) -> None:
    wire["openai"].queue(Step(status=429, retry_after="3600"))
    reply = session_for(wire).compare("hello", ["openai:gpt-test"])["openai:gpt-test"]
    assert reply.error is not None and reply.error.type == "RateLimited"
    assert reply.attempts == 1 and len(wire["openai"].requests) == 1


def test_a_retry_after_beyond_the_policy_pauses_the_others_no_longer_than_the_policy(
    wire: dict[str, Any],
) -> None:
    """The calls queued behind an hour's Retry-After fail too, soon, not after an hour."""
    wire["openai"].queue(*[Step(status=429, retry_after="3600")] * 3)
    config = wire_config(wire, {"openai": {"concurrency": 1}}, retry_after_max_s=0.3)
    start = time.perf_counter()
    comparison = Session(config).compare(["a", "b", "c"], ["openai:gpt-test"])  # type: ignore[arg-type]
    elapsed = time.perf_counter() - start
    assert [r.error.type if r.error else None for r in comparison] == ["RateLimited"] * 3
    assert len(wire["openai"].requests) == 3  # each asked once, then told an hour
    assert elapsed < 3.0, f"the queued calls waited {elapsed:.1f} s for the provider's hour"


def test_one_failing_and_one_slow_model_do_not_sink_the_others(wire: dict[str, Any]) -> None:
    wire["openai"].queue(*[Step(status=500)] * 3)  # fails every attempt
    wire["anthropic"].queue(Step(delay_s=1.0))  # slow
    start = time.perf_counter()
    comparison = session_for(wire, retries=2).compare("hello", list(MODEL.values()))
    elapsed = time.perf_counter() - start
    failed, slow, fast = (comparison[MODEL[p]] for p in WIRE_PROVIDERS)
    assert failed.error is not None and failed.error.type == "ServerError" and failed.attempts == 3
    assert slow.ok and slow.text == "echo: hello" and slow.latency_s >= 1.0  # type: ignore[operator]
    assert fast.ok and fast.text == "echo: hello" and fast.latency_s < 0.9  # type: ignore[operator]
    assert 1.0 <= elapsed < 1.8, f"took {elapsed:.2f} s: calls ran one after another"


def test_replies_carry_usage_cost_latency_and_first_token(wire: dict[str, Any]) -> None:
    for server in wire.values():
        server.queue(Step(text="four", input_tokens=10, output_tokens=2))
    comparison = session_for(wire).compare("2+2?", list(MODEL.values()))
    for reply in comparison:
        assert reply.ok, reply.error
        assert (reply.usage.input_tokens, reply.usage.output_tokens) == (10, 2)
        assert reply.cost_usd == pytest.approx(12 * 1000 / 1e6)
        assert reply.price_source == "config"
        assert reply.first_token_s is not None and reply.first_token_s <= reply.latency_s  # type: ignore[operator]
        assert reply.finish_reason == "stop"
        assert reply.model_version
    frame = comparison.to_frame()
    assert list(frame["model"]) == list(MODEL.values())
    assert frame["cost_usd"].sum() == pytest.approx(0.036)


def test_per_provider_concurrency_limits_calls_in_flight(wire: dict[str, Any]) -> None:
    wire["openai"].latency_s = 0.3
    config = wire_config(wire, {"openai": {"concurrency": 2}})
    start = time.perf_counter()
    comparison = Session(config).compare([f"q{i}" for i in range(6)], ["openai:gpt-test"])  # type: ignore[arg-type]
    elapsed = time.perf_counter() - start
    assert all(r.ok for r in comparison)
    assert [r.text for r in comparison] == [f"echo: q{i}" for i in range(6)]
    assert 0.85 <= elapsed < 1.6, f"6 calls, 2 at a time, 0.3 s each took {elapsed:.2f} s"


class Pieces(Listener):
    def __init__(self) -> None:
        self.pieces: dict[str, list[str]] = {}
        self.retries = 0

    def text(self, job: Job, piece: str) -> None:
        self.pieces.setdefault(job.spec.label, []).append(piece)

    def retrying(self, job: Job, error: Any, wait_s: float) -> None:
        self.retries += 1
        self.pieces[job.spec.label] = []


def test_streaming_reaches_the_listener_for_every_provider(wire: dict[str, Any]) -> None:
    for server in wire.values():
        server.queue(Step(text="one two three four"))
    heard = Pieces()
    comparison = session_for(wire).compare("count", list(MODEL.values()), listener=heard)
    for label in MODEL.values():
        assert len(heard.pieces[label]) >= 3
        assert "".join(heard.pieces[label]) == comparison[label].text == "one two three four"


def test_cancel_turns_calls_in_flight_into_cancelled_replies(wire: dict[str, Any]) -> None:
    wire["openai"].queue(Step(hang=True))
    session = session_for(wire)

    async def scenario() -> Any:
        runner = Runner(session.config)
        task = asyncio.create_task(
            session.acompare("hello", ["openai:gpt-test", "anthropic:claude-test"], runner=runner)
        )
        await asyncio.sleep(0.5)
        runner.cancel()
        return await task

    comparison = asyncio.run(scenario())
    stuck, done = comparison["openai:gpt-test"], comparison["anthropic:claude-test"]
    assert stuck.error is not None and stuck.error.type == "Cancelled"
    assert done.ok and done.text == "echo: hello"


def test_compare_works_inside_a_running_event_loop(wire: dict[str, Any]) -> None:
    session = session_for(wire)

    async def in_a_notebook_cell() -> str:
        return session.compare("hi", ["gemini:gemini-test"])["gemini:gemini-test"].text

    assert asyncio.run(in_a_notebook_cell()) == "echo: hi"


def test_a_budget_stops_the_third_call_and_keeps_the_first_two(wire: dict[str, Any]) -> None:
    # Each call: 5 + 5 tokens at $1000/Mtok = $0.010; reserved beforehand: (8 + 10) tokens = $0.018.
    wire["openai"].queue(*[Step(input_tokens=5, output_tokens=5)] * 3)
    session = Session(wire_config(wire), budget_usd=0.035)  # type: ignore[arg-type]
    replies = [
        session.compare(f"q{i}", ["openai:gpt-test"], max_tokens=10)["openai:gpt-test"]
        for i in range(3)
    ]
    assert [r.ok for r in replies] == [True, True, False]
    assert [r.text for r in replies[:2]] == ["echo: q0", "echo: q1"]
    refused = replies[2]
    assert refused.error is not None and refused.error.type == "BudgetExceeded"
    assert "session budget of $0.0350 reached" in refused.error.message
    assert refused.attempts == 0
    assert len(wire["openai"].requests) == 2, "the refused call reached the server"
    assert session.budget.spent_usd == pytest.approx(0.020)


def test_a_run_budget_caps_one_comparison_only(wire: dict[str, Any]) -> None:
    session = session_for(wire)
    prompts = [f"q{i}" for i in range(4)]
    comparison = session.compare(
        prompts, ["openai:gpt-test"], max_tokens=10, budget_usd=0.04, concurrency=1
    )
    assert [r.ok for r in comparison].count(True) == 2
    assert {r.error.type for r in comparison.errors} == {"BudgetExceeded"}  # type: ignore[union-attr]
    again = session.compare("next", ["openai:gpt-test"], max_tokens=10, budget_usd=0.04)
    assert again["openai:gpt-test"].ok


def test_a_budget_needs_a_known_price(wire: dict[str, Any]) -> None:
    session = Session(wire_config(wire), budget_usd=1.0)  # type: ignore[arg-type]
    reply = session.compare("hi", ["openai:unpriced-model"])["openai:unpriced-model"]
    assert reply.error is not None and reply.error.type == "ConfigError"
    assert "no price known for openai:unpriced-model" in reply.error.message
    assert not wire["openai"].requests


def test_a_missing_key_fails_that_model_only(
    wire: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    comparison = session_for(wire).compare("hi", ["anthropic:claude-test", "openai:gpt-test"])
    missing = comparison["anthropic:claude-test"]
    assert missing.error is not None and missing.error.type == "MissingKey"
    assert "set the ANTHROPIC_API_KEY environment variable" in missing.error.message
    assert comparison["openai:gpt-test"].ok


def test_jobs_apply_the_alias_system_prompt_and_samples_shift_the_seed() -> None:
    from workbench.config import Config
    from workbench.providers.registry import resolve

    spec = resolve("terse", Config.load())
    job = Job.plan(spec, Prompt.of("colour?", seed=7), sample=2)
    assert job.prompt.system == "Answer in one word."
    assert job.prompt.params.seed == 9 and job.prompt.params.max_tokens == 16
    own = Job.plan(spec, Prompt.of("colour?", system="Answer in French."))
    assert own.prompt.system == "Answer in French."
