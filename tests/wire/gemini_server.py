"""The Gemini Developer API (generativelanguage) wire protocol, enough for the google-genai SDK.

    POST /{v1,v1beta}/models/{model}:generateContent               -> one JSON answer
    POST /{v1,v1beta}/models/{model}:streamGenerateContent?alt=sse -> `data: {...}` chunks

The key travels in the `x-goog-api-key` header (the SDK's way) or the `key` query
parameter. Errors are `{"error": {"code", "message", "status"}}` with the google.rpc
status name; a 429 also carries the QuotaFailure detail the real API sends.

Like the real API it checks what it receives (a 400 INVALID_ARGUMENT, the reason kept in
`rejected`): roles user/model, inline data with a media type and base64 data, a JSON schema
only with the JSON media type, a thinking level or a budget but not both. A request with
`responseJsonSchema` is answered with JSON that fits it; a `GeminiStep` adds thinking (thought
parts when `includeThoughts`, `thoughtsTokenCount` either way) and cached prompt tokens. Field
names are read in both proto-JSON spellings (the SDK sends `mime_type`, `include_thoughts`).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from tests.wire.harness import Answer, Request, Step, WireServer, sse, words

_PATH = re.compile(r"^/(v1|v1beta)/models/([^/:]+):(generateContent|streamGenerateContent)$")
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

SIGNATURE = base64.b64encode(b"thought-signature").decode()


@dataclass
class GeminiStep(Step):
    """A Step with what only Gemini reports: thinking and cached prompt tokens."""

    thoughts: str | None = None
    """The thought summary, sent as `thought: true` parts when the request asks for them."""
    thoughts_tokens: int | None = None
    """`thoughtsTokenCount` (defaults to the thought summary's word count)."""
    cached_tokens: int | None = None
    """`cachedContentTokenCount`: of the prompt tokens, those read from the cache."""


@dataclass
class GeminiAnswer(Answer):
    """An Answer with its thinking and cache figures."""

    thoughts: str = ""
    show_thoughts: bool = False
    thoughts_tokens: int | None = None
    cached_tokens: int | None = None


def field_of(body: Mapping[str, Any], camel: str) -> Any:
    """A field by its JSON name or its proto name (the real API takes both)."""
    snake = re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), camel)
    return body.get(camel, body.get(snake))


def example(schema: Mapping[str, Any], root: Mapping[str, Any] | None = None) -> Any:
    """A value that fits a (simple) JSON Schema: what a model held to it would answer."""
    root = root if root is not None else schema
    if "$ref" in schema:
        return example(root["$defs"][str(schema["$ref"]).rsplit("/", 1)[-1]], root)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return example(schema[key][0], root)
    kind = schema.get("type", "object")
    kind = next(k for k in kind if k != "null") if isinstance(kind, list) else kind
    if kind == "object":
        return {k: example(v, root) for k, v in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [example(schema.get("items") or {}, root)]
    return {"string": "text", "integer": 1, "number": 1.5, "boolean": True}.get(kind)


def is_base64(text: str) -> bool:
    """Standard or URL-safe base64 (proto JSON takes both; the SDK sends URL-safe)."""
    for altchars in (b"+/", b"-_"):
        try:
            base64.b64decode(text, altchars=altchars, validate=True)
        except binascii.Error:
            continue
        return True
    return False


def problem_of(body: Mapping[str, Any]) -> str | None:
    """What the real API would refuse in this request body, or None."""
    for content in body.get("contents") or []:
        if content.get("role", "user") not in ("user", "model"):
            return f"Please use a valid role: user, model (not {content.get('role')!r})."
        for part in content.get("parts") or []:
            blob = field_of(part, "inlineData")
            if blob is None:
                continue
            if not field_of(blob, "mimeType"):
                return "inline_data.mime_type is required."
            if not is_base64(str(blob.get("data", ""))):
                return "Invalid value at 'inline_data.data' (TYPE_BYTES), Base64 decoding failed."
    config = body.get("generationConfig") or {}
    if (
        field_of(config, "responseJsonSchema") is not None
        and field_of(config, "responseMimeType") != "application/json"
    ):
        return "response_json_schema requires response_mime_type application/json."
    thinking = field_of(config, "thinkingConfig") or {}
    level, budget = field_of(thinking, "thinkingLevel"), field_of(thinking, "thinkingBudget")
    if level is not None and budget is not None:
        return "You can only set one of thinking level and thinking budget."
    if level is not None and level not in ("MINIMAL", "LOW", "MEDIUM", "HIGH"):
        return f"Invalid value at 'thinking_config.thinking_level': {level!r}."
    if budget == 0 and field_of(thinking, "includeThoughts"):
        return "include_thoughts is only enabled when thinking is enabled."
    return None


@dataclass
class GeminiServer(WireServer):
    """Speaks generateContent / streamGenerateContent like generativelanguage.googleapis.com."""

    protocol: ClassVar[str] = "gemini"
    rejected: list[str] = field(default_factory=list)
    """Why each refused request was refused (the 400's message), in order."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._refusal = threading.local()  # one handler thread per request

    def next_step(self, request: Request | None = None) -> Step:
        problem = problem_of(request.body) if request is not None else None
        if problem is None:
            return super().next_step(request)
        with self._lock:
            self.rejected.append(problem)
        self._refusal.message = problem
        return Step(status=400)

    def answer_for(self, request: Request, step: Step) -> GeminiAnswer:
        answer = super().answer_for(request, step)
        extra = step if isinstance(step, GeminiStep) else GeminiStep()
        thoughts = extra.thoughts or ""
        config = request.body.get("generationConfig") or {}
        asked = field_of(field_of(config, "thinkingConfig") or {}, "includeThoughts")
        counted = extra.thoughts_tokens
        return GeminiAnswer(
            **asdict(answer),
            thoughts=thoughts,
            show_thoughts=bool(asked),
            thoughts_tokens=counted
            if counted is not None or not thoughts
            else len(thoughts.split()),
            cached_tokens=extra.cached_tokens,
        )

    def respond(self, request: Request) -> str:
        config = request.body.get("generationConfig") or {}
        schema = field_of(config, "responseJsonSchema")
        if schema is not None and self.responder is None:
            return json.dumps(example(schema))
        return super().respond(request)

    def route(self, method: str, path: str) -> str | None:
        parts = urlsplit(path)
        match = _PATH.match(parts.path)
        if method != "POST" or match is None:
            return None
        if match.group(3) == "generateContent":
            return "json"
        # Without alt=sse the real API streams one JSON array; the SDK never asks for that.
        return "sse" if parse_qs(parts.query).get("alt") == ["sse"] else None

    def authorized(self, headers: dict[str, str], path: str) -> bool:
        key = headers.get("x-goog-api-key") or parse_qs(urlsplit(path).query).get("key", [""])[0]
        return key == self.api_key

    def model_of(self, request: Request) -> str:
        match = _PATH.match(urlsplit(request.path).path)
        return match.group(2) if match else "unknown"

    def last_user_text(self, request: Request) -> str:
        for content in reversed(request.body.get("contents") or []):
            if content.get("role", "user") == "user":
                return "".join(p.get("text", "") for p in content.get("parts") or [])
        return ""

    def body(self, answer: Answer) -> dict[str, Any]:
        parts = [*self._thought_parts(answer, whole=True), *self._text_parts(answer, answer.text)]
        return {
            "candidates": [self._candidate(parts, self._finish(answer, last=True))],
            "usageMetadata": self._usage(answer, final=True),
            "modelVersion": answer.model,
            "responseId": "resp-wire-1",
        }

    def events(self, answer: Answer) -> Iterator[bytes]:
        # Thoughts stream first, a part per chunk, then the answer, a word per chunk.
        chunks = [[p] for p in self._thought_parts(answer, whole=False)]
        pieces = words(answer.text)
        chunks += [self._text_parts(answer, p, first=i == 0) for i, p in enumerate(pieces)]
        for i, parts in enumerate(chunks):
            last = i == len(chunks) - 1
            chunk: dict[str, Any] = {
                "candidates": [self._candidate(parts, self._finish(answer, last=last))],
                # Like the real API: every chunk has the prompt count, only the last the output.
                "usageMetadata": self._usage(answer, final=last),
                "modelVersion": answer.model,
                "responseId": "resp-wire-1",
            }
            yield sse(chunk)

    @staticmethod
    def _thought_parts(answer: Answer, *, whole: bool) -> list[dict[str, Any]]:
        if not isinstance(answer, GeminiAnswer) or not answer.thoughts or not answer.show_thoughts:
            return []
        texts = [answer.thoughts] if whole else words(answer.thoughts)
        return [{"text": text, "thought": True} for text in texts]

    @staticmethod
    def _text_parts(answer: Answer, text: str, *, first: bool = True) -> list[dict[str, Any]]:
        part: dict[str, Any] = {"text": text}
        if first and isinstance(answer, GeminiAnswer) and answer.thoughts:
            part["thoughtSignature"] = SIGNATURE  # Gemini 3 signs its thinking on the next part
        return [part]

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        refusal = getattr(self._refusal, "message", None)
        if status == 400 and refusal is not None:
            message, self._refusal.message = refusal, None
        name = STATUS_NAMES.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")
        error: dict[str, Any] = {"code": status, "message": message, "status": name}
        if status == 429:
            error["details"] = [
                {
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [
                        {"quotaMetric": "generate_content_requests", "quotaId": "PerMinute"}
                    ],
                }
            ]
        return {"error": error}

    @staticmethod
    def _finish(answer: Answer, *, last: bool) -> str | None:
        return (answer.finish_reason or "STOP") if last and not answer.unfinished else None

    @staticmethod
    def _candidate(parts: list[dict[str, Any]], finish_reason: str | None) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
        if finish_reason:
            candidate["finishReason"] = finish_reason
        return candidate

    @staticmethod
    def _usage(answer: Answer, *, final: bool) -> dict[str, int]:
        if not answer.usage:
            return {}
        usage = {"promptTokenCount": answer.input_tokens}
        cached = answer.cached_tokens if isinstance(answer, GeminiAnswer) else None
        if cached is not None:  # part of the prompt count, as the real API reports it
            usage["cachedContentTokenCount"] = cached
        if not final:
            return {**usage, "totalTokenCount": answer.input_tokens}
        thoughts = answer.thoughts_tokens if isinstance(answer, GeminiAnswer) else None
        usage["candidatesTokenCount"] = answer.output_tokens
        if thoughts:
            usage["thoughtsTokenCount"] = thoughts
        return {
            **usage,
            "totalTokenCount": answer.input_tokens + answer.output_tokens + (thoughts or 0),
        }
