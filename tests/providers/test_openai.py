"""The OpenAI adapter: pure converters first, then the real `openai` SDK against a local server."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.wire.harness import Step
from tests.wire.openai_server import OpenAIServer
from workbench.errors import (
    AuthenticationFailed,
    BadRequest,
    ConnectionFailed,
    IncompleteAnswer,
    MalformedResponse,
    MissingKey,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    ServerError,
)
from workbench.providers.base import Completion, Model, Prompt, ProviderSettings, Usage
from workbench.providers.openai import (
    OpenAIModel,
    StreamState,
    completion_from_response,
    error_from_exception,
    request_from_prompt,
)

PROMPT = Prompt.of(
    "What is two plus two?",
    system="Answer in one word.",
    temperature=0.2,
    max_tokens=50,
    top_p=0.9,
    seed=7,
    stop=["END"],
)

# -- converters, no server -------------------------------------------------------------------


def test_request_puts_the_system_prompt_first_and_maps_params() -> None:
    kwargs = request_from_prompt(PROMPT, "gpt-test")
    assert kwargs == {
        "model": "gpt-test",
        "messages": [
            {"role": "system", "content": "Answer in one word."},
            {"role": "user", "content": "What is two plus two?"},
        ],
        "temperature": 0.2,
        "max_completion_tokens": 50,
        "top_p": 0.9,
        "seed": 7,
        "stop": ["END"],
    }


def test_request_sends_only_the_params_that_are_set() -> None:
    kwargs = request_from_prompt(Prompt.of("hi"), "gpt-test")
    assert kwargs == {"model": "gpt-test", "messages": [{"role": "user", "content": "hi"}]}


def test_request_can_name_max_tokens_differently() -> None:
    kwargs = request_from_prompt(Prompt.of("hi", max_tokens=5), "m", max_tokens_field="max_tokens")
    assert kwargs["max_tokens"] == 5
    assert "max_completion_tokens" not in kwargs


def _chat_completion(**overrides: Any) -> Any:
    from openai.types.chat import ChatCompletion

    data: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-test-2026-01-01",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Four."},
                "finish_reason": "length",
            }
        ],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
    }
    data.update(overrides)
    return ChatCompletion.model_validate(data)


def test_completion_from_response_reads_text_usage_finish_and_model() -> None:
    assert completion_from_response(_chat_completion()) == Completion(
        "Four.", Usage(12, 3), "length", "gpt-test-2026-01-01"
    )


def test_completion_from_response_without_usage_is_unknown_not_zero() -> None:
    usage = completion_from_response(_chat_completion(usage=None)).usage
    assert usage == Usage(None, None, None) and not usage.known


def test_completion_from_response_rejects_no_choices_and_wrong_shapes() -> None:
    from openai.types.chat import ChatCompletion

    with pytest.raises(MalformedResponse, match="no choices"):
        completion_from_response(_chat_completion(choices=[]))
    # The SDK builds responses without validation: a wrong shape reaches the converter.
    odd = ChatCompletion.construct(id="x", choices=[{"index": 0}], model="m")
    with pytest.raises(MalformedResponse):
        completion_from_response(odd)
    with pytest.raises(MalformedResponse):
        completion_from_response("<html>not an API</html>")  # type: ignore[arg-type]


def _chunk(content: str | None = None, finish: str | None = None, usage: Any = None) -> Any:
    from openai.types.chat import ChatCompletionChunk

    choices = (
        [] if usage else [{"index": 0, "delta": {"content": content}, "finish_reason": finish}]
    )
    return ChatCompletionChunk.model_validate(
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "gpt-test-v2",
            "choices": choices,
            "usage": usage,
        }
    )


def test_stream_state_collects_pieces_finish_usage_and_model() -> None:
    state = StreamState()
    pieces = [
        state.add(_chunk("")),
        state.add(_chunk("Fo")),
        state.add(_chunk("ur.")),
        state.add(_chunk(None, "stop")),
        state.add(_chunk(usage={"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11})),
    ]
    assert [text for text, _ in pieces] == ["", "Fo", "ur.", "", ""]
    assert all(thought == "" for _, thought in pieces)
    assert state.completion() == Completion("Four.", Usage(9, 2), "stop", "gpt-test-v2")


def test_stream_state_with_no_chunks_is_incomplete() -> None:
    with pytest.raises(IncompleteAnswer):
        StreamState().completion()


def _status_error(status: int, headers: dict[str, str] | None = None, body: Any = None) -> Any:
    import httpx2
    import openai

    request = httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions")
    response = httpx2.Response(status, headers=headers or {}, request=request)
    client = openai.AsyncOpenAI(api_key="k", base_url="http://127.0.0.1/v1")
    error = body if body is not None else {"message": f"status {status}", "type": "x"}
    return client._make_status_error(
        f"Error code: {status}", body={"error": error}, response=response
    )


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, BadRequest),
        (401, AuthenticationFailed),
        (403, AuthenticationFailed),
        (404, BadRequest),
        (422, BadRequest),
        (500, ServerError),
        (503, ServerError),
        (529, ServerError),
    ],
)
def test_status_errors_map_by_status(status: int, kind: type[ProviderError]) -> None:
    error = error_from_exception(_status_error(status), "openai:gpt-test")
    assert type(error) is kind
    assert error.status == status
    assert str(error).startswith("openai:gpt-test") and f"status {status}" in str(error)


def test_429_carries_retry_after() -> None:
    error = error_from_exception(_status_error(429, {"retry-after-ms": "1500"}))
    assert isinstance(error, RateLimited)
    assert error.retry_after == 1.5 and error.status == 429


def test_transport_and_decoding_errors_map() -> None:
    import httpx2
    import openai

    request = httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions")
    assert isinstance(error_from_exception(openai.APITimeoutError(request)), ProviderTimeout)
    refused = openai.APIConnectionError(request=request)
    assert isinstance(error_from_exception(refused), ConnectionFailed)
    bad_json = json.JSONDecodeError("Expecting value", "{", 1)
    assert isinstance(error_from_exception(bad_json), MalformedResponse)
    in_stream = openai.APIError("overloaded", request, body={"message": "overloaded"})
    assert isinstance(error_from_exception(in_stream), ServerError)
    too_long = openai.APIError("too long", request, body={"message": "too long", "code": 400})
    assert isinstance(error_from_exception(too_long), BadRequest)


def test_error_messages_are_one_line_and_hide_keys() -> None:
    body = {"message": "Incorrect API key provided: sk-proj-****abcd.\nSee the docs.\n"}
    error = error_from_exception(_status_error(401, body=body), "openai:m", "my-secret")
    assert "\n" not in str(error) and "abcd" not in str(error) and "***" in str(error)
    leak = _status_error(400, body={"message": "bad key my-secret in header"})
    assert "my-secret" not in str(error_from_exception(leak, "openai:m", "my-secret"))


# -- the real SDK against the wire server ----------------------------------------------------


@pytest.fixture(scope="module")
def shared_server() -> Iterator[OpenAIServer]:
    server = OpenAIServer()
    with server:  # one per module: stopping one takes the harness 0.5 s
        yield server


@pytest.fixture
def server(shared_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> OpenAIServer:
    shared_server.steps.clear()
    shared_server.requests.clear()
    monkeypatch.setenv("OPENAI_API_KEY", shared_server.api_key)
    return shared_server


def make(server: OpenAIServer, timeout_s: float = 5.0) -> OpenAIModel:
    settings = ProviderSettings(
        name="openai",
        type="openai",
        base_url=server.base_url,
        api_key_env="OPENAI_API_KEY",
        timeout_s=timeout_s,
    )
    return OpenAIModel("gpt-test", settings)


def call(
    model: Model, prompt: Prompt = PROMPT, stream: bool = False
) -> tuple[Completion, list[str]]:
    """Run one call in a fresh event loop, closing the model's client after it."""
    pieces: list[str] = []

    async def go() -> Completion:
        try:
            return await model.complete(prompt, pieces.append if stream else None)
        finally:
            await model.aclose()

    return asyncio.run(go()), pieces


def test_normal_answer(server: OpenAIServer) -> None:
    server.queue(Step(text="Four.", input_tokens=21, output_tokens=2, finish_reason="length"))
    completion, pieces = call(make(server))
    # OpenAI reports its cached and reasoning tokens even when there are none: 0, known.
    usage = Usage(21, 2, reasoning_tokens=0, cached_input_tokens=0)
    assert completion == Completion("Four.", usage, "length", "gpt-test")
    assert pieces == []
    [request] = server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer test-key"
    body = request.body
    assert body["model"] == "gpt-test"
    assert body["messages"][0] == {"role": "system", "content": "Answer in one word."}
    assert body["messages"][1] == {"role": "user", "content": "What is two plus two?"}
    assert body["max_completion_tokens"] == 50 and "max_tokens" not in body
    assert (body["temperature"], body["top_p"], body["seed"], body["stop"]) == (
        0.2,
        0.9,
        7,
        ["END"],
    )
    assert "stream" not in body


def test_streaming(server: OpenAIServer) -> None:
    server.queue(Step(text="two plus two is four", input_tokens=30, output_tokens=5))
    completion, pieces = call(make(server), stream=True)
    assert len(pieces) == 5 and "".join(pieces) == "two plus two is four"
    usage = Usage(30, 5, reasoning_tokens=0, cached_input_tokens=0)
    assert completion == Completion("two plus two is four", usage, "stop", "gpt-test")
    body = server.requests[0].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


def test_one_client_serves_several_calls(server: OpenAIServer) -> None:
    model = make(server)

    async def go() -> list[str]:
        try:
            answers = [await model.complete(Prompt.of(f"q{i}")) for i in range(2)]
            assert model._client is not None
            return [a.text for a in answers]
        finally:
            await model.aclose()
            assert model._client is None

    assert asyncio.run(go()) == ["echo: q0", "echo: q1"]


def test_rate_limit_is_not_retried_by_the_sdk(server: OpenAIServer) -> None:
    server.queue(Step(status=429, retry_after="2"))
    with pytest.raises(RateLimited) as caught:
        call(make(server))
    assert caught.value.retry_after == 2.0 and caught.value.status == 429
    assert len(server.requests) == 1


@pytest.mark.parametrize("stream", [False, True])
def test_server_error_is_not_retried_by_the_sdk(server: OpenAIServer, stream: bool) -> None:
    server.queue(Step(status=500))
    with pytest.raises(ServerError) as caught:
        call(make(server), stream=stream)
    assert caught.value.status == 500
    assert len(server.requests) == 1


@pytest.mark.timeout(15)
def test_hang_times_out(server: OpenAIServer) -> None:
    server.queue(Step(hang=True))
    started = time.monotonic()
    with pytest.raises(ProviderTimeout):
        call(make(server, timeout_s=0.5))
    assert time.monotonic() - started < 3
    assert len(server.requests) == 1


@pytest.mark.parametrize("stream", [False, True])
def test_malformed_answer(server: OpenAIServer, stream: bool) -> None:
    server.queue(Step(malformed=True))
    with pytest.raises(MalformedResponse):
        call(make(server), stream=stream)


def test_wrong_key(server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong-0123456789")
    with pytest.raises(AuthenticationFailed) as caught:
        call(make(server))
    assert caught.value.status == 401
    assert "sk-wrong-0123456789" not in str(caught.value)


def test_unreachable_server_is_a_connection_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    url = f"http://127.0.0.1:{port}/v1"
    settings = ProviderSettings("openai", "openai", url, "OPENAI_API_KEY", timeout_s=2)
    with pytest.raises(ConnectionFailed):
        call(OpenAIModel("gpt-test", settings))


def test_missing_key_names_the_variable() -> None:
    settings = ProviderSettings(name="openai", type="openai", api_key_env="OPENAI_API_KEY")
    with pytest.raises(MissingKey, match="OPENAI_API_KEY"):
        OpenAIModel("gpt-test", settings)


def test_server_lists_models(server: OpenAIServer) -> None:
    model = make(server)

    async def go() -> list[str]:
        try:
            return [m.id async for m in model.client().models.list()]
        finally:
            await model.aclose()

    assert asyncio.run(go()) == ["gpt-test", "gpt-test-mini"]


def test_importing_the_module_does_not_import_the_sdk() -> None:
    code = "import workbench.providers.openai, sys; assert 'openai' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
