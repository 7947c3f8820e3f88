"""The Anthropic adapter: pure converters, then the real SDK against a local Messages API server."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest
from anthropic.types import Message, RawMessageStreamEvent
from pydantic import TypeAdapter

from tests.wire.anthropic_server import AnthropicServer
from tests.wire.harness import Step
from workbench.errors import (
    AuthenticationFailed,
    BadRequest,
    ConnectionFailed,
    IncompleteAnswer,
    MalformedResponse,
    MissingKey,
    ProviderTimeout,
    RateLimited,
    ServerError,
)
from workbench.providers.anthropic import (
    AnthropicModel,
    StreamState,
    completion_from_response,
    error_from_exception,
    request_from_prompt,
)
from workbench.providers.anthropic_request import DEFAULT_MAX_TOKENS
from workbench.providers.base import Completion, Prompt, ProviderSettings, Usage

KEY_ENV = "ANTHROPIC_API_KEY"
EVENTS: TypeAdapter[RawMessageStreamEvent] = TypeAdapter(RawMessageStreamEvent)


# -- converters, no server ---------------------------------------------------------------


def test_request_puts_system_on_top_and_maps_params() -> None:
    prompt = Prompt.of("Hi", system="Be terse.", max_tokens=64, stop=["END", "##"])
    assert request_from_prompt(prompt, "claude-x") == {
        "model": "claude-x",
        "max_tokens": 64,
        "messages": [{"role": "user", "content": "Hi"}],
        "system": "Be terse.",
        "stop_sequences": ["END", "##"],
    }


def test_request_defaults_max_tokens_and_drops_unsupported_params() -> None:
    prompt = Prompt.of("Hi", temperature=0.2, top_p=0.9, seed=7)
    request = request_from_prompt(prompt, "claude-x")
    assert request["max_tokens"] == DEFAULT_MAX_TOKENS == 4096
    assert set(request) == {"model", "max_tokens", "messages"}


def test_completion_from_response_joins_text_blocks() -> None:
    message = Message.model_validate(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-x-20261101",
            "content": [{"type": "text", "text": "Hello "}, {"type": "text", "text": "there"}],
            "stop_reason": "max_tokens",
            "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 2, "cache_read_input_tokens": 5},
        }
    )
    assert completion_from_response(message) == Completion(
        "Hello there", Usage(15, 2, cached_input_tokens=5), "length", "claude-x-20261101"
    )


def _stream_events(*pieces: str, stop: str = "end_turn") -> list[RawMessageStreamEvent]:
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x-20261101",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 1},
    }
    raw: list[dict[str, Any]] = [
        {"type": "message_start", "message": message},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        *(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}}
            for p in pieces
        ),
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": stop}, "usage": {"output_tokens": 3}},
        {"type": "message_delta", "delta": {"stop_reason": None}, "usage": {"output_tokens": 7}},
        {"type": "message_stop"},
    ]
    return [EVENTS.validate_python(e) for e in raw]


def test_stream_state_collects_text_usage_reason_and_model() -> None:
    state = StreamState()
    returned = [state.feed(e) for e in _stream_events("Hel", "lo")]
    assert [p for p in returned if p] == [("text", "Hel"), ("text", "lo")]
    # output_tokens is a running total: the last one counts, they are not added up.
    assert state.completion() == Completion("Hello", Usage(12, 7), "stop", "claude-x-20261101")


def test_stream_state_without_message_stop_is_incomplete_and_keeps_its_text() -> None:
    state = StreamState()
    for event in _stream_events("Hi")[:-1]:
        state.feed(event)
    with pytest.raises(IncompleteAnswer) as caught:
        state.completion()
    assert caught.value.partial == "Hi" and caught.value.retryable


def _status_error(status: int, kind: str, headers: dict[str, str] | None = None) -> Exception:
    request = httpx2.Request("POST", "http://127.0.0.1/v1/messages")
    body = {"type": "error", "error": {"type": kind, "message": "secret-key is bad"}}
    response = httpx2.Response(status, headers=headers, json=body, request=request)
    return anthropic._error_classes.make_status_error("x", body=body, response=response)


@pytest.mark.parametrize(
    ("status", "kind", "expected"),
    [
        (400, "invalid_request_error", BadRequest),
        (401, "authentication_error", AuthenticationFailed),
        (403, "permission_error", AuthenticationFailed),
        (404, "not_found_error", BadRequest),
        (429, "rate_limit_error", RateLimited),
        (500, "api_error", ServerError),
        (529, "overloaded_error", ServerError),
    ],
)
def test_status_errors_map_by_status(status: int, kind: str, expected: type[Exception]) -> None:
    error = error_from_exception(_status_error(status, kind), secret="secret-key")
    assert type(error) is expected
    assert error.status == status
    assert "secret-key" not in str(error) and "\n" not in str(error)


def test_rate_limit_reads_retry_after() -> None:
    error = error_from_exception(_status_error(429, "rate_limit_error", {"retry-after": "7"}))
    assert isinstance(error, RateLimited) and error.retry_after == 7.0


def test_mid_stream_error_maps_by_its_type_not_the_200_status() -> None:
    overloaded = error_from_exception(_status_error(200, "overloaded_error"))
    assert type(overloaded) is ServerError and overloaded.status is None
    limited = error_from_exception(_status_error(200, "rate_limit_error"))
    assert type(limited) is RateLimited


def test_transport_errors_map_to_timeout_and_connection() -> None:
    request = httpx2.Request("POST", "http://127.0.0.1/v1/messages")
    timeout = error_from_exception(anthropic.APITimeoutError(request))
    assert type(timeout) is ProviderTimeout
    assert type(error_from_exception(httpx2.ReadTimeout("slow"))) is ProviderTimeout
    lost = anthropic.APIConnectionError(request=request)
    assert type(error_from_exception(lost)) is ConnectionFailed
    dropped = httpx2.RemoteProtocolError("peer closed connection")
    assert type(error_from_exception(dropped)) is ConnectionFailed


def test_importing_the_module_does_not_import_the_sdk() -> None:
    code = "import workbench.providers.anthropic, sys; assert 'anthropic' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# -- the real SDK against the local server -------------------------------------------------


@pytest.fixture(scope="module")
def shared_server() -> Iterator[AnthropicServer]:
    # One server for the module: stopping one takes half a second.
    with AnthropicServer(served_model="claude-x-20261101") as srv:
        yield srv


@pytest.fixture
def server(shared_server: AnthropicServer, monkeypatch: pytest.MonkeyPatch) -> AnthropicServer:
    shared_server.reset()
    monkeypatch.setenv(KEY_ENV, shared_server.api_key)
    return shared_server


def _model(server: AnthropicServer, timeout_s: float = 5.0) -> AnthropicModel:
    settings = ProviderSettings(
        name="anthropic",
        type="anthropic",
        base_url=server.base_url,
        api_key_env=KEY_ENV,
        timeout_s=timeout_s,
    )
    return AnthropicModel("claude-x", settings)


def _call(model: AnthropicModel, prompt: Prompt, on_text: Any = None) -> Completion:
    async def go() -> Completion:
        try:
            # The guard fails a test fast (with TimeoutError) if the adapter's timeout is lost.
            return await asyncio.wait_for(model.complete(prompt, on_text), 10)
        finally:
            await model.aclose()

    return asyncio.run(go())


def test_answer_over_the_wire(server: AnthropicServer) -> None:
    prompt = Prompt.of("What is 2+2?", system="Be terse.", max_tokens=32, stop=["##"], seed=1)
    completion = _call(_model(server), prompt)
    assert completion.text == "echo: What is 2+2?"
    assert completion.finish_reason == "stop"
    assert completion.model_version == "claude-x-20261101"
    assert completion.usage.output_tokens == 4 and completion.usage.input_tokens > 0
    [request] = server.requests
    assert request.path == "/v1/messages"
    assert request.headers["authorization"] == f"Bearer {server.api_key}"
    assert request.body["system"] == "Be terse."
    assert request.body["max_tokens"] == 32
    assert request.body["stop_sequences"] == ["##"]
    assert request.body["messages"] == [{"role": "user", "content": "What is 2+2?"}]
    assert "seed" not in request.body and "stream" not in request.body


def test_streaming_over_the_wire(server: AnthropicServer) -> None:
    server.queue(Step(text="one two three four", output_tokens=9, finish_reason="max_tokens"))
    pieces: list[str] = []
    completion = _call(_model(server), Prompt.of("count"), pieces.append)
    assert len(pieces) == 4 and "".join(pieces) == completion.text == "one two three four"
    assert completion.usage.output_tokens == 9 and completion.usage.input_tokens > 0
    assert completion.finish_reason == "length"
    assert completion.model_version == "claude-x-20261101"
    assert server.requests[0].body["stream"] is True


def test_rate_limit_is_not_retried_by_the_sdk(server: AnthropicServer) -> None:
    server.queue(Step(status=429, retry_after="2"))
    with pytest.raises(RateLimited) as caught:
        _call(_model(server), Prompt.of("hi"))
    assert caught.value.retry_after == 2.0 and caught.value.status == 429
    assert len(server.requests) == 1


@pytest.mark.parametrize("status", [500, 529])
def test_server_errors(server: AnthropicServer, status: int) -> None:
    server.queue(Step(status=status))
    with pytest.raises(ServerError) as caught:
        _call(_model(server), Prompt.of("hi"))
    assert caught.value.status == status
    assert len(server.requests) == 1


def test_overloaded_mid_stream(server: AnthropicServer) -> None:
    server.stream_error = "overloaded_error"
    pieces: list[str] = []
    with pytest.raises(ServerError, match="anthropic is overloaded"):
        _call(_model(server), Prompt.of("a b c"), pieces.append)
    assert pieces == ["echo: "]


def test_hang_times_out(server: AnthropicServer) -> None:
    server.queue(Step(hang=True))
    start = time.monotonic()
    with pytest.raises(ProviderTimeout):
        _call(_model(server, timeout_s=0.5), Prompt.of("hi"))
    assert time.monotonic() - start < 4


@pytest.mark.parametrize("stream", [False, True])
def test_malformed_answer(server: AnthropicServer, stream: bool) -> None:
    server.queue(Step(malformed=True))
    with pytest.raises(MalformedResponse):
        _call(_model(server), Prompt.of("hi"), [].append if stream else None)


def test_wrong_key(server: AnthropicServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "wrong-key")
    with pytest.raises(AuthenticationFailed) as caught:
        _call(_model(server), Prompt.of("hi"))
    assert caught.value.status == 401
    assert "wrong-key" not in str(caught.value)


def test_missing_key_names_the_variable() -> None:
    settings = ProviderSettings(name="anthropic", type="anthropic", api_key_env=KEY_ENV)
    with pytest.raises(MissingKey, match=KEY_ENV):
        AnthropicModel("claude-x", settings)
