"""Anthropic's Messages API through the official `anthropic` SDK (extra: `anthropic`).

Params map onto the API as: max_tokens -> `max_tokens` (required by the API, so
DEFAULT_MAX_TOKENS is sent when unset), stop -> `stop_sequences`; the system prompt goes in
the top-level `system` argument; earlier turns of a follow-up go as `user` and `assistant`
messages (an assistant turn with no text is left out: the API refuses empty turns). Three
params are ignored, on purpose and silently: `seed` (Anthropic has no seed), and
`temperature` and `top_p`: API version 2026-10-21, which SDK 2.x sends, rejects both with a
400 even at their default values (with thinking on too), and the SDK no longer takes them.

Files go before the message's text, as Anthropic advises: images as `image` blocks and PDFs
as `document` blocks, both with base64 sources; text files as `document` blocks with a
plain-text source titled with the file's name (rather than text blocks: the model is told
which file is which and where each ends, without wrapping it into the prompt's words).

A schema is sent as the native structured output, `output_config.format`, made strict by the
SDK's own `transform_schema` (every object closed, constraints the API does not take moved
into descriptions; the runner still validates the answer against the full schema). The
answer is JSON text, streamed as it forms.

Reasoning takes one of Anthropic's two forms, by the model's version:
- Claude 4.6 and later (and names without a version): adaptive thinking,
  `thinking={"type": "adaptive", "display": "summarized"}` with `output_config.effort` set to
  the effort. A budget of tokens is refused there before sending (`check`): Anthropic
  deprecated budgets on 4.6 and Mythos Preview (the SDK warns against them there), and 4.7
  and later answer them with a 400.
- earlier models: extended thinking with a budget, `thinking={"type": "enabled",
  "budget_tokens": N}`, each effort as EFFORT_BUDGETS says; a whole number is sent as the
  budget, at least MIN_BUDGET (the API's floor).
The API counts thinking inside `max_tokens` (and wants the budget below it), so with
reasoning `max_tokens` is raised: the thinking budget (for adaptive thinking the effort's
budget, as an allowance) plus the answer's own room, Params.max_tokens or DEFAULT_MAX_TOKENS.
Thinking streams to `on_thinking` and is kept in `Completion.thinking` (signatures are not
text); the thinking tokens the API reports apart (`output_tokens_details`) are
`Usage.reasoning_tokens`.

With `Params.cache`, the system prompt (as a text block) and the last file block carry
`cache_control: {"type": "ephemeral"}`. Usage: the API's `input_tokens` counts uncached
input only; `Usage.input_tokens` adds the tokens read from the cache
(`cached_input_tokens`) and written to it (`cache_write_tokens`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from workbench.errors import (
    ConnectionFailed,
    MalformedResponse,
    MissingKey,
    ProviderError,
    Unsupported,
)
from workbench.providers import classify
from workbench.providers._common import (
    Exhausted,
    Gathered,
    import_sdk,
    normalize_finish_reason,
    paused,
    retry_after_seconds,
)
from workbench.providers.anthropic_request import (
    _NO_KEY,
    LABEL,
    LIMITS,
    output_format,
    request_from_prompt,
    thinks_adaptively,
)
from workbench.providers.base import (
    Completion,
    Model,
    Prompt,
    ProviderSettings,
    TextSink,
    Usage,
)

if TYPE_CHECKING:
    from anthropic import APIStatusError, AsyncAnthropic
    from anthropic.types import Message as AnthropicMessage
    from anthropic.types import MessageDeltaUsage, RawMessageStreamEvent
    from anthropic.types import Usage as AnthropicUsage


@dataclass
class UsageTally:
    """The API's usage figures as reported; in a stream each report is a running total."""

    input_tokens: int | None = None
    """Uncached input only, as the API counts it."""
    cache_read: int | None = None
    cache_write: int | None = None
    output_tokens: int | None = None
    thinking_tokens: int | None = None

    def update(self, usage: AnthropicUsage | MessageDeltaUsage) -> None:
        """Take the figures this report gives; the ones it leaves out keep their value."""
        details = usage.output_tokens_details
        reported = {
            "input_tokens": usage.input_tokens,
            "cache_read": usage.cache_read_input_tokens,
            "cache_write": usage.cache_creation_input_tokens,
            "output_tokens": usage.output_tokens,
            "thinking_tokens": details.thinking_tokens if details is not None else None,
        }
        for name, value in reported.items():
            if value is not None:
                setattr(self, name, value)

    def usage(self) -> Usage:
        """Our Usage: input counts every input token, cached ones included."""
        total = None
        if self.input_tokens is not None:
            total = self.input_tokens + (self.cache_read or 0) + (self.cache_write or 0)
        return Usage(
            total,
            self.output_tokens,
            reasoning_tokens=self.thinking_tokens,
            cached_input_tokens=self.cache_read,
            cache_write_tokens=self.cache_write,
        )


def completion_from_response(response: AnthropicMessage) -> Completion:
    """Our Completion from a non-streamed Message; one without a stop_reason is incomplete."""
    content = getattr(response, "content", None)
    if not isinstance(content, list):
        raise MalformedResponse("Anthropic answered without a message content list")
    text = "".join(b.text for b in content if b.type == "text")
    thinking = "".join(b.thinking for b in content if b.type == "thinking")
    if response.stop_reason is None:
        raise classify.incomplete(LABEL, text, "the message has no stop_reason")
    tally = UsageTally()
    if response.usage:
        tally.update(response.usage)
    return Completion(
        text=text,
        usage=tally.usage(),
        finish_reason=normalize_finish_reason(response.stop_reason),
        model_version=response.model,
        thinking=thinking or None,
    )


PieceKind = Literal["text", "thinking"]


@dataclass
class StreamState(Gathered):
    """Collects a streamed answer: text and thinking pieces, usage, stop reason and model."""

    tally: UsageTally = field(default_factory=UsageTally)
    stop_reason: str | None = None
    model_version: str | None = None
    finished: bool = False

    def feed(self, event: RawMessageStreamEvent) -> tuple[PieceKind, str] | None:
        """Take one stream event; return its text or thinking piece, if it carries one."""
        if event.type == "message_start":
            self.model_version = event.message.model
            if event.message.usage:
                self.tally.update(event.message.usage)
        elif event.type == "content_block_delta":
            delta = event.delta
            if delta.type == "text_delta" and delta.text:
                self.pieces.append(delta.text)
                return "text", delta.text
            if delta.type == "thinking_delta" and delta.thinking:
                self.thoughts.append(delta.thinking)
                return "thinking", delta.thinking
        elif event.type == "message_delta":
            self.stop_reason = event.delta.stop_reason or self.stop_reason
            if event.usage:
                self.tally.update(event.usage)
        elif event.type == "message_stop":
            self.finished = True
        return None

    def completion(self) -> Completion:
        """The Completion once the stream has ended; one without `message_stop` is incomplete."""
        if not self.finished:
            raise classify.incomplete(LABEL, self.text, "the stream ended before message_stop")
        return Completion(
            text=self.text,
            usage=self.tally.usage(),
            finish_reason=normalize_finish_reason(self.stop_reason),
            model_version=self.model_version,
            thinking=self.thinking,
        )


# -- errors --------------------------------------------------------------------------------


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


# -- the model -----------------------------------------------------------------------------


class AnthropicModel(Model):
    """A Claude model via the Messages API; `seed`, `temperature` and `top_p` are ignored."""

    provider = "anthropic"
    file_kinds = frozenset({"image", "pdf", "text"})
    structured = True
    reasoning = True
    limits = LIMITS

    def __init__(self, model_id: str, settings: ProviderSettings) -> None:
        super().__init__(model_id, settings)
        self._key = settings.api_key()
        if settings.api_key_env and not self._key:
            raise MissingKey(self.provider, settings.api_key_env)
        self._client: AsyncAnthropic | None = None

    def check(self, prompt: Prompt) -> None:
        """Also refuse a schema the API cannot take, and a budget where only efforts work."""
        super().check(prompt)
        if prompt.schema is not None:
            try:
                output_format(prompt.schema)
            except Exception as e:  # the SDK's transform, on any schema a user wrote
                raise Unsupported(
                    f"{self.name} cannot be held to this schema: {classify.one_line(e)}"
                ) from None
        budget = prompt.params.reasoning
        if isinstance(budget, int) and thinks_adaptively(self.model_id):
            raise Unsupported(
                f"{self.name} thinks adaptively and takes no budget of tokens: give "
                f"reasoning as an effort (low, medium or high) instead of {budget}"
            )

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
        """Send one prompt, streaming text to `on_text` and thinking to `on_thinking`."""
        request = request_from_prompt(prompt, self.model_id)
        client = self._sdk_client()
        state: StreamState | None = None
        try:
            if on_text is None and on_thinking is None:
                # The raw response, for its rate-limit headers; parse() is what create returns
                raw = await client.messages.with_raw_response.create(**request)
                exhausted = Exhausted.seen(raw.headers)
                return paused(completion_from_response(await raw.parse()), exhausted)
            stream = await client.messages.create(**request, stream=True)
            exhausted = Exhausted.seen(stream.response.headers)
            state = StreamState()
            sinks = {"text": on_text, "thinking": on_thinking}
            async with stream:
                async for event in stream:
                    piece = state.feed(event)
                    sink = sinks[piece[0]] if piece else None
                    if piece and sink:
                        sink(piece[1])
            return paused(state.completion(), exhausted)
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
