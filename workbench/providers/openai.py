"""OpenAI through the official `openai` SDK and the Chat Completions API.

The request is built in `openai_request` (files, schemas, reasoning: the decisions are
there); this module reads answers (text, thinking, usage and its parts), maps errors, and
holds the client. `compat.CompatModel` reuses all of it for OpenAI-compatible servers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from workbench.errors import ConnectionFailed, MalformedResponse, MissingKey, ProviderError
from workbench.providers import classify
from workbench.providers._common import (
    Exhausted,
    Gathered,
    import_sdk,
    normalize_finish_reason,
    paused,
    retry_after_seconds,
)
from workbench.providers.base import (
    Completion,
    Limits,
    Model,
    Prompt,
    ProviderSettings,
    TextSink,
    Usage,
)
from workbench.providers.content import FileKind
from workbench.providers.openai_request import budget_refusal, request_from_prompt

__all__ = [
    "OpenAIModel",
    "StreamState",
    "completion_from_response",
    "error_from_exception",
    "request_from_prompt",
]

if TYPE_CHECKING:
    from openai import AsyncOpenAI
    from openai.types.chat import ChatCompletion, ChatCompletionChunk


def _count(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _usage(raw: Any) -> Usage | None:
    """The usage a response or chunk reported, with its parts; None when it reported none.

    Reasoning tokens are counted in completion_tokens and cached ones in prompt_tokens, as
    `Usage` wants them. DeepSeek reports its cache hits as `prompt_cache_hit_tokens`.
    """
    if raw is None:
        return None
    prompt_details = getattr(raw, "prompt_tokens_details", None)
    completion_details = getattr(raw, "completion_tokens_details", None)
    cached = _count(getattr(prompt_details, "cached_tokens", None))
    if cached is None:
        cached = _count(getattr(raw, "prompt_cache_hit_tokens", None))
    usage = Usage(
        _count(getattr(raw, "prompt_tokens", None)),
        _count(getattr(raw, "completion_tokens", None)),
        reasoning_tokens=_count(getattr(completion_details, "reasoning_tokens", None)),
        cached_input_tokens=cached,
        cache_write_tokens=_count(getattr(prompt_details, "cache_write_tokens", None)),
    )
    return usage if usage.source else None


def _thinking(holder: Any) -> str:
    """Thinking text a compatible server put beside the answer (never part of it).

    DeepSeek, vLLM and llama.cpp's server say `reasoning_content`; Ollama and newer vLLM
    say `reasoning`. OpenAI's Chat Completions returns no thinking text.
    """
    for key in ("reasoning_content", "reasoning"):
        value = getattr(holder, key, None)
        if isinstance(value, str) and value:
            return value
    return ""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def completion_from_response(response: ChatCompletion, label: str = "openai") -> Completion:
    """Read a Completion from a non-streaming `chat.completion`; no finish reason: incomplete."""
    # The SDK builds models without validation, so a wrong-shaped body fails on access here.
    try:
        choices = response.choices
        if not choices:
            raise MalformedResponse("the answer had no choices")
        choice = choices[0]
        message = choice.message
        text = _text(message.content) or _text(getattr(message, "refusal", None))
        thinking = _thinking(message) or None
        finish = normalize_finish_reason(getattr(choice, "finish_reason", None))
        usage = _usage(getattr(response, "usage", None)) or Usage()
        model_version = getattr(response, "model", None) or None
    except (AttributeError, TypeError, ValueError, IndexError, KeyError) as exc:
        raise MalformedResponse(f"unreadable chat completion ({type(exc).__name__})") from None
    if finish is None:
        raise classify.incomplete(label, text, "the answer has no finish_reason")
    return Completion(text, usage, finish, model_version, thinking=thinking)


@dataclass
class StreamState(Gathered):
    """Collects a Chat Completions stream: text and thinking, usage, finish reason, model."""

    usage: Usage | None = None
    finish_reason: str | None = None
    model_version: str | None = None
    chunks: int = 0

    def add(self, chunk: ChatCompletionChunk) -> tuple[str, str]:
        """Take one chunk; return its new text and its new thinking ("" if none)."""
        try:
            self.chunks += 1
            self.model_version = getattr(chunk, "model", None) or self.model_version
            self.usage = _usage(getattr(chunk, "usage", None)) or self.usage
            piece = thought = ""
            for choice in chunk.choices or ():  # the include_usage chunk has none
                if getattr(choice, "index", 0) != 0:
                    continue
                delta = getattr(choice, "delta", None)
                piece += _text(getattr(delta, "content", None))
                piece += _text(getattr(delta, "refusal", None))
                thought += _thinking(delta)
                self.finish_reason = getattr(choice, "finish_reason", None) or self.finish_reason
        except (AttributeError, TypeError, ValueError) as exc:
            raise MalformedResponse(f"unreadable stream chunk ({type(exc).__name__})") from None
        self.keep(piece, thought)
        return piece, thought

    def completion(self, label: str = "openai") -> Completion:
        """The Completion the stream added up to; a stream with no finish reason is incomplete.

        A `[DONE]` is not proof: llama.cpp's server ends an interrupted stream with one.
        """
        if not self.chunks:
            raise classify.incomplete(label, "", "the stream ended before its first chunk")
        if self.finish_reason is None:
            raise classify.incomplete(label, self.text, "the stream ended without a finish_reason")
        return Completion(
            text=self.text,
            usage=self.usage or Usage(),
            finish_reason=normalize_finish_reason(self.finish_reason),
            model_version=self.model_version,
            thinking=self.thinking,
        )


def _detail(exc: BaseException) -> str:
    """Pick the server's own error message if the body had one, else the SDK's."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]:
        return str(body["message"])
    if isinstance(body, str) and body.strip():
        return body
    return str(getattr(exc, "message", None) or exc)


def _kind(exc: BaseException) -> str | None:
    """The error's type or code from the body (`rate_limit_exceeded`, `invalid_api_key`...)."""
    body = getattr(exc, "body", None)
    if not isinstance(body, dict):
        return None
    for key in ("code", "type"):
        value = body.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def error_from_exception(
    exc: BaseException, label: str = "openai", secret: str | None = None
) -> ProviderError:
    """Map an `openai` SDK (or decoding) exception onto the workbench's ProviderErrors."""
    if isinstance(exc, ProviderError):
        return exc
    # Checked by name so this module never needs the SDK at import time.
    names = {cls.__name__ for cls in type(exc).__mro__}
    secrets = (secret,)
    detail = _detail(exc)
    if "APITimeoutError" in names or "TimeoutException" in names or isinstance(exc, TimeoutError):
        return classify.timed_out(label)
    if "APIConnectionError" in names:
        cause = exc.__cause__ or exc.__context__
        why = f"{type(cause).__name__}: {cause}" if cause else detail
        return classify.unreachable(label, why, secrets)
    if "APIResponseValidationError" in names:
        return classify.malformed(label, f"unexpected answer shape: {detail}", secrets)
    if "APIStatusError" in names:
        status = int(getattr(exc, "status_code", 0))
        headers = getattr(getattr(exc, "response", None), "headers", None)
        return classify.from_status(
            label,
            status,
            detail,
            kind=_kind(exc),
            retry_after=retry_after_seconds(headers),
            secrets=secrets,
        )
    if "APIError" in names:  # an error event inside a stream
        body = getattr(exc, "body", None)
        code = body.get("code") if isinstance(body, dict) else None
        in_stream = code if isinstance(code, int) and 400 <= code < 600 else None
        kind = None if isinstance(code, int) else _kind(exc)
        return classify.from_status(
            label, in_stream, f"error in stream: {detail}", kind=kind, secrets=secrets
        )
    if (
        isinstance(exc, json.JSONDecodeError)
        or "ValidationError" in names
        or "DecodingError" in names
    ):
        return classify.malformed(label, f"not valid JSON: {detail}", secrets)
    if isinstance(exc, OSError) or "TransportError" in names:
        return classify.unreachable(label, f"{type(exc).__name__}: {detail}", secrets)
    return classify.unexpected(label, exc, secrets)


_MB = 1_000_000  # the limits are given in MB, and messages show sizes in MB


class OpenAIModel(Model):
    """A model served by OpenAI's Chat Completions API."""

    provider: ClassVar[str] = "openai"
    max_tokens_field: ClassVar[str] = "max_completion_tokens"
    key_required: ClassVar[bool] = True
    file_kinds: ClassVar[frozenset[FileKind]] = frozenset({"image", "pdf", "text"})
    structured: ClassVar[bool] = True
    reasoning: ClassVar[bool] = True
    limits: ClassVar[Limits] = Limits(
        image=20 * _MB,
        pdf=32 * _MB,
        request=50 * _MB,
        source="OpenAI's images and PDF guides, 2026-11: 20 MB an image, 32 MB of PDF, "
        "50 MB a request",
    )
    flat_text: ClassVar[bool] = False
    """Send text-only content (text files included) as one string, not a list of parts."""

    def __init__(self, model_id: str, settings: ProviderSettings) -> None:
        super().__init__(model_id, settings)
        key = settings.api_key()
        if self.key_required and settings.api_key_env and not key:
            raise MissingKey(settings.name, settings.api_key_env)
        self._key = key
        self._client: AsyncOpenAI | None = None
        self.schema_form = "json_schema"  # how a schema is sent: openai_request.SCHEMA_FORMS

    def _api_key(self) -> str | None:
        """Return the key to send (None lets the SDK read OPENAI_API_KEY)."""
        return self._key

    def check(self, prompt: Prompt) -> None:
        """Also refuse a budget of thinking tokens and text files that are not UTF-8."""
        super().check(prompt)
        budget = prompt.params.reasoning
        if isinstance(budget, int) and not isinstance(budget, bool):
            raise budget_refusal(self.name, budget)
        for file in prompt.files:
            if file.kind == "text":
                file.text()  # sent as text: InvalidPrompt now, before anything is sent

    def request(self, prompt: Prompt) -> dict[str, Any]:
        """The keyword arguments of `chat.completions.create` for this model."""
        return request_from_prompt(
            prompt,
            self.model_id,
            self.max_tokens_field,
            flat_text=self.flat_text,
            schema_form=self.schema_form,
        )

    def prepare(self) -> None:
        """Import the SDK and build the client."""
        self.client()

    def client(self) -> AsyncOpenAI:
        """Return the SDK client, made on first use, with retries off (the runner retries)."""
        if self._client is None:
            sdk = import_sdk("openai", self.settings.name, "openai", "openai")
            self._client = sdk.AsyncOpenAI(
                api_key=self._api_key(),
                base_url=self.settings.base_url,
                timeout=self.settings.timeout_s,
                max_retries=0,
            )
        return self._client

    async def complete(
        self,
        prompt: Prompt,
        on_text: TextSink | None = None,
        on_thinking: TextSink | None = None,
    ) -> Completion:
        """Send one prompt; stream text to `on_text` and thinking to `on_thinking`.

        Streams when either is given; raises a ProviderError on failure.
        """
        kwargs = self.request(prompt)
        client = self.client()  # outside the try: a missing SDK is a set-up error, not the call's
        state: StreamState | None = None
        try:
            if on_text is None and on_thinking is None:
                # The raw response, for its rate-limit headers; parse() is what create returns
                raw = await client.chat.completions.with_raw_response.create(**kwargs)
                exhausted = Exhausted.seen(raw.headers)
                return paused(completion_from_response(raw.parse(), self.name), exhausted)
            stream = await client.chat.completions.create(
                **kwargs, stream=True, stream_options={"include_usage": True}
            )
            exhausted = Exhausted.seen(stream.response.headers)
            state = StreamState()
            async with stream:
                async for chunk in stream:
                    piece, thought = state.add(chunk)
                    if thought and on_thinking is not None:
                        on_thinking(thought)
                    if piece and on_text is not None:
                        on_text(piece)
            return paused(state.completion(self.name), exhausted)
        except Exception as exc:
            error = error_from_exception(exc, self.name, self._key)
            if state is not None and isinstance(error, ConnectionFailed):  # lost mid-stream
                error = classify.incomplete(
                    self.name, state.text, f"the connection was lost: {error}"
                )
            raise error from exc

    async def aclose(self) -> None:
        """Close the SDK client and its connections."""
        client, self._client = self._client, None
        if client is not None:
            await client.close()
