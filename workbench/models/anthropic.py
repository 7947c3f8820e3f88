"""Anthropic's Messages API through the official `anthropic` SDK (extra: `anthropic`).

Params map onto the API as: max_tokens -> `max_tokens` (required by the API, so
DEFAULT_MAX_TOKENS is sent when unset), stop -> `stop_sequences`; the system prompt goes in
the top-level `system` argument. Three params are ignored, on purpose and silently:
`seed` (Anthropic has no seed), and `temperature` and `top_p`: API version 2026-10-21, which
SDK 2.x sends, rejects both with a 400 even at their default values, and the SDK no longer
takes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

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
from workbench.models._common import import_sdk, normalize_finish_reason, retry_after_seconds
from workbench.models.base import Completion, Model, Prompt, ProviderSettings, TextSink, Usage

if TYPE_CHECKING:
    from anthropic import APIStatusError, AsyncAnthropic
    from anthropic.types import Message, MessageDeltaUsage, RawMessageStreamEvent
    from anthropic.types import Usage as AnthropicUsage

DEFAULT_MAX_TOKENS = 4096
"""Sent as `max_tokens` when Params.max_tokens is None: the API requires a value."""

_NO_KEY = "none"
"""The key sent when the settings name no key env var (a keyless Anthropic-style server)."""

_AUTH_ERRORS = ("authentication_error", "permission_error")


def request_from_prompt(prompt: Prompt, model_id: str) -> dict[str, Any]:
    """Build the keyword arguments of `messages.create` for this prompt (without `stream`)."""
    params = prompt.params
    request: dict[str, Any] = {
        "model": model_id,
        "max_tokens": params.max_tokens or DEFAULT_MAX_TOKENS,
        "messages": [{"role": m.role, "content": m.content} for m in prompt.turns],
    }
    if prompt.system:
        request["system"] = prompt.system
    if params.stop:
        request["stop_sequences"] = list(params.stop)
    return request


def _input_tokens(usage: AnthropicUsage | MessageDeltaUsage) -> int:
    # The API counts cached input apart; the prompt's size is the sum of the three.
    return (
        (usage.input_tokens or 0)
        + (usage.cache_creation_input_tokens or 0)
        + (usage.cache_read_input_tokens or 0)
    )


def completion_from_response(response: Message) -> Completion:
    """Our Completion from a complete (non-streamed) Message."""
    content = getattr(response, "content", None)
    if not isinstance(content, list):
        raise MalformedResponse("Anthropic answered without a message content list")
    text = "".join(
        getattr(b, "text", None) or "" for b in content if getattr(b, "type", None) == "text"
    )
    usage = response.usage
    return Completion(
        text=text,
        usage=Usage(_input_tokens(usage), usage.output_tokens or 0) if usage else Usage(),
        finish_reason=normalize_finish_reason(response.stop_reason),
        model_version=response.model,
    )


@dataclass
class StreamState:
    """Collects a streamed answer: text pieces, usage, stop reason and model, event by event."""

    pieces: list[str] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    stop_reason: str | None = None
    model_version: str | None = None
    finished: bool = False

    def feed(self, event: RawMessageStreamEvent) -> str | None:
        """Take one stream event; return its text piece, if it carries one."""
        if event.type == "message_start":
            self.model_version = event.message.model
            if event.message.usage:
                self.input_tokens = _input_tokens(event.message.usage)
                self.output_tokens = event.message.usage.output_tokens or 0
        elif event.type == "content_block_delta" and event.delta.type == "text_delta":
            if event.delta.text:
                self.pieces.append(event.delta.text)
                return event.delta.text
        elif event.type == "message_delta":
            self.stop_reason = event.delta.stop_reason or self.stop_reason
            if event.usage:
                # output_tokens is a running total, not an increment.
                self.output_tokens = event.usage.output_tokens or self.output_tokens
                if event.usage.input_tokens is not None:
                    self.input_tokens = _input_tokens(event.usage)
        elif event.type == "message_stop":
            self.finished = True
        return None

    def completion(self) -> Completion:
        """Return the Completion once the stream has ended; an unfinished stream is malformed."""
        if not self.finished:
            raise MalformedResponse("Anthropic's stream ended before its message_stop event")
        return Completion(
            text="".join(self.pieces),
            usage=Usage(self.input_tokens, self.output_tokens),
            finish_reason=normalize_finish_reason(self.stop_reason),
            model_version=self.model_version,
        )


def _one_line(text: str, secret: str | None = None, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    if secret and secret != _NO_KEY:
        line = line.replace(secret, "***")
    return line if len(line) <= limit else line[: limit - 1] + "…"


def error_from_exception(exc: BaseException, secret: str | None = None) -> ProviderError:
    """Map an exception from an Anthropic call to a ProviderError, redacting `secret`."""
    import anthropic
    import httpx2
    import pydantic

    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, anthropic.APITimeoutError | httpx2.TimeoutException | TimeoutError):
        return ProviderTimeout("Anthropic gave no answer within the timeout")
    if isinstance(exc, anthropic.APIConnectionError | httpx2.TransportError):
        cause = exc.__cause__ or exc
        return ConnectionFailed(
            _one_line(f"could not reach Anthropic: {str(cause) or type(cause).__name__}", secret)
        )
    if isinstance(exc, anthropic.APIStatusError):
        return _status_error(exc, secret)
    if isinstance(
        exc,
        anthropic.APIResponseValidationError
        | json.JSONDecodeError
        | pydantic.ValidationError
        | httpx2.DecodingError,
    ):
        return MalformedResponse(_one_line(f"Anthropic sent an unreadable answer: {exc}", secret))
    return ProviderError(_one_line(f"Anthropic call failed: {type(exc).__name__}: {exc}", secret))


def _status_error(exc: APIStatusError, secret: str | None) -> ProviderError:
    # An `event: error` inside a 200 stream arrives as a status error with status 200:
    # the error type in the body, not the status, says what happened.
    code = exc.status_code
    status = code if code >= 400 else None
    kind = str(exc.type or "")
    detail = _one_line(exc.api_message or exc.message, secret)
    where = f"{code} {kind}".strip() if status else f"{kind or 'error'} mid-stream"
    if kind == "overloaded_error" or code == 529:
        return ServerError(f"Anthropic is overloaded ({where}): {detail}", status=status)
    if code == 429 or kind == "rate_limit_error":
        retry_after = retry_after_seconds(exc.response.headers) if status else None
        return RateLimited(
            f"Anthropic rate limit ({where}): {detail}", status=status, retry_after=retry_after
        )
    if code in (401, 403) or kind in _AUTH_ERRORS:
        return AuthenticationFailed(
            f"Anthropic refused the API key ({where}): {detail}", status=status
        )
    if status is not None and code < 500:
        return BadRequest(f"Anthropic rejected the request ({where}): {detail}", status=status)
    return ServerError(f"Anthropic server error ({where}): {detail}", status=status)


class AnthropicModel(Model):
    """A Claude model via the Messages API; `seed`, `temperature` and `top_p` are ignored."""

    provider = "anthropic"

    def __init__(self, model_id: str, settings: ProviderSettings) -> None:
        super().__init__(model_id, settings)
        self._key = settings.api_key()
        if settings.api_key_env and not self._key:
            raise MissingKey(self.provider, settings.api_key_env)
        self._client: AsyncAnthropic | None = None

    def _sdk_client(self) -> AsyncAnthropic:
        if self._client is None:
            sdk = import_sdk("anthropic", self.provider, "anthropic", "anthropic")
            # An explicit key also stops the SDK reading env vars or profile files on its own.
            self._client = sdk.AsyncAnthropic(
                api_key=self._key or _NO_KEY,
                base_url=self.settings.base_url,
                timeout=self.settings.timeout_s,
                max_retries=0,  # workbench.run retries, with one policy for every provider
            )
        return self._client

    async def complete(self, prompt: Prompt, on_text: TextSink | None = None) -> Completion:
        """Send one prompt, streaming its text to `on_text` when given."""
        request = request_from_prompt(prompt, self.model_id)
        client = self._sdk_client()
        try:
            if on_text is None:
                return completion_from_response(await client.messages.create(**request))
            state = StreamState()
            stream = await client.messages.create(**request, stream=True)
            async with stream:
                async for event in stream:
                    piece = state.feed(event)
                    if piece:
                        on_text(piece)
            return state.completion()
        except Exception as exc:
            raise error_from_exception(exc, self._key) from exc

    async def aclose(self) -> None:
        """Close the SDK client, if one was made."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()
