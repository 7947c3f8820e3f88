"""A local server speaking OpenAI's Chat Completions wire protocol, for the real `openai` SDK.

Serves `POST /v1/chat/completions` (a JSON `chat.completion`, or with `"stream": true` SSE
`data: {chunk}` lines ending in `data: [DONE]`, plus a `choices: []` usage chunk when
`stream_options.include_usage` was asked), `GET /v1/models`, and OpenAI's error body
`{"error": {"message", "type", "param", "code"}}`. Auth is `Authorization: Bearer <key>`.
The same server stands in for OpenAI-compatible servers (Ollama, vLLM, ...) with
`require_auth=False`.

Like OpenAI it checks what it receives and answers 400 with OpenAI's message when a content
part, a `response_format` (strict schemas included) or a `reasoning_effort` is wrong; the
reasons are kept in `rejected`. It answers a schema request with JSON that fits the schema,
reports reasoning tokens for a `reasoning_effort` and cached tokens for a prompt prefix it
has seen before (`caching=True`), and can return thinking beside the answer as compatible
servers do (`ChatStep(thinking=...)`, streamed as `delta.reasoning_content`).
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
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


EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
REASONING_TOKENS = {"minimal": 4, "low": 16, "medium": 64, "high": 256}
"""What the server says a reasoning effort cost, in tokens (the rest: 0)."""


@dataclass
class ChatStep(Step):
    """A step with what only Chat Completions reports."""

    thinking: str | None = None
    """Thinking to return beside the answer (`reasoning_content`), as compatible servers do."""
    reasoning_tokens: int | None = None
    """Reasoning tokens to report (counted in completion_tokens); default: by the effort."""
    cached_tokens: int | None = None
    """Cached prompt tokens to report; default: the prefix seen before (with `caching`)."""


@dataclass
class ChatAnswer(Answer):
    """An answer plus what the request asked about its shape."""

    include_usage: bool = False
    models_list: bool = False
    available: tuple[str, ...] = ()
    thinking: str = ""
    reasoning_tokens: int = 0
    cached_tokens: int = 0


@dataclass
class OpenAIServer(WireServer):
    """OpenAI's Chat Completions protocol on 127.0.0.1."""

    require_auth: bool = True
    """False for a compat server that takes any key, or none at all."""
    models: tuple[str, ...] = ("gpt-test", "gpt-test-mini")
    """What `GET /v1/models` lists."""
    caching: bool = False
    """Report cached tokens for the longest run of leading messages an earlier request sent."""
    usage_details: bool = True
    """Report prompt_tokens_details and completion_tokens_details (OpenAI does; llama.cpp
    servers do not)."""
    thinking_field: str = "reasoning_content"
    """Where thinking goes (`reasoning_content`: DeepSeek, vLLM, llama.cpp; `reasoning`: Ollama)."""
    rejected: list[str] = field(default_factory=list)
    """Why each request the server refused (400) was wrong."""

    protocol: ClassVar[str] = "openai"

    def __post_init__(self) -> None:
        super().__post_init__()
        self._seen: list[list[Any]] = []
        self._reason = threading.local()  # handler threads: the 400's message, per request

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

    def next_step(self, request: Request | None = None) -> Step:
        step = super().next_step(request)
        problem = None if request is None or request.method != "POST" else invalid(request.body)
        if problem is not None and step.status < 400:
            with self._lock:
                self.rejected.append(problem)
            self._reason.message = problem
            return Step(status=400)
        return step

    def respond(self, request: Request) -> str:
        schema = schema_of(request.body)
        if schema is not None and self.responder is None:
            return json.dumps(example_of(schema, schema))
        return super().respond(request)

    def answer_for(self, request: Request, step: Step) -> Answer:
        if request.method == "GET":
            return ChatAnswer("", "", 0, 0, models_list=True, available=self.models)
        base = super().answer_for(request, step)
        options = request.body.get("stream_options") or {}
        chat = step if isinstance(step, ChatStep) else ChatStep()
        effort = request.body.get("reasoning_effort")
        reasoning = chat.reasoning_tokens
        if reasoning is None:
            reasoning = REASONING_TOKENS.get(str(effort), 0)
        output = base.output_tokens
        if step.output_tokens is None:
            output += reasoning  # completion_tokens counts the reasoning too
        cached = chat.cached_tokens
        if cached is None:
            cached = min(self._cached(request), base.input_tokens)
        return ChatAnswer(
            text=base.text,
            model=base.model,
            input_tokens=base.input_tokens,
            output_tokens=output,
            finish_reason=base.finish_reason,
            unfinished=base.unfinished,
            usage=base.usage,
            include_usage=bool(options.get("include_usage")) and base.usage,
            thinking=chat.thinking or "",
            reasoning_tokens=reasoning,
            cached_tokens=cached,
        )

    def _cached(self, request: Request) -> int:
        """With `caching`: the words of the longest leading run of messages seen before."""
        if not self.caching:
            return 0
        messages = list(request.body.get("messages") or [])
        with self._lock:
            seen = list(self._seen)
            self._seen.append(messages)
        longest = 0
        for earlier in seen:
            n = 0
            while n < min(len(earlier), len(messages)) and earlier[n] == messages[n]:
                n += 1
            longest = max(longest, n)
        return len(json.dumps(messages[:longest]).split()) if longest else 0

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
                    "message": self._message(answer),
                    "logprobs": None,
                    "finish_reason": None if answer.unfinished else answer.finish_reason or "stop",
                }
            ],
            "usage": self._usage(answer) if answer.usage else None,
            "service_tier": "default",
        }

    def _message(self, answer: Answer) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": answer.text,
            "refusal": None,
            "annotations": [],
        }
        if isinstance(answer, ChatAnswer) and answer.thinking:
            message[self.thinking_field] = answer.thinking
        return message

    def _usage(self, answer: Answer) -> dict[str, Any]:
        usage: dict[str, Any] = {
            "prompt_tokens": answer.input_tokens,
            "completion_tokens": answer.output_tokens,
            "total_tokens": answer.input_tokens + answer.output_tokens,
        }
        if self.usage_details:
            chat = answer if isinstance(answer, ChatAnswer) else None
            usage["prompt_tokens_details"] = {
                "cached_tokens": chat.cached_tokens if chat else 0,
                "audio_tokens": 0,
            }
            usage["completion_tokens_details"] = {
                "reasoning_tokens": chat.reasoning_tokens if chat else 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            }
        return usage

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
        thinking = answer.thinking if isinstance(answer, ChatAnswer) else ""
        for piece in words(thinking) if thinking else ():
            yield chunk([delta({self.thinking_field: piece})])
        for piece in words(answer.text):
            yield chunk([delta({"content": piece})])
        yield chunk([delta({}, None if answer.unfinished else answer.finish_reason or "stop")])
        if include_usage:
            yield chunk([], self._usage(answer))
        yield b"data: [DONE]\n\n"

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        reason = getattr(self._reason, "message", None)
        if status == 400 and reason:
            self._reason.message = None
            message = reason
        kind, code = _ERROR_KINDS.get(
            status, ("server_error" if status >= 500 else "invalid_request_error", None)
        )
        return {"error": {"message": message, "type": kind, "param": None, "code": code}}


# -- what OpenAI checks in a request, and a JSON answer that fits a schema ---------------------

_PART_TYPES = ("text", "image_url", "file", "input_audio")
_NOT_STRICT = ("oneOf", "not", "if", "then", "else", "allOf", "patternProperties", "default")


def invalid(body: dict[str, Any]) -> str | None:
    """What OpenAI would refuse in this request body (its 400 message), or None."""
    for i, message in enumerate(body.get("messages") or []):
        content = message.get("content")
        if isinstance(content, list):
            for j, part in enumerate(content):
                problem = _invalid_part(part, message.get("role"))
                if problem:
                    return f"Invalid 'messages[{i}].content[{j}]': {problem}"
    effort = body.get("reasoning_effort")
    if effort is not None and effort not in EFFORTS:
        return f"Invalid value: '{effort}'. Supported values are: {', '.join(EFFORTS)}."
    return _invalid_format(body.get("response_format"))


def _invalid_part(part: Any, role: Any) -> str | None:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind not in _PART_TYPES:
        return f"unknown content part type {kind!r}"
    if role != "user" and kind != "text":
        return f"a {role} message takes text parts only, not {kind}"
    if kind == "text":
        return None if isinstance(part.get("text"), str) else "a text part needs 'text'"
    if kind == "image_url":
        url = (part.get("image_url") or {}).get("url", "")
        if url.startswith(("http://", "https://")):
            return None
        return _invalid_data_url(url, "image/", "an image")
    if kind == "file":
        file = part.get("file") or {}
        if not isinstance(file.get("filename"), str) or not file["filename"]:
            return "a file part with file_data needs a filename"
        return _invalid_data_url(file.get("file_data", ""), "application/pdf", "a PDF")
    return None


def _invalid_data_url(url: Any, media: str, what: str) -> str | None:
    head, _, data = str(url).partition(";base64,")
    if not head.startswith("data:" + media) or not data:
        return f"Expected a base64-encoded data URL of {what}, not {str(url)[:40]!r}"
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return f"the data URL of {what} is not valid base64"
    return None


def _invalid_format(fmt: Any) -> str | None:
    if fmt is None:
        return None
    kind = fmt.get("type") if isinstance(fmt, dict) else None
    if kind not in ("text", "json_object", "json_schema"):
        return f"Invalid value for 'response_format.type': {kind!r}"
    if kind != "json_schema":
        return None
    spec = fmt.get("json_schema") or {}
    name = spec.get("name")
    if not isinstance(name, str) or not name or len(name) > 64:
        return "Missing required parameter: 'response_format.json_schema.name'."
    if not isinstance(spec.get("schema"), dict):
        return "Invalid 'response_format.json_schema.schema': expected an object."
    if spec.get("strict") is True:
        problem = _not_strict(spec["schema"], ())
        if problem:
            return f"Invalid schema for response_format '{name}': {problem}"
    return None


def _not_strict(node: Any, path: tuple[str, ...]) -> str | None:
    """What OpenAI's strict mode refuses in a schema (the first thing), or None."""
    if isinstance(node, list):
        return next((p for i, n in enumerate(node) if (p := _not_strict(n, (*path, str(i))))), None)
    if not isinstance(node, dict):
        return None
    where = f"In context={path}, "
    for key in _NOT_STRICT:
        if key in node:
            return where + f"'{key}' is not permitted."
    if node.get("type") == "object" or "properties" in node:
        if node.get("additionalProperties") is not False:
            return where + "'additionalProperties' is required to be supplied and to be false."
        missing = [k for k in node.get("properties") or {} if k not in node.get("required", [])]
        if missing:
            return (
                where + "'required' is required to be supplied and to be an array including "
                f"every key in properties. Missing '{missing[0]}'."
            )
    for key in ("properties", "$defs", "definitions"):
        for name, child in (node.get(key) or {}).items():
            if problem := _not_strict(child, (*path, key, name)):
                return problem
    for key in ("items", "anyOf"):
        if problem := _not_strict(node.get(key), (*path, key)):
            return problem
    return None


def schema_of(body: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON Schema a request asks the answer to follow, in either form, or None."""
    fmt = body.get("response_format")
    if not isinstance(fmt, dict):
        return None
    if fmt.get("type") == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema")
    else:
        schema = fmt.get("schema")  # llama-cpp-python's {"type": "json_object", "schema": ...}
    return schema if isinstance(schema, dict) else None


def example_of(schema: Any, root: dict[str, Any]) -> Any:
    """A value that fits `schema` (the first choice of everything, every property filled)."""
    if not isinstance(schema, dict):
        return "text"
    if "$ref" in schema:
        target: Any = root
        for key in schema["$ref"][2:].split("/"):
            target = target[key]
        return example_of({**target, **{k: v for k, v in schema.items() if k != "$ref"}}, root)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if schema.get(key):
            return example_of(schema[key][0], root)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        return {k: example_of(v, root) for k, v in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [example_of(schema.get("items"), root)] if schema.get("maxItems") != 0 else []
    return {"integer": 4, "number": 4.5, "boolean": True, "null": None}.get(str(kind), "text")
