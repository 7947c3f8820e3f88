"""The Gemini adapter: pure converters, then the real google-genai SDK against GeminiServer."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx2
import pytest
from google.genai import errors, types

from tests.wire.gemini_server import GeminiServer
from tests.wire.harness import Step
from workbench.errors import (
    AuthenticationFailed,
    BadRequest,
    ConnectionFailed,
    MalformedResponse,
    MissingKey,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    ServerError,
)
from workbench.providers.base import Completion, Message, Params, Prompt, ProviderSettings
from workbench.providers.gemini import (
    Accumulator,
    GeminiModel,
    completion_from_response,
    finish_reason_of,
    request_from_prompt,
)
from workbench.providers.gemini_errors import error_from_exception

KEY_ENV = "GEMINI_API_KEY"
MODEL = "gemini-test-pro"


# -- converters, no server ------------------------------------------------------------------


def test_request_puts_system_in_config_and_renames_roles_and_params() -> None:
    prompt = Prompt(
        (
            Message("system", "Be brief."),
            Message("user", "Hi"),
            Message("assistant", "Hello."),
            Message("user", "2+2?"),
        ),
        Params(temperature=0.3, max_tokens=64, top_p=0.9, seed=7, stop=("END",)),
    )
    request = request_from_prompt(prompt, MODEL)
    assert request["model"] == MODEL
    assert request["contents"] == [
        {"role": "user", "parts": [{"text": "Hi"}]},
        {"role": "model", "parts": [{"text": "Hello."}]},
        {"role": "user", "parts": [{"text": "2+2?"}]},
    ]
    assert request["config"] == {
        "automatic_continuation": False,
        "system_instruction": "Be brief.",
        "temperature": 0.3,
        "max_output_tokens": 64,
        "top_p": 0.9,
        "seed": 7,
        "stop_sequences": ["END"],
    }
    types.GenerateContentConfig(**request["config"])  # every name is one the SDK knows


def test_request_sends_only_what_is_set() -> None:
    request = request_from_prompt(Prompt.of("Hi"), MODEL)
    assert request["config"] == {"automatic_continuation": False}


def test_completion_keeps_thoughts_apart_and_counts_them_as_output() -> None:
    response = types.GenerateContentResponse(
        candidates=[
            types.Candidate(
                content=types.Content(
                    role="model",
                    parts=[types.Part(text="let me think", thought=True), types.Part(text="Four.")],
                ),
                finish_reason=types.FinishReason.MAX_TOKENS,
            )
        ],
        usage_metadata=types.GenerateContentResponseUsageMetadata(
            prompt_token_count=5, candidates_token_count=3, thoughts_token_count=10
        ),
        model_version="gemini-3-pro-preview-11-2025",
    )
    completion = completion_from_response(response)
    assert completion == Completion(
        "Four.", completion.usage, "length", "gemini-3-pro-preview-11-2025", thinking="let me think"
    )
    assert (completion.usage.input_tokens, completion.usage.output_tokens) == (5, 13)
    assert completion.usage.reasoning_tokens == 10


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("MALFORMED_FUNCTION_CALL", "malformed_function_call"),
        ("FINISH_REASON_UNSPECIFIED", None),
        (None, None),
    ],
)
def test_finish_reasons(raw: str | None, expected: str | None) -> None:
    assert finish_reason_of(raw) == expected


def test_stream_usage_is_a_running_total_and_a_blocked_prompt_is_filtered() -> None:
    acc = Accumulator()
    first: dict[str, Any] = {"candidates": [{"content": {"parts": [{"text": "a "}]}}]}
    last: dict[str, Any] = {
        "candidates": [{"content": {"parts": [{"text": "b"}]}, "finishReason": "STOP"}]
    }
    first["usageMetadata"] = {"promptTokenCount": 9}
    last["usageMetadata"] = {"promptTokenCount": 9, "candidatesTokenCount": 2}
    last["modelVersion"] = "m-1"
    chunks = [first, last]
    pieces = [acc.add(types.GenerateContentResponse.model_validate(c)) for c in chunks]
    assert pieces == [("a ", ""), ("b", "")]
    assert acc.completion() == Completion("a b", acc.usage, "stop", "m-1")
    assert (acc.usage.input_tokens, acc.usage.output_tokens) == (9, 2)

    blocked = types.GenerateContentResponse.model_validate(
        {"promptFeedback": {"blockReason": "SAFETY"}}
    )
    assert completion_from_response(blocked).finish_reason == "content_filter"


def _client_error(
    code: int | None, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Any:
    response = httpx2.Response(code or 200, headers=headers or {}, json=body)
    cls = errors.ServerError if code and code >= 500 else errors.ClientError
    return cls(code or 0, body, response)


def _body(code: int, status: str, *details: dict[str, Any]) -> dict[str, Any]:
    return {"error": {"code": code, "message": "nope", "status": status, "details": list(details)}}


RETRY_INFO = {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "34s"}
KEY_INVALID = {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}


@pytest.mark.parametrize(
    ("exc", "kind", "status"),
    [
        (_client_error(429, _body(429, "RESOURCE_EXHAUSTED")), RateLimited, 429),
        (_client_error(401, _body(401, "UNAUTHENTICATED")), AuthenticationFailed, 401),
        (_client_error(403, _body(403, "PERMISSION_DENIED")), AuthenticationFailed, 403),
        (
            _client_error(400, _body(400, "INVALID_ARGUMENT", KEY_INVALID)),
            AuthenticationFailed,
            400,
        ),
        (_client_error(400, _body(400, "INVALID_ARGUMENT")), BadRequest, 400),
        (_client_error(404, _body(404, "NOT_FOUND")), BadRequest, 404),
        (_client_error(503, _body(503, "UNAVAILABLE")), ServerError, 503),
        # An error chunk mid-stream may carry only the status name.
        (
            _client_error(None, {"error": {"message": "busy", "status": "UNAVAILABLE"}}),
            ServerError,
            503,
        ),
        (TimeoutError(), ProviderTimeout, None),
        (httpx2.ReadTimeout("slow"), ProviderTimeout, None),
        (httpx2.ConnectError("refused"), ConnectionFailed, None),
        (httpx2.RemoteProtocolError("peer closed"), ConnectionFailed, None),
        (json.JSONDecodeError("Expecting value", "{", 1), MalformedResponse, None),
        (errors.UnknownApiResponseError("Failed to parse"), MalformedResponse, None),
        (RuntimeError("odd"), ProviderError, None),
    ],
)
def test_error_mapping(exc: BaseException, kind: type[ProviderError], status: int | None) -> None:
    error = error_from_exception(exc)
    assert type(error) is kind
    assert error.status == status
    assert "\n" not in str(error) and str(error).startswith("gemini")


def test_rate_limit_wait_from_header_then_from_retry_info() -> None:
    with_header = _client_error(
        429, _body(429, "RESOURCE_EXHAUSTED", RETRY_INFO), {"Retry-After": "2"}
    )
    only_body = _client_error(429, _body(429, "RESOURCE_EXHAUSTED", RETRY_INFO))
    neither = _client_error(429, _body(429, "RESOURCE_EXHAUSTED"))
    waits = [error_from_exception(e) for e in (with_header, only_body, neither)]
    assert [getattr(e, "retry_after", "missing") for e in waits] == [2.0, 34.0, None]


def test_error_message_never_shows_the_key() -> None:
    error = error_from_exception(RuntimeError("bad key sk-secret-123 sent"), secret="sk-secret-123")
    assert "sk-secret-123" not in str(error) and "***" in str(error)


def test_importing_the_module_does_not_import_the_sdk() -> None:
    code = (
        "import sys, workbench.providers.gemini; "
        "assert 'google.genai' not in sys.modules, 'imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr


# -- the real SDK against the wire server -------------------------------------------------


@pytest.fixture
def server() -> Iterator[GeminiServer]:
    with GeminiServer() as wire:
        assert isinstance(wire, GeminiServer)
        yield wire


@pytest.fixture
def make_model(server: GeminiServer, monkeypatch: pytest.MonkeyPatch) -> Callable[..., GeminiModel]:
    monkeypatch.setenv(KEY_ENV, server.api_key)

    def make(timeout_s: float = 5.0, base_url: str | None = None) -> GeminiModel:
        settings = ProviderSettings(
            name="gemini",
            type="gemini",
            base_url=base_url or server.base_url,
            api_key_env=KEY_ENV,
            timeout_s=timeout_s,
        )
        return GeminiModel(MODEL, settings)

    return make


def call(model: GeminiModel, prompt: Prompt, stream: bool = False) -> tuple[Completion, list[str]]:
    pieces: list[str] = []

    async def go() -> Completion:
        try:
            return await model.complete(prompt, pieces.append if stream else None)
        finally:
            await model.aclose()

    return asyncio.run(go()), pieces


def test_answer_with_usage_and_request_in_gemini_shape(
    server: GeminiServer, make_model: Callable[..., GeminiModel]
) -> None:
    server.queue(Step(input_tokens=11, output_tokens=3))
    prompt = Prompt.of("What is 2+2?", system="Be brief.", temperature=0.2, max_tokens=50, seed=3)
    completion, _ = call(make_model(), prompt)
    assert completion.text == "echo: What is 2+2?"
    assert (completion.usage.input_tokens, completion.usage.output_tokens) == (11, 3)
    assert completion.finish_reason == "stop"
    assert completion.model_version == MODEL
    [request] = server.requests
    assert request.path == f"/v1/models/{MODEL}:generateContent"
    assert request.headers["x-goog-api-key"] == server.api_key and "key=" not in request.path
    assert request.body["systemInstruction"]["parts"] == [{"text": "Be brief."}]
    assert request.body["contents"] == [{"role": "user", "parts": [{"text": "What is 2+2?"}]}]
    assert request.body["generationConfig"] == {
        "temperature": 0.2,
        "maxOutputTokens": 50,
        "seed": 3,
    }


def test_explicit_key_wins_over_google_api_key(
    server: GeminiServer,
    make_model: Callable[..., GeminiModel],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "a-stale-google-key")
    with caplog.at_level(logging.INFO):
        completion, _ = call(make_model(), Prompt.of("hi"))
    assert completion.text == "echo: hi"
    assert server.requests[0].headers["x-goog-api-key"] == server.api_key
    # The SDK's "Using GOOGLE_API_KEY" notice would be false here, so it is dropped.
    assert not [r for r in caplog.records if "GOOGLE_API_KEY" in r.getMessage()]


def test_streaming_sends_pieces_as_they_come(
    server: GeminiServer, make_model: Callable[..., GeminiModel]
) -> None:
    server.queue(Step(text="one two three four", input_tokens=7, output_tokens=4))
    completion, pieces = call(make_model(), Prompt.of("count"), stream=True)
    assert len(pieces) == 4 and "".join(pieces) == completion.text == "one two three four"
    assert (completion.usage.input_tokens, completion.usage.output_tokens) == (7, 4)
    assert (completion.finish_reason, completion.model_version) == ("stop", MODEL)
    assert server.requests[0].path == f"/v1/models/{MODEL}:streamGenerateContent?alt=sse"


@pytest.mark.parametrize("stream", [False, True])
def test_max_tokens_finish_is_length(
    server: GeminiServer, make_model: Callable[..., GeminiModel], stream: bool
) -> None:
    server.queue(Step(text="cut short", finish_reason="MAX_TOKENS"))
    completion, _ = call(make_model(), Prompt.of("go on"), stream)
    assert completion.finish_reason == "length"


@pytest.mark.parametrize("stream", [False, True])
def test_rate_limited_once_with_retry_after(
    server: GeminiServer, make_model: Callable[..., GeminiModel], stream: bool
) -> None:
    server.queue(Step(status=429, retry_after="2"))
    with pytest.raises(RateLimited) as caught:
        call(make_model(), Prompt.of("hi"), stream)
    assert caught.value.status == 429 and caught.value.retry_after == 2.0
    assert len(server.requests) == 1  # the SDK did not retry


@pytest.mark.parametrize("stream", [False, True])
def test_server_error_once(
    server: GeminiServer, make_model: Callable[..., GeminiModel], stream: bool
) -> None:
    server.queue(Step(status=500), Step(status=500))
    with pytest.raises(ServerError) as caught:
        call(make_model(), Prompt.of("hi"), stream)
    assert caught.value.status == 500
    assert len(server.requests) == 1


@pytest.mark.parametrize("stream", [False, True])
def test_hang_becomes_timeout(
    server: GeminiServer, make_model: Callable[..., GeminiModel], stream: bool
) -> None:
    server.queue(Step(hang=True))
    started = time.monotonic()
    with pytest.raises(ProviderTimeout):
        call(make_model(timeout_s=0.5), Prompt.of("hi"), stream)
    assert time.monotonic() - started < 3
    assert len(server.requests) == 1


@pytest.mark.parametrize("stream", [False, True])
def test_malformed_answer(
    server: GeminiServer, make_model: Callable[..., GeminiModel], stream: bool
) -> None:
    server.queue(Step(malformed=True))
    with pytest.raises(MalformedResponse):
        call(make_model(), Prompt.of("hi"), stream)


def test_wrong_key_is_authentication_failed(
    server: GeminiServer, make_model: Callable[..., GeminiModel], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "wrong-key")
    with pytest.raises(AuthenticationFailed) as caught:
        call(make_model(), Prompt.of("hi"))
    assert caught.value.status == 401
    assert server.requests[0].headers["x-goog-api-key"] == "wrong-key"
    assert "wrong-key" not in str(caught.value)


def test_unreachable_server_is_connection_failed(make_model: Callable[..., GeminiModel]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ConnectionFailed):
        call(make_model(base_url=f"http://127.0.0.1:{port}"), Prompt.of("hi"))


def test_missing_key_names_the_variable() -> None:
    settings = ProviderSettings(name="gemini", type="gemini", api_key_env="MY_GEMINI_KEY")
    with pytest.raises(MissingKey, match="MY_GEMINI_KEY"):
        GeminiModel(MODEL, settings)
    with pytest.raises(MissingKey, match=KEY_ENV):
        GeminiModel(MODEL, ProviderSettings(name="gemini", type="gemini"))


def test_a_closed_model_can_be_used_again_in_a_new_event_loop(
    server: GeminiServer, make_model: Callable[..., GeminiModel]
) -> None:
    model = make_model()
    first, _ = call(model, Prompt.of("one"))  # `call` ends with aclose in its loop
    second, _ = call(model, Prompt.of("two"))
    assert (first.text, second.text) == ("echo: one", "echo: two")


def test_a_failing_sink_is_not_a_provider_error(
    server: GeminiServer, make_model: Callable[..., GeminiModel]
) -> None:
    def sink(piece: str) -> None:
        raise KeyError(piece)

    async def go() -> None:
        model = make_model()
        try:
            await model.complete(Prompt.of("a b c"), sink)
        finally:
            await model.aclose()

    with pytest.raises(KeyError):
        asyncio.run(go())
