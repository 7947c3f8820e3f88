"""A local server speaking Anthropic's Messages API (POST /v1/messages, JSON and SSE).

Beyond text it answers as the API does for what a request asks: JSON that fits the schema
of `output_config.format`, a thinking block (streamed as `thinking_delta`s and a
`signature_delta`) before the text when `thinking` is on, and the cache's share of the
input (`cache_creation_input_tokens`, then `cache_read_input_tokens` for the same prefix)
when blocks carry `cache_control`. It refuses, with the API's 400, requests the API refuses:
a thinking budget under 1,024 or not below max_tokens, a file block whose source is not
valid base64 of an accepted type, an empty turn, more than four cache breakpoints.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from tests.wire.harness import Answer, Request, Step, WireServer, sse, words

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
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
SIGNATURE = "EqQBCkYIBxgCKkBzaWduYXR1cmU="
"""The opaque signature every thinking block ends with."""


@dataclass
class AnthropicAnswer(Answer):
    """An answer with what only Anthropic's format carries: thinking and the cache's share."""

    thinking: str | None = None
    thinking_tokens: int | None = None
    """Reported in `output_tokens_details` (None: not reported)."""
    cache_read: int = 0
    cache_write: int = 0


@dataclass
class AnthropicServer(WireServer):
    """Anthropic's wire format: named SSE events, usage split between start and delta."""

    served_model: str | None = None
    """The model name the answers report (a dated version); None echoes the requested one."""
    stream_error: str | None = None
    """An error type (e.g. "overloaded_error") sent as an `event: error` after the first delta."""
    thinking_text: str = "The user asks something. I answer it plainly."
    """The thinking the model does when a request turns thinking on."""
    report_thinking_tokens: bool = True
    """Report `output_tokens_details.thinking_tokens` (the API does since 2026)."""
    cache: dict[str, int] = field(default_factory=dict)
    """Cached prompt prefixes (by hash) and their size in tokens."""

    protocol: ClassVar[str] = "anthropic"

    def __post_init__(self) -> None:
        super().__post_init__()
        self._refusal = threading.local()

    def reset(self) -> None:
        """Forget requests, scripted steps, the cache and every switch (between tests)."""
        self.requests.clear()
        self.steps.clear()
        self.cache.clear()
        self.stream_error = None
        self.report_thinking_tokens = True

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

    # -- what the request asks for ---------------------------------------------------------

    def next_step(self, request: Request | None = None) -> Step:
        problem = problems(request.body) if request is not None else None
        if problem is not None:  # refused before any scripted step is used up
            self._refusal.message = problem
            return Step(status=400)
        return super().next_step(request)

    def respond(self, request: Request) -> str:
        schema = (request.body.get("output_config") or {}).get("format", {}).get("schema")
        if schema is not None:
            return json.dumps(example_of(schema, schema.get("$defs", {})))
        return super().respond(request)

    def answer_for(self, request: Request, step: Step) -> Answer:
        answer = super().answer_for(request, step)
        thinking = self.thinking_text if thinking_on(request.body) else None
        thought = len(thinking.split()) if thinking else 0
        read, write = self.cached(request.body)
        values = dataclasses.asdict(answer)
        values["input_tokens"] = max(0, answer.input_tokens - read - write)
        values["output_tokens"] = answer.output_tokens + thought
        return AnthropicAnswer(
            **values,
            thinking=thinking,
            thinking_tokens=thought if thinking and self.report_thinking_tokens else None,
            cache_read=read,
            cache_write=write,
        )

    def cached(self, body: dict[str, Any]) -> tuple[int, int]:
        """(tokens read from the cache, tokens written to it) for this request's prefix."""
        prefix = cached_prefix(body)
        if prefix is None:
            return 0, 0
        size = len(prefix.split())
        key = hashlib.sha256(prefix.encode()).hexdigest()
        with self._lock:
            if key in self.cache:
                return self.cache[key], 0
            self.cache[key] = size
        return 0, size

    # -- the answer ------------------------------------------------------------------------

    def body(self, answer: Answer) -> dict[str, Any]:
        content: list[dict[str, Any]] = []
        extra = _extra(answer)
        if extra.thinking:
            content.append({"type": "thinking", "thinking": extra.thinking, "signature": SIGNATURE})
        content.append({"type": "text", "text": answer.text})
        return {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": answer.model,
            "content": content,
            "stop_reason": None if answer.unfinished else answer.finish_reason or "end_turn",
            "stop_sequence": None,
            "usage": {**_input_usage(extra), **_output_usage(extra)},
        }

    def events(self, answer: Answer) -> Iterator[bytes]:
        extra = _extra(answer)
        message = {
            "id": f"msg_{uuid.uuid4().hex[:24]}",
            "type": "message",
            "role": "assistant",
            "model": answer.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {**_input_usage(extra), "output_tokens": 1},
        }
        yield _event({"type": "message_start", "message": message})
        index = 0
        if extra.thinking:
            yield from _thinking_events(extra.thinking)
            index = 1
        block = {"type": "text", "text": ""}
        yield _event({"type": "content_block_start", "index": index, "content_block": block})
        yield _event({"type": "ping"})
        for n, piece in enumerate(words(answer.text)):
            delta = {"type": "text_delta", "text": piece}
            yield _event({"type": "content_block_delta", "index": index, "delta": delta})
            if n == 0 and self.stream_error:
                yield _event(self.error_body(0, f"scripted {self.stream_error}", self.stream_error))
                return
        yield _event({"type": "content_block_stop", "index": index})
        if answer.unfinished:  # the stream ends without message_delta and message_stop
            return
        delta = {"stop_reason": answer.finish_reason or "end_turn", "stop_sequence": None}
        # The API's final usage repeats the input figures: every field is a running total.
        usage = {**_input_usage(extra), **_output_usage(extra)}
        yield _event({"type": "message_delta", "delta": delta, "usage": usage})
        yield _event({"type": "message_stop"})

    def error_body(self, status: int, message: str, kind: str | None = None) -> dict[str, Any]:
        refusal = getattr(self._refusal, "message", None)
        if refusal is not None and status == 400:
            message, self._refusal.message = refusal, None
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


def _extra(answer: Answer) -> AnthropicAnswer:
    if isinstance(answer, AnthropicAnswer):
        return answer
    return AnthropicAnswer(**dataclasses.asdict(answer))


def _input_usage(answer: AnthropicAnswer) -> dict[str, Any]:
    return {
        "input_tokens": answer.input_tokens,
        "cache_creation_input_tokens": answer.cache_write,
        "cache_read_input_tokens": answer.cache_read,
    }


def _output_usage(answer: AnthropicAnswer) -> dict[str, Any]:
    usage: dict[str, Any] = {"output_tokens": answer.output_tokens}
    if answer.thinking_tokens is not None:
        usage["output_tokens_details"] = {"thinking_tokens": answer.thinking_tokens}
    return usage


def _thinking_events(thinking: str) -> Iterator[bytes]:
    block = {"type": "thinking", "thinking": "", "signature": ""}
    yield _event({"type": "content_block_start", "index": 0, "content_block": block})
    for piece in words(thinking):
        delta = {"type": "thinking_delta", "thinking": piece}
        yield _event({"type": "content_block_delta", "index": 0, "delta": delta})
    signature = {"type": "signature_delta", "signature": SIGNATURE}
    yield _event({"type": "content_block_delta", "index": 0, "delta": signature})
    yield _event({"type": "content_block_stop", "index": 0})


def _event(data: dict[str, Any]) -> bytes:
    """One SSE event carrying its type in the `event:` line, as Anthropic sends them."""
    return sse(data, event=str(data["type"]))


# -- reading requests as the API does ------------------------------------------------------


def thinking_on(body: dict[str, Any]) -> bool:
    """Whether the request turns thinking on (a budget or adaptive)."""
    return (body.get("thinking") or {}).get("type") in ("enabled", "adaptive")


def blocks_of(body: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every content block of the request in order: system blocks, then messages' blocks."""
    system = body.get("system")
    if isinstance(system, list):
        yield from system
    for message in body.get("messages", []):
        content = message.get("content")
        if isinstance(content, list):
            yield from content


def cached_prefix(body: dict[str, Any]) -> str | None:
    """The request up to its last cache breakpoint, as text; None with no breakpoint."""
    blocks = list(blocks_of(body))
    marked = [i for i, b in enumerate(blocks) if b.get("cache_control")]
    if not marked:
        return None
    kept = [{k: v for k, v in b.items() if k != "cache_control"} for b in blocks[: marked[-1] + 1]]
    return json.dumps([body.get("model"), kept])


def problems(body: dict[str, Any]) -> str | None:
    """What the API would refuse in this request, as its 400 message; None if nothing."""
    thinking = body.get("thinking") or {}
    if thinking.get("type") == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < 1024:
            return "thinking.budget_tokens: Input should be greater than or equal to 1024"
        if budget >= body.get("max_tokens", 0):
            return "`max_tokens` must be greater than `thinking.budget_tokens`"
    effort = (body.get("output_config") or {}).get("effort")
    if effort is not None and effort not in ("low", "medium", "high", "xhigh", "max"):
        return f"output_config.effort: unknown effort {effort!r}"
    for n, message in enumerate(body.get("messages", [])):
        content = message.get("content")
        if not content or (isinstance(content, str) and not content.strip()):
            return f"messages.{n}: all messages must have non-empty content"
    for block in blocks_of(body):
        problem = _block_problem(block)
        if problem is not None:
            return problem
    if sum(1 for b in blocks_of(body) if b.get("cache_control")) > 4:
        return "A maximum of 4 blocks with cache_control may be provided."
    return None


def _block_problem(block: dict[str, Any]) -> str | None:
    kind = block.get("type")
    if kind == "text":
        empty = not str(block.get("text", "")).strip()
        return "text content blocks must be non-empty" if empty else None
    source = block.get("source") or {}
    if kind == "image":
        if source.get("type") != "base64" or source.get("media_type") not in IMAGE_TYPES:
            return f"image source: unsupported {source.get('type')} {source.get('media_type')}"
        return _base64_problem(source.get("data"), "image")
    if kind == "document":
        if source.get("type") == "text":
            ok = source.get("media_type") == "text/plain" and isinstance(source.get("data"), str)
            return None if ok else "document text source: media_type must be text/plain"
        if source.get("type") != "base64" or source.get("media_type") != "application/pdf":
            return f"document source: unsupported {source.get('type')} {source.get('media_type')}"
        return _base64_problem(source.get("data"), "document")
    return f"unsupported content block type {kind!r}"


def _base64_problem(data: object, kind: str) -> str | None:
    try:
        base64.b64decode(str(data), validate=True)
    except (binascii.Error, ValueError):
        return f"{kind} source: the data is not valid base64"
    return None


def example_of(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    """A value that fits a (strict) JSON Schema, as the model's constrained answer would."""
    if "$ref" in schema:
        return example_of(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "allOf"):
        if schema.get(key):
            return example_of(schema[key][0], defs)
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {k: example_of(v, defs) for k, v in props.items()}
    if kind == "array":
        return [example_of(schema["items"], defs)] if "items" in schema else []
    return {"string": "text", "integer": 1, "number": 1.5, "boolean": True}.get(str(kind))
