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

import base64
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from workbench.errors import (
    ConnectionFailed,
    MalformedResponse,
    MissingKey,
    ProviderError,
    Unsupported,
)
from workbench.providers import classify
from workbench.providers._common import (
    Gathered,
    import_sdk,
    normalize_finish_reason,
    retry_after_seconds,
)
from workbench.providers.base import (
    Completion,
    Limits,
    Message,
    Model,
    Prompt,
    ProviderSettings,
    TextSink,
    Usage,
)
from workbench.providers.content import File, Schema

if TYPE_CHECKING:
    from anthropic import APIStatusError, AsyncAnthropic
    from anthropic.types import Message as AnthropicMessage
    from anthropic.types import MessageDeltaUsage, RawMessageStreamEvent
    from anthropic.types import Usage as AnthropicUsage

DEFAULT_MAX_TOKENS = 4096
"""Sent as `max_tokens` when Params.max_tokens is None: the API requires a value."""

MIN_BUDGET = 1024
"""The smallest thinking budget the API takes."""

EFFORT_BUDGETS = {"low": 2048, "medium": 8192, "high": 24576}
"""Thinking tokens per effort. Each is above the API's floor of 1,024; "high" plus the
default answer (28,672 tokens) stays within the smallest output limit of the models that
take budgets (32,000, Claude Opus 4 and 4.1), and Anthropic finds returns diminish past
32,000 thinking tokens."""

ADAPTIVE_SINCE = (4, 6)
"""The first Claude version with adaptive thinking (and `output_config.effort`); from it on,
thinking budgets are deprecated or refused."""

LIMITS = Limits(
    image=5 * 1024 * 1024 * 3 // 4,
    pdf=None,
    text=None,
    request=32_000_000,
    source=(
        "Anthropic's API, 2026: an image at most 5 MB as base64, a request at most 32 MB; "
        "PDFs up to 600 pages, 100 on models with a 200k-token context window"
    ),
)

_EPHEMERAL = {"type": "ephemeral"}
_NO_KEY = "none"
"""The key sent when the settings name no key env var (a keyless Anthropic-style server)."""

LABEL = "anthropic"


# -- Prompt -> request ---------------------------------------------------------------------


def request_from_prompt(prompt: Prompt, model_id: str) -> dict[str, Any]:
    """Build the keyword arguments of `messages.create` for this prompt (without `stream`)."""
    params = prompt.params
    cache = bool(params.cache)
    request: dict[str, Any] = {
        "model": model_id,
        "max_tokens": params.max_tokens or DEFAULT_MAX_TOKENS,
        "messages": messages_of(prompt.turns, cache),
    }
    if prompt.system:
        request["system"] = (
            [{"type": "text", "text": prompt.system, "cache_control": _EPHEMERAL}]
            if cache
            else prompt.system
        )
    if params.stop:
        request["stop_sequences"] = list(params.stop)
    output_config: dict[str, Any] = {}
    if params.reasoning is not None:
        thinking, effort, budget = thinking_of(params.reasoning, model_id)
        request["thinking"] = thinking
        request["max_tokens"] += budget  # thinking counts inside max_tokens
        if effort is not None:
            output_config["effort"] = effort
    if prompt.schema is not None:
        output_config["format"] = output_format(prompt.schema)
    if output_config:
        request["output_config"] = output_config
    return request


def messages_of(turns: tuple[Message, ...], cache: bool = False) -> list[dict[str, Any]]:
    """The API's messages: files as blocks before the text; with `cache`, the last file marked."""
    last_files = max((i for i, m in enumerate(turns) if m.files), default=None)
    messages: list[dict[str, Any]] = []
    for i, turn in enumerate(turns):
        if turn.role == "assistant" and not turn.content.strip():
            continue  # "all messages must have non-empty content": nothing to say it with
        if not turn.files:
            messages.append({"role": turn.role, "content": turn.content})
            continue
        blocks = [file_block(f) for f in turn.files]
        if cache and i == last_files:
            blocks[-1]["cache_control"] = _EPHEMERAL
        if turn.content.strip():
            blocks.append({"type": "text", "text": turn.content})
        messages.append({"role": turn.role, "content": blocks})
    return messages


def file_block(file: File) -> dict[str, Any]:
    """One file as a content block: image, PDF document, or plain-text document."""
    if file.kind == "text":
        source = {"type": "text", "media_type": "text/plain", "data": file.text()}
        return {"type": "document", "source": source, "title": file.name}
    data = base64.b64encode(file.data).decode("ascii")
    source = {"type": "base64", "media_type": file.media_type, "data": data}
    if file.kind == "image":
        return {"type": "image", "source": source}
    return {"type": "document", "source": source, "title": file.name}


def output_format(schema: Schema) -> dict[str, Any]:
    """`output_config.format` for a schema, made strict the way the SDK's own parse does."""
    from anthropic import transform_schema

    return {"type": "json_schema", "schema": transform_schema(dict(schema.json_schema))}


def claude_version(model_id: str) -> tuple[int, int] | None:
    """(major, minor) from a Claude model name; None when it names no version.

    claude-opus-4-6 -> (4, 6), claude-sonnet-5 -> (5, 0), claude-3-7-sonnet-20250219 ->
    (3, 7), claude-haiku-4-5-20251001 -> (4, 5): a date (8 digits) is not a version.
    """
    numbers = [int(n) for n in re.findall(r"\d+", model_id) if len(n) < 8]
    if not numbers:
        return None
    return numbers[0], numbers[1] if len(numbers) > 1 else 0


def thinks_adaptively(model_id: str) -> bool:
    """Whether the model thinks adaptively, taking efforts and no budget (4.6 on, or no version).

    Names without a version are the newest models' (claude-mythos-preview), which think
    adaptively only.
    """
    version = claude_version(model_id)
    return version is None or version >= ADAPTIVE_SINCE


def thinking_of(reasoning: str | int, model_id: str) -> tuple[dict[str, Any], str | None, int]:
    """(the `thinking` argument, the `output_config.effort` if any, tokens to add to max_tokens)."""
    if isinstance(reasoning, int):
        budget = max(reasoning, MIN_BUDGET)
        return {"type": "enabled", "budget_tokens": budget}, None, budget
    budget = EFFORT_BUDGETS[reasoning]
    if thinks_adaptively(model_id):
        # Newer models default to omitting the thinking text; ask for its summary.
        return {"type": "adaptive", "display": "summarized"}, reasoning, budget
    return {"type": "enabled", "budget_tokens": budget}, None, budget


# -- response / stream -> Completion -------------------------------------------------------


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
                return completion_from_response(await client.messages.create(**request))
            stream = await client.messages.create(**request, stream=True)
            state = StreamState()
            sinks = {"text": on_text, "thinking": on_thinking}
            async with stream:
                async for event in stream:
                    piece = state.feed(event)
                    sink = sinks[piece[0]] if piece else None
                    if piece and sink:
                        sink(piece[1])
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
