"""A local server speaking Anthropic's Messages API (POST /v1/messages, JSON and SSE)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from tests.wire.harness import Answer, Request, WireServer, sse, words

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


@dataclass
class AnthropicServer(WireServer):
    """Anthropic's wire format: named SSE events, usage split between start and delta."""

    served_model: str | None = None
    """The model name the answers report (a dated version); None echoes the requested one."""
    stream_error: str | None = None
    """An error type (e.g. "overloaded_error") sent as an `event: error` after the first delta."""

    protocol: ClassVar[str] = "anthropic"

    def route(self, method: str, path: str) -> str | None:
        return "json" if method == "POST" and path.split("?")[0] == "/v1/messages" else None

    def authorized(self, headers: dict[str, str], path: str) -> bool:
        # The API takes either header; SDK 2.x sends the key as a Bearer token.
        bearer = headers.get("authorization", "")
        return headers.get("x-api-key") == self.api_key or bearer == f"Bearer {self.api_key}"

    def model_of(self, request: Request) -> str:
        return self.served_model or str(request.body.get("model", "claude-unknown"))

    def last_user_text(self, request: Request) -> str:
        for message in reversed(request.body.get("messages", [])):
            if message.get("role") != "user":
                continue
            content = message.get("content", "")
            if isinstance(content, str):
                return content
            return "".join(b.get("text", "") for b in content if b.get("type") == "text")
        return ""

    def is_stream(self, request: Request, kind: str) -> bool:
        return request.body.get("stream") is True

    def body(self, answer: Answer) -> dict[str, Any]:
        return {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": answer.model,
            "content": [{"type": "text", "text": answer.text}],
            "stop_reason": None if answer.unfinished else answer.finish_reason or "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": answer.input_tokens, "output_tokens": answer.output_tokens},
        }

    def events(self, answer: Answer) -> Iterator[bytes]:
        message = {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": answer.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": answer.input_tokens, "output_tokens": 1},
        }
        yield _event({"type": "message_start", "message": message})
        block = {"type": "text", "text": ""}
        yield _event({"type": "content_block_start", "index": 0, "content_block": block})
        yield _event({"type": "ping"})
        for n, piece in enumerate(words(answer.text)):
            delta = {"type": "text_delta", "text": piece}
            yield _event({"type": "content_block_delta", "index": 0, "delta": delta})
            if n == 0 and self.stream_error:
                yield _event(self.error_body(0, f"scripted {self.stream_error}", self.stream_error))
                return
        yield _event({"type": "content_block_stop", "index": 0})
        if answer.unfinished:  # the stream ends without message_delta and message_stop
            return
        delta = {"stop_reason": answer.finish_reason or "end_turn", "stop_sequence": None}
        usage = {"output_tokens": answer.output_tokens}
        yield _event({"type": "message_delta", "delta": delta, "usage": usage})
        yield _event({"type": "message_stop"})

    def error_body(self, status: int, message: str, kind: str | None = None) -> dict[str, Any]:
        kind = kind or _ERROR_TYPES.get(
            status, "api_error" if status >= 500 else "invalid_request_error"
        )
        return {
            "type": "error",
            "error": {"type": kind, "message": message},
            "request_id": f"req_{uuid.uuid4().hex[:24]}",
        }

    def broken_event(self) -> bytes:
        # Without an `event:` line the SDK skips the event, so it would not be broken at all.
        return b'event: content_block_delta\ndata: {"not json\n\n'


def _event(data: dict[str, Any]) -> bytes:
    """One SSE event carrying its type in the `event:` line, as Anthropic sends them."""
    return sse(data, event=str(data["type"]))
