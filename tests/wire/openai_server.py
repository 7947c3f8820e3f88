"""A local server speaking OpenAI's Chat Completions wire protocol, for the real `openai` SDK.

Serves `POST /v1/chat/completions` (a JSON `chat.completion`, or with `"stream": true` SSE
`data: {chunk}` lines ending in `data: [DONE]`, plus a `choices: []` usage chunk when
`stream_options.include_usage` was asked), `GET /v1/models`, and OpenAI's error body
`{"error": {"message", "type", "param", "code"}}`. Auth is `Authorization: Bearer <key>`.
The same server stands in for OpenAI-compatible servers (Ollama, vLLM, ...) with
`require_auth=False`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from tests.wire.harness import Answer, Request, Step, WireServer, now, words

_ERROR_KINDS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "unknown_url"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    503: ("server_error", "overloaded"),
}


@dataclass
class ChatAnswer(Answer):
    """An answer plus what the request asked about its shape."""

    include_usage: bool = False
    models_list: bool = False
    available: tuple[str, ...] = ()


@dataclass
class OpenAIServer(WireServer):
    """OpenAI's Chat Completions protocol on 127.0.0.1."""

    require_auth: bool = True
    """False for a compat server that takes any key, or none at all."""
    models: tuple[str, ...] = ("gpt-test", "gpt-test-mini")
    """What `GET /v1/models` lists."""

    protocol: ClassVar[str] = "openai"

    @property
    def base_url(self) -> str:
        return self.root_url + "/v1"

    def route(self, method: str, path: str) -> str | None:
        path = path.split("?", 1)[0]
        if method == "POST" and path == "/v1/chat/completions":
            return "json"
        if method == "GET" and path == "/v1/models":
            return "json"
        return None

    def authorized(self, headers: dict[str, str], path: str) -> bool:
        if not self.require_auth:
            return True
        return headers.get("authorization") == f"Bearer {self.api_key}"

    def model_of(self, request: Request) -> str:
        return str(request.body.get("model", ""))

    def last_user_text(self, request: Request) -> str:
        for message in reversed(request.body.get("messages") or []):
            if message.get("role") != "user":
                continue
            content = message.get("content")
            if isinstance(content, list):  # content parts
                return "".join(p.get("text", "") for p in content if isinstance(p, dict))
            return str(content)
        return ""

    def is_stream(self, request: Request, kind: str) -> bool:
        return request.body.get("stream") is True

    def answer_for(self, request: Request, step: Step) -> Answer:
        if request.method == "GET":
            return ChatAnswer("", "", 0, 0, models_list=True, available=self.models)
        base = super().answer_for(request, step)
        options = request.body.get("stream_options") or {}
        return ChatAnswer(
            text=base.text,
            model=base.model,
            input_tokens=base.input_tokens,
            output_tokens=base.output_tokens,
            finish_reason=base.finish_reason,
            unfinished=base.unfinished,
            usage=base.usage,
            include_usage=bool(options.get("include_usage")) and base.usage,
        )

    def body(self, answer: Answer) -> dict[str, Any]:
        if isinstance(answer, ChatAnswer) and answer.models_list:
            return {
                "object": "list",
                "data": [
                    {"id": m, "object": "model", "created": 1_700_000_000, "owned_by": "wire"}
                    for m in answer.available
                ],
            }
        return {
            "id": "chatcmpl-wire0001",
            "object": "chat.completion",
            "created": now(),
            "model": answer.model,
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": answer.text,
                        "refusal": None,
                        "annotations": [],
                    },
                    "logprobs": None,
                    "finish_reason": None if answer.unfinished else answer.finish_reason or "stop",
                }
            ],
            "usage": _usage(answer) if answer.usage else None,
            "service_tier": "default",
        }

    def events(self, answer: Answer) -> Iterator[bytes]:
        include_usage = isinstance(answer, ChatAnswer) and answer.include_usage
        created = now()

        def chunk(choices: list[dict[str, Any]], usage: dict[str, Any] | None = None) -> bytes:
            data: dict[str, Any] = {
                "id": "chatcmpl-wire0001",
                "object": "chat.completion.chunk",
                "created": created,
                "model": answer.model,
                "service_tier": "default",
                "choices": choices,
            }
            if include_usage:  # OpenAI sends "usage": null on every chunk but the last
                data["usage"] = usage
            return f"data: {json.dumps(data)}\n\n".encode()

        def delta(d: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {"index": 0, "delta": d, "logprobs": None, "finish_reason": finish}

        yield chunk([delta({"role": "assistant", "content": "", "refusal": None})])
        for piece in words(answer.text):
            yield chunk([delta({"content": piece})])
        yield chunk([delta({}, None if answer.unfinished else answer.finish_reason or "stop")])
        if include_usage:
            yield chunk([], _usage(answer))
        yield b"data: [DONE]\n\n"

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        kind, code = _ERROR_KINDS.get(
            status, ("server_error" if status >= 500 else "invalid_request_error", None)
        )
        return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _usage(answer: Answer) -> dict[str, Any]:
    return {
        "prompt_tokens": answer.input_tokens,
        "completion_tokens": answer.output_tokens,
        "total_tokens": answer.input_tokens + answer.output_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
