"""Each vendor's batch transport and converters, through the real SDK, against its wire server."""

from __future__ import annotations

from typing import Any

import pytest

from tests.batch.conftest import start_batch_server
from tests.conftest import KEY_ENV
from tests.wire.harness import Step
from workbench.batch import has_batch_mode, transport
from workbench.batch.base import Progress
from workbench.config import Config
from workbench.errors import (
    BadRequest,
    ConfigError,
    IncompleteAnswer,
    ProviderTimeout,
    RateLimited,
)
from workbench.providers import registry
from workbench.providers.base import Completion, Prompt

MODEL = {"openai": "gpt-test", "anthropic": "claude-test", "gemini": "gemini-test"}
PROVIDERS = tuple(MODEL)


def _setup(provider: str, monkeypatch: pytest.MonkeyPatch, **options: Any) -> tuple[Any, Config]:
    server = start_batch_server(provider, **options)
    monkeypatch.setenv(KEY_ENV[provider], server.api_key)
    config = Config.load({"providers": {provider: {"base_url": server.base_url}}})
    return server, config


def _run(provider: str, config: Config, prompts: list[Prompt]) -> tuple[list[Progress], Any]:
    client = transport(config.providers[provider])
    try:
        ids = [f"{k}-0-0" for k in range(len(prompts))]
        lines = [client.line(c, p, MODEL[provider]) for c, p in zip(ids, prompts, strict=True)]
        batch_id = client.submit(MODEL[provider], lines, "test-run")
        seen = [client.poll(batch_id), client.poll(batch_id)]
        return seen, client.results(batch_id, ids)
    finally:
        client.close()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_batch_runs_then_ends_with_one_request_failed(
    provider: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, config = _setup(provider, monkeypatch)
    try:
        server.queue(Step(text="one"), Step(status=400), Step(text="three"))
        prompts = [Prompt.of(f"question {k}", max_tokens=8) for k in range(3)]
        (running, ended), outcomes = _run(provider, config, prompts)
    finally:
        server.stop()
    assert not running.ended and ended.ended
    assert (ended.completed, ended.failed) == (2, 1)
    first, second, third = (outcomes[f"{k}-0-0"] for k in range(3))
    assert isinstance(first, Completion) and first.text == "one"
    assert first.finish_reason == "stop" and first.usage.output_tokens == 1
    assert isinstance(second, BadRequest) and "400" in str(second)
    assert isinstance(third, Completion) and third.text == "three"
    # each line held what the live adapter sends for the same prompt
    live = registry.build(registry.resolve(f"{provider}:{MODEL[provider]}", config), config)
    sent = server.batches.batched[0].body
    if provider == "openai":
        assert sent == live.request(prompts[0])  # type: ignore[attr-defined]
    elif provider == "anthropic":
        from workbench.providers.anthropic_request import request_from_prompt

        assert sent == request_from_prompt(prompts[0], MODEL[provider])
    else:
        assert sent["contents"] == [{"role": "user", "parts": [{"text": "question 0"}]}]
        assert sent["generationConfig"] == {"maxOutputTokens": 8}


@pytest.mark.parametrize("cancelled", [False, True], ids=["expired", "cancelled"])
@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_expired_or_cancelled_batch_leaves_its_unrun_requests_as_errors(
    provider: str, cancelled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, config = _setup(provider, monkeypatch)
    server.batches.expire_after = 1
    server.batches.cancelled = cancelled
    try:
        prompts = [Prompt.of(f"question {k}") for k in range(3)]
        (_, ended), outcomes = _run(provider, config, prompts)
    finally:
        server.stop()
    assert ended.ended
    answered = [isinstance(outcomes[f"{k}-0-0"], Completion) for k in range(3)]
    # Gemini documents that an expired batch has no results at all
    assert answered == ([False] * 3 if provider == "gemini" else [True, False, False])
    unrun = outcomes["2-0-0"]
    assert isinstance(unrun, ProviderTimeout) and "before this request ran" in str(unrun)
    said = {"openai": "cancelled", "anthropic": "canceled", "gemini": "JOB_STATE_CANCELLED"}
    assert (f"({said[provider]})" in str(unrun)) == cancelled


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_answer_without_its_end_signal_is_incomplete_as_live(
    provider: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, config = _setup(provider, monkeypatch)
    server.queue(Step(text="half an ans", unfinished=True))
    try:
        _, outcomes = _run(provider, config, [Prompt.of("question")])
    finally:
        server.stop()
    cut = outcomes["0-0-0"]
    assert isinstance(cut, IncompleteAnswer) and cut.partial == "half an ans"


def test_per_request_errors_keep_their_kind() -> None:
    from google.genai.types import InlinedResponse, JobError

    from workbench.batch import gemini, openai

    limited = openai.outcome_of(
        {"custom_id": "0-0-0", "response": {"status_code": 429, "body": {"error": {
            "message": "slow down", "type": "requests", "code": "rate_limit_exceeded"}}}},
        "openai", "batch_1", "completed",
    )  # fmt: skip
    assert isinstance(limited, RateLimited) and "slow down" in str(limited)
    cancelled = openai.outcome_of(
        {"custom_id": "0-0-0", "response": None,
         "error": {"code": "batch_cancelled", "message": "cancelled"}},
        "openai", "batch_1", "cancelled",
    )  # fmt: skip
    assert isinstance(cancelled, ProviderTimeout) and "(cancelled)" in str(cancelled)
    quota = gemini.outcome_of(InlinedResponse(error=JobError(code=8, message="quota")))
    assert isinstance(quota, RateLimited)  # google.rpc RESOURCE_EXHAUSTED is a 429


def test_the_providers_with_a_batch_mode() -> None:
    assert [t for t in ("openai", "anthropic", "gemini", "compat", "local", "replay")
            if has_batch_mode(t)] == ["openai", "anthropic", "gemini"]  # fmt: skip


def test_batch_prices_are_half_the_standard_ones_unless_configured() -> None:
    from workbench import prices

    config = Config.load(
        {
            "prices": {"openai:gpt-test": {"input": 2.0, "output": 8.0, "cache_read": 1.0}},
            "providers": {"anthropic": {"options": {"batch_rate": 0.25}}},
        }
    )
    quote = prices.batch_quote("openai", "gpt-test", config)
    assert quote is not None
    assert (quote.input_per_mtok, quote.output_per_mtok, quote.cache_read_per_mtok) == (
        1.0, 4.0, 0.5,
    )  # fmt: skip
    assert quote.source == "config at the batch rate (0.5x)"
    standard = prices.quote("anthropic", "claude-opus-4-6", config)
    cheaper = prices.batch_quote("anthropic", "claude-opus-4-6", config)
    assert standard is not None and cheaper is not None
    assert cheaper.output_per_mtok == pytest.approx(standard.output_per_mtok / 4)
    assert prices.batch_quote("local", "smollm2", config) == prices.quote(
        "local", "smollm2", config
    )  # free stays free
    wrong = Config.load({"providers": {"gemini": {"options": {"batch_rate": 2}}}})
    with pytest.raises(ConfigError, match=r"options.batch_rate = 2: must be .* from 0 to 1"):
        prices.batch_quote("gemini", "gemini-2.5-pro", wrong)
