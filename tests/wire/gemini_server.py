"""The Gemini Developer API (generativelanguage) wire protocol, enough for the google-genai SDK.

    POST /{v1,v1beta}/models/{model}:generateContent               -> one JSON answer
    POST /{v1,v1beta}/models/{model}:streamGenerateContent?alt=sse -> `data: {...}` chunks

The key travels in the `x-goog-api-key` header (the SDK's way) or the `key` query
parameter. Errors are `{"error": {"code", "message", "status"}}` with the google.rpc
status name; a 429 also carries the QuotaFailure detail the real API sends.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from tests.wire.harness import Answer, Request, WireServer, sse, words

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


@dataclass
class GeminiServer(WireServer):
    """Speaks generateContent / streamGenerateContent like generativelanguage.googleapis.com."""

    protocol: ClassVar[str] = "gemini"

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
        return {
            "candidates": [self._candidate(answer.text, self._finish(answer, last=True))],
            "usageMetadata": self._usage(answer, final=True),
            "modelVersion": answer.model,
            "responseId": "resp-wire-1",
        }

    def events(self, answer: Answer) -> Iterator[bytes]:
        pieces = words(answer.text)
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            chunk: dict[str, Any] = {
                "candidates": [self._candidate(piece, self._finish(answer, last=last))],
                # Like the real API: every chunk has the prompt count, only the last the output.
                "usageMetadata": self._usage(answer, final=last),
                "modelVersion": answer.model,
                "responseId": "resp-wire-1",
            }
            yield sse(chunk)

    def error_body(self, status: int, message: str) -> dict[str, Any]:
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
    def _candidate(text: str, finish_reason: str | None) -> dict[str, Any]:
        candidate: dict[str, Any] = {
            "content": {"parts": [{"text": text}], "role": "model"},
            "index": 0,
        }
        if finish_reason:
            candidate["finishReason"] = finish_reason
        return candidate

    @staticmethod
    def _usage(answer: Answer, *, final: bool) -> dict[str, int]:
        if not answer.usage:
            return {}
        if not final:
            return {"promptTokenCount": answer.input_tokens, "totalTokenCount": answer.input_tokens}
        return {
            "promptTokenCount": answer.input_tokens,
            "candidatesTokenCount": answer.output_tokens,
            "totalTokenCount": answer.input_tokens + answer.output_tokens,
        }
