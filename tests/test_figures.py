"""Every recorded figure means what its name says: latency is the request's, not the import's
or the queue's; queueing, attempts and the whole wall time are recorded apart."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from typing import Any

import pytest

from tests.conftest import wire_config
from tests.wire.harness import Step
from tests.wire.openai_server import OpenAIServer
from workbench.sessions import Session

LATENCY_S = 0.2


def test_the_first_call_of_a_process_does_not_count_the_sdk_import_as_latency() -> None:
    # A fresh interpreter: the SDKs are not imported yet (the import takes a second or more).
    openai = OpenAIServer(latency_s=0.02).start()
    from tests.wire.anthropic_server import AnthropicServer

    anthropic = AnthropicServer(latency_s=0.02).start()
    code = textwrap.dedent(
        f"""
        import json, sys, time
        from workbench.config import Config
        from workbench.sessions import Session
        assert "openai" not in sys.modules and "anthropic" not in sys.modules
        config = Config.load({{"providers": {{
            "openai": {{"base_url": "{openai.base_url}"}},
            "anthropic": {{"base_url": "{anthropic.base_url}"}}}}}})
        start = time.perf_counter()
        with Session(config, labbook=False) as s:
            c = s.compare("hi", ["openai:gpt-test", "anthropic:claude-test"])
        wall = time.perf_counter() - start
        print(json.dumps({{"wall": wall, "replies": [r.to_dict() for r in c]}}, default=str))
        """
    )
    env = {"OPENAI_API_KEY": openai.api_key, "ANTHROPIC_API_KEY": anthropic.api_key}
    try:
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**_env(), **env},
        )
    finally:
        openai.stop()
        anthropic.stop()
    out = json.loads(done.stdout)
    for reply in out["replies"]:
        assert reply["error"] is None, reply
        # The server answers in 20 ms; the import alone takes far longer than 0.5 s.
        assert reply["latency_s"] < 0.5, reply
        assert reply["first_token_s"] <= reply["latency_s"]
        assert reply["wall_s"] >= reply["latency_s"]
    assert out["wall"] > max(r["latency_s"] for r in out["replies"])


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}


def test_time_waiting_for_a_slot_is_queueing_not_latency(wire: dict[str, Any]) -> None:
    server = wire["openai"]
    server.latency_s = LATENCY_S
    config = wire_config(wire, {"openai": {"concurrency": 1}})
    with Session(config, labbook=False) as session:  # type: ignore[arg-type]
        comparison = session.compare("hi", ["openai:gpt-test"], samples=3)
    replies = sorted(comparison, key=lambda r: r.queued_s or 0)
    assert all(r.ok and r.attempts == 1 for r in replies)
    _one_at_a_time(replies)
    assert all(r.latency_s > LATENCY_S * 0.9 for r in replies)  # type: ignore[operator]
    # The last waited for the two before it, and its wall time says so.
    assert replies[-1].queued_s > LATENCY_S * 1.8  # type: ignore[operator]


def _one_at_a_time(replies: list[Any]) -> None:
    """Calls that ran one after the other: their latencies add up to no more than the run.

    Counted from the start of the wait, as before, they would add up to about twice it.
    """
    run = max(r.wall_s for r in replies)
    assert sum(r.latency_s for r in replies) <= run * 1.05, [
        (r.latency_s, r.queued_s, r.wall_s) for r in replies
    ]
    for r in replies:
        assert r.queued_s + r.latency_s <= r.wall_s * 1.01 + 0.01


def test_latency_is_the_answering_attempt_and_wall_time_holds_the_retries(
    wire: dict[str, Any],
) -> None:
    server = wire["anthropic"]
    server.latency_s = LATENCY_S
    server.queue(Step(status=500))
    config = wire_config(wire, backoff_s=0.3, backoff_max_s=0.3)
    with Session(config, labbook=False) as session:  # type: ignore[arg-type]
        reply = session.compare("hi", ["anthropic:claude-test"])["anthropic:claude-test"]
    assert reply.ok and reply.attempts == 2
    # The first attempt (200 ms) and the backoff (300 ms) are in the wall time only.
    assert reply.wall_s > 2 * LATENCY_S + 0.3  # type: ignore[operator]
    assert reply.latency_s < reply.wall_s - 0.3 - LATENCY_S * 0.9  # type: ignore[operator]


@pytest.mark.local_model
def test_the_local_models_one_generation_at_a_time_is_queueing_not_latency() -> None:
    # concurrency=3 lets three calls past the runner's limit; the model itself runs one at a
    # time, and the wait for it must not be counted as the later calls' latency.
    with Session(labbook=False) as session:
        comparison = session.compare(
            "Count from one to twenty.", ["local"], samples=3, concurrency=3, max_tokens=48
        )
    replies = sorted(comparison, key=lambda r: r.queued_s or 0)
    assert all(r.ok for r in replies), [r.error for r in replies]
    _one_at_a_time(replies)
    assert replies[-1].queued_s > min(r.latency_s for r in replies)  # type: ignore[operator, type-var]


@pytest.mark.local_model
def test_samples_are_separate_draws_each_with_its_recorded_seed() -> None:
    with Session(labbook=False) as session:
        comparison = session.compare(
            "Name a colour.", ["local"], samples=4, temperature=1.0, max_tokens=12
        )
    seeds = [job.prompt.params.seed for job in comparison.jobs]
    assert seeds == [None, 1, 2, 3]
    assert len({r.text for r in comparison}) >= 3, [r.text for r in comparison]


@pytest.mark.local_model
def test_the_local_model_counts_tokens_with_its_own_tokenizer() -> None:
    with Session(labbook=False) as session:
        reply = session.compare("What is 2+2?", ["local"], max_tokens=24)["local"]
    assert reply.usage.source == "tokenizer"
    assert reply.usage.input_tokens is not None and reply.usage.input_tokens > 20
    # The same request, not streamed, gets llama.cpp's own count: they must agree.
    from workbench.providers.local import DEFAULT_REPEAT_PENALTY, _llama, model_path

    llama = _llama(model_path("smollm2"), 2048)
    own = llama.create_chat_completion(
        messages=[{"role": "user", "content": "What is 2+2?"}],
        temperature=0.0,
        max_tokens=24,
        seed=0,
        repeat_penalty=DEFAULT_REPEAT_PENALTY,
    )
    assert reply.usage.input_tokens == own["usage"]["prompt_tokens"]
