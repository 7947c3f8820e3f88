"""An answer is complete only when the provider said it ended: every adapter, through the SDKs.

A stream that ends without the end signal (no finish reason, no `message_stop`, no
`finishReason`), a connection dropped mid-stream, or a body without a finish reason is an
`IncompleteAnswer`: retried, its partial text kept in the reply, never counted as an answer.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import WIRE_PROVIDERS, start_server, wire_config
from tests.wire.harness import Step
from tests.wire.openai_server import OpenAIServer
from workbench.config import Config
from workbench.errors import IncompleteAnswer
from workbench.sessions import Session

MODEL = {
    "openai": "openai:gpt-test",
    "anthropic": "anthropic:claude-test",
    "gemini": "gemini:gemini-test",
}
TEXT = "one two three four five six seven eight"


def _compare(wire: dict[str, Any], provider: str, *, stream: bool = True, retries: int = 0) -> Any:
    config = wire_config(wire, retries=retries)
    with Session(config, labbook=False) as session:  # type: ignore[arg-type]
        return session.compare("count", [MODEL[provider]], stream=stream)


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "body"])
@pytest.mark.parametrize("provider", WIRE_PROVIDERS)
def test_an_answer_without_the_end_signal_is_incomplete_with_its_text_kept(
    wire: dict[str, Any], provider: str, stream: bool
) -> None:
    wire[provider].queue(Step(text=TEXT, unfinished=True))
    comparison = _compare(wire, provider, stream=stream)
    reply = comparison[MODEL[provider]]
    assert reply.error is not None and reply.error.is_a(IncompleteAnswer), reply
    assert not reply.ok and reply.text == TEXT
    frame = comparison.to_frame()
    assert not frame["ok"].iloc[0] and frame["error_type"].iloc[0] == "IncompleteAnswer"


@pytest.mark.parametrize("provider", WIRE_PROVIDERS)
def test_a_connection_dropped_mid_stream_is_incomplete(wire: dict[str, Any], provider: str) -> None:
    wire[provider].queue(Step(text=TEXT, cut_after=5))
    reply = _compare(wire, provider)[MODEL[provider]]
    assert reply.error is not None and reply.error.is_a(IncompleteAnswer), reply
    assert reply.text and TEXT.startswith(reply.text.strip()) and reply.text != TEXT


@pytest.mark.parametrize("provider", WIRE_PROVIDERS)
def test_an_incomplete_answer_is_retried_and_only_the_whole_one_is_kept(
    wire: dict[str, Any], provider: str
) -> None:
    wire[provider].queue(Step(text="The capital", unfinished=True))
    reply = _compare(wire, provider, retries=2)[MODEL[provider]]
    assert reply.ok and reply.attempts == 2
    assert reply.text == "echo: count" and reply.finish_reason == "stop"


def test_the_compat_path_checks_the_end_signal_too() -> None:
    # An OpenAI-compatible server that, like llama.cpp's, ends an interrupted stream with
    # `data: [DONE]` but no finish_reason.
    server = OpenAIServer(require_auth=False).start()
    try:
        server.queue(Step(text=TEXT, unfinished=True, no_usage=True))
        providers = {"lab": {"type": "compat", "base_url": server.base_url}}
        config = Config.load({"providers": providers, "run": {"retries": 0}})
        with Session(config, labbook=False) as session:
            reply = session.compare("count", ["lab:any"])["lab:any"]
        assert reply.error is not None and reply.error.is_a(IncompleteAnswer)
        assert reply.text == TEXT and reply.usage.input_tokens is None
    finally:
        server.stop()


def test_usage_not_reported_is_unknown_never_zero() -> None:
    server = start_server("openai", require_auth=False)
    try:
        server.queue(Step(text="four", no_usage=True))  # type: ignore[attr-defined]
        providers = {"lab": {"type": "compat", "base_url": server.base_url}}  # type: ignore[attr-defined]
        config = Config.load({"providers": providers})
        with Session(config, labbook=False) as session:
            comparison = session.compare("2+2?", ["lab:any"])
        reply = comparison["lab:any"]
        assert reply.ok and reply.usage.input_tokens is None and reply.usage.output_tokens is None
        assert reply.usage.source is None
        frame = comparison.to_frame()
        assert frame["input_tokens"].isna().all() and frame["output_tokens"].isna().all()
        from workbench.render import meta_line

        assert "? in / ? out" in meta_line(reply) and "0 in" not in meta_line(reply)
    finally:
        server.stop()  # type: ignore[attr-defined]
