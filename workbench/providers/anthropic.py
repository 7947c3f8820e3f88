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

from workbench.errors import ConnectionFailed, MalformedResponse, MissingKey, ProviderError
from workbench.providers import classify
from workbench.providers._common import import_sdk, normalize_finish_reason, retry_after_seconds
from workbench.providers.base import Completion, Model, Prompt, ProviderSettings, TextSink, Usage

if TYPE_CHECKING:
    from anthropic import APIStatusError, AsyncAnthropic
    from anthropic.types import Message, MessageDeltaUsage, RawMessageStreamEvent
    from anthropic.types import Usage as AnthropicUsage

DEFAULT_MAX_TOKENS = 4096
"""Sent as `max_tokens` when Params.max_tokens is None: the API requires a value."""

_NO_KEY = "none"
"""The key sent when the settings name no key env var (a keyless Anthropic-style server)."""


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


LABEL = "anthropic"


def _input_tokens(usage: AnthropicUsage | MessageDeltaUsage) -> int | None:
    # The API counts cached input apart; the prompt's size is the sum of the three.
    if usage.input_tokens is None:
        return None
    return (
        usage.input_tokens
        + (usage.cache_creation_input_tokens or 0)
        + (usage.cache_read_input_tokens or 0)
    )


def completion_from_response(response: Message) -> Completion:
    """Our Completion from a non-streamed Message; one without a stop_reason is incomplete."""
    content = getattr(response, "content", None)
    if not isinstance(content, list):
        raise MalformedResponse("Anthropic answered without a message content list")
    text = "".join(
        getattr(b, "text", None) or "" for b in content if getattr(b, "type", None) == "text"
    )
    if response.stop_reason is None:
        raise classify.incomplete(LABEL, text, "the message has no stop_reason")
    usage = response.usage
    return Completion(
        text=text,
        usage=Usage.reported(_input_tokens(usage), usage.output_tokens) if usage else Usage(),
        finish_reason=normalize_finish_reason(response.stop_reason),
        model_version=response.model,
    )


@dataclass
class StreamState:
    """Collects a streamed answer: text pieces, usage, stop reason and model, event by event."""

    pieces: list[str] = field(default_factory=list)
    input_tokens: int | None = None
    output_tokens: int | None = None
    stop_reason: str | None = None
    model_version: str | None = None
    finished: bool = False

    def feed(self, event: RawMessageStreamEvent) -> str | None:
        """Take one stream event; return its text piece, if it carries one."""
        if event.type == "message_start":
            self.model_version = event.message.model
            if event.message.usage:
                self.input_tokens = _input_tokens(event.message.usage)
                self.output_tokens = event.message.usage.output_tokens
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

    @property
    def text(self) -> str:
        """The text so far."""
        return "".join(self.pieces)

    def completion(self) -> Completion:
        """The Completion once the stream has ended; one without `message_stop` is incomplete."""
        if not self.finished:
            raise classify.incomplete(LABEL, self.text, "the stream ended before message_stop")
        return Completion(
            text=self.text,
            usage=Usage.reported(self.input_tokens, self.output_tokens),
            finish_reason=normalize_finish_reason(self.stop_reason),
            model_version=self.model_version,
        )


def error_from_exception(exc: BaseException, secret: str | None = None) -> ProviderError:
    """Map an exception from an Anthropic call to a ProviderError, redacting `secret`."""
    import anthropic
    import httpx2
    import pydantic

    if isinstance(exc, ProviderError):
        return exc
    secrets = (secret if secret != _NO_KEY else None,)
    if isinstance(exc, anthropic.APITimeoutError | httpx2.TimeoutException | TimeoutError):
        return classify.timed_out(LABEL)
    if isinstance(exc, anthropic.APIConnectionError | httpx2.TransportError):
        cause = exc.__cause__ or exc
        return classify.unreachable(LABEL, str(cause) or type(cause).__name__, secrets)
    if isinstance(exc, anthropic.APIStatusError):
        return _status_error(exc, secrets)
    if isinstance(
        exc,
        anthropic.APIResponseValidationError
        | json.JSONDecodeError
        | pydantic.ValidationError
        | httpx2.DecodingError,
    ):
        return classify.malformed(LABEL, exc, secrets)
    return classify.unexpected(LABEL, exc, secrets)


def _status_error(exc: APIStatusError, secrets: tuple[str | None, ...]) -> ProviderError:
    # An `event: error` inside a 200 stream arrives as a status error with status 200:
    # the error type in the body, not the status, says what happened.
    code = exc.status_code
    status = code if code >= 400 else None
    retry_after = retry_after_seconds(exc.response.headers) if status else None
    return classify.from_status(
        LABEL,
        status,
        str(exc.api_message or exc.message),
        kind=str(exc.type or "") or None,
        retry_after=retry_after,
        secrets=secrets,
    )


class AnthropicModel(Model):
    """A Claude model via the Messages API; `seed`, `temperature` and `top_p` are ignored."""

    provider = "anthropic"

    def __init__(self, model_id: str, settings: ProviderSettings) -> None:
        super().__init__(model_id, settings)
        self._key = settings.api_key()
        if settings.api_key_env and not self._key:
            raise MissingKey(self.provider, settings.api_key_env)
        self._client: AsyncAnthropic | None = None

    def prepare(self) -> None:
        """Import the SDK and build the client."""
        self._sdk_client()

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

    async def complete(
        self,
        prompt: Prompt,
        on_text: TextSink | None = None,
        on_thinking: TextSink | None = None,
    ) -> Completion:
        """Send one prompt, streaming its text to `on_text` when given."""
        request = request_from_prompt(prompt, self.model_id)
        client = self._sdk_client()
        state: StreamState | None = None
        try:
            if on_text is None:
                return completion_from_response(await client.messages.create(**request))
            stream = await client.messages.create(**request, stream=True)
            state = StreamState()
            async with stream:
                async for event in stream:
                    piece = state.feed(event)
                    if piece:
                        on_text(piece)
            return state.completion()
        except Exception as exc:
            error = error_from_exception(exc, self._key)
            if state is not None and isinstance(error, ConnectionFailed):  # lost mid-stream
                error = classify.incomplete(LABEL, state.text, f"the connection was lost: {error}")
            raise error from exc

    async def aclose(self) -> None:
        """Close the SDK client, if one was made."""
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()
