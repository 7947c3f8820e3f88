"""Google Gemini (the Gemini Developer API) through the official google-genai SDK.

Files go inline (`inlineData`), before each turn's text. A schema asks for JSON
(`response_mime_type` + `response_json_schema`, the schema as given). Reasoning: an effort is
a `thinking_level` (Gemini 3 and later), or a budget on Gemini 1.x/2.x, which take no level;
a number is a `thinking_budget` everywhere. Thoughts are asked for (`include_thoughts`) and
kept apart from the answer. Gemini caches on its own: cached tokens are reported, not asked.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from workbench.errors import ConnectionFailed, MissingKey, Unsupported
from workbench.providers import classify
from workbench.providers._common import (
    Gathered,
    import_sdk,
    normalize_finish_reason,
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
from workbench.providers.content import File, FileKind
from workbench.providers.gemini_errors import error_from_exception

if TYPE_CHECKING:
    from google.genai import Client
    from google.genai.models import AsyncModels
    from google.genai.types import GenerateContentResponse, GenerateContentResponseUsageMetadata

DEFAULT_KEY_ENV = "GEMINI_API_KEY"
LABEL = "gemini"
_ROLES = {"user": "user", "assistant": "model"}
# The image and text types Gemini documents (image-understanding, document-processing): no GIF.
_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp", "image/heic", "image/heif"})
_TEXT_TYPES = frozenset(
    {"text/plain", "text/markdown", "text/csv", "text/html", "text/xml", "text/css", "text/rtf"}
    | {"text/javascript", "text/x-python"}
)
# Gemini 3 takes a thinking level; Gemini 1.x and 2.x only a budget, onto which efforts map
# as Google's own OpenAI-compatible endpoint maps reasoning_effort for Gemini 2.5.
_LEVELS = {"low": "LOW", "medium": "MEDIUM", "high": "HIGH"}
_BUDGETS = {"low": 1024, "medium": 8192, "high": 24576}
_BUDGET_ONLY = re.compile(r"(^|/)gemini-[12]\.")
# Gemini's own words for "the answer was withheld"; normalize_finish_reason knows only "safety".
_FILTERED = {"recitation", "blocklist", "prohibited_content", "spii", "model_armor"} | {
    "image_safety",
    "image_prohibited_content",
    "image_recitation",
}


def request_from_prompt(prompt: Prompt, model_id: str) -> dict[str, Any]:
    """Build the keyword arguments for `models.generate_content(_stream)`."""
    p = prompt.params
    # One call is one request: automatic continuation would re-send on its own.
    config: dict[str, Any] = {"automatic_continuation": False}
    if prompt.system:
        config["system_instruction"] = prompt.system
    if p.temperature is not None:
        config["temperature"] = p.temperature
    if p.max_tokens is not None:
        config["max_output_tokens"] = p.max_tokens
    if p.top_p is not None:
        config["top_p"] = p.top_p
    if p.seed is not None:
        config["seed"] = p.seed
    if p.stop:
        config["stop_sequences"] = list(p.stop)
    if p.reasoning is not None:
        config["thinking_config"] = thinking_config(p.reasoning, model_id)
    if prompt.schema is not None:
        # The answer's text is the JSON; the runner parses it, streamed or not (the SDK's
        # `.parsed` is the same json.loads, and is missing from streams).
        config["response_mime_type"] = "application/json"
        config["response_json_schema"] = dict(prompt.schema.json_schema)
    # Gemini caches repeated prompt prefixes on its own: `Params.cache` needs nothing sent.
    contents = [_content(m) for m in prompt.turns]
    return {"model": model_id, "contents": contents, "config": config}


def _content(message: Message) -> dict[str, Any]:
    """One turn as Gemini content: its files first (as Gemini advises), then its text."""
    parts: list[dict[str, Any]] = [_inline(f) for f in message.files]
    if message.content or not parts:
        parts.append({"text": message.content})
    return {"role": _ROLES[message.role], "parts": parts}


def _inline(file: File) -> dict[str, Any]:
    """`types.Part.from_bytes(data=..., mime_type=...)` as a dict: the SDK sends `inlineData`."""
    mime = file.media_type
    if file.kind == "text" and mime not in _TEXT_TYPES:
        mime = "text/plain"  # JSON and other text: Gemini documents only these text types
    return {"inline_data": {"data": file.data, "mime_type": mime}}


def thinking_config(reasoning: str | int, model_id: str) -> dict[str, Any]:
    """`ThinkingConfig` for an effort or a budget; thoughts included, to show them apart."""
    config: dict[str, Any] = {"include_thoughts": True}
    if isinstance(reasoning, int):
        config["thinking_budget"] = reasoning  # Gemini 3 still takes budgets
    elif _BUDGET_ONLY.search(model_id):
        config["thinking_budget"] = _BUDGETS[reasoning]
    else:
        config["thinking_level"] = _LEVELS[reasoning]
    return config


def finish_reason_of(raw: str | None) -> str | None:
    """Gemini's finishReason (STOP, MAX_TOKENS, SAFETY, ...) in the workbench's words."""
    if not raw or raw.upper() == "FINISH_REASON_UNSPECIFIED":
        return None
    return "content_filter" if raw.lower() in _FILTERED else normalize_finish_reason(raw)


def usage_from(meta: GenerateContentResponseUsageMetadata) -> Usage:
    """Tokens in and out; thinking tokens count as output, as they are billed."""
    parts = [meta.candidates_token_count, meta.thoughts_token_count]
    known = [n for n in parts if n is not None]
    # No candidate tokens reported with a prompt count known: Gemini omits zero counts.
    output = sum(known) if known else (0 if meta.prompt_token_count is not None else None)
    # promptTokenCount already includes the cached tokens (implicit or explicit caching).
    return Usage(
        meta.prompt_token_count,
        output,
        reasoning_tokens=meta.thoughts_token_count,
        cached_input_tokens=meta.cached_content_token_count,
    )


@dataclass
class Accumulator(Gathered):
    """Builds one Completion from a response or from the chunks of a stream."""

    usage: Usage = field(default_factory=Usage)
    finish_reason: str | None = None
    model_version: str | None = None

    def add(self, chunk: GenerateContentResponse) -> tuple[str, str]:
        """Take one response or chunk; return the answer text and the thinking it adds."""
        if chunk.model_version:
            self.model_version = chunk.model_version
        if chunk.usage_metadata is not None:
            # Each chunk carries the running total so far, not an increment.
            self.usage = usage_from(chunk.usage_metadata)
        text = thought = ""
        if chunk.candidates:
            candidate = chunk.candidates[0]
            parts = (candidate.content.parts if candidate.content else None) or []
            # Parts with thought=True are the model's thinking, never the answer.
            text = "".join(p.text for p in parts if p.text and not p.thought)
            thought = "".join(p.text for p in parts if p.text and p.thought)
            if candidate.finish_reason is not None:
                self.finish_reason = finish_reason_of(candidate.finish_reason.value)
        elif chunk.prompt_feedback is not None and chunk.prompt_feedback.block_reason is not None:
            self.finish_reason = "content_filter"
        self.keep(text, thought)
        return text, thought

    def completion(self) -> Completion:
        """Everything gathered, as a Completion; without a finishReason it is incomplete."""
        if self.finish_reason is None:
            raise classify.incomplete(LABEL, self.text, "the answer ended without a finishReason")
        thinking = self.thinking
        return Completion(
            self.text, self.usage, self.finish_reason, self.model_version, thinking=thinking
        )


def completion_from_response(response: GenerateContentResponse) -> Completion:
    """Turn a non-streaming GenerateContentResponse into a Completion."""
    accumulator = Accumulator()
    accumulator.add(response)
    return accumulator.completion()


async def _abandon(chunks: AsyncIterator[Any]) -> None:
    """Stop reading a stream early without leaking its connection."""
    # Closing the SDK's stream generator leaves its inner generators, and the socket, to the
    # garbage collector; cancelling a pending read instead unwinds them all and closes it.
    while True:
        step = asyncio.ensure_future(anext(chunks))
        await asyncio.sleep(0)
        if not step.done():
            step.cancel()
            await asyncio.wait([step])
            return
        if step.cancelled() or step.exception() is not None:
            return


POOL = 100
"""Idle connections kept at least, as the openai and anthropic SDKs keep (httpx keeps 20)."""


def _pool_limits(in_flight: int) -> Any:
    """Connection limits keeping one idle connection per call that may be in flight.

    httpx's default keeps 20: at 64 calls in flight google-genai opened ~80 new connections
    per 1000 calls (bench/README.md), each a TCP handshake and a new pool entry.
    """
    try:
        import httpx2 as httpx  # what google-genai uses when it is installed
    except ImportError:  # pragma: no cover - google-genai then falls back to httpx
        import httpx  # type: ignore[no-redef]
    keep = max(POOL, in_flight)
    return httpx.Limits(max_connections=max(keep, 1000), max_keepalive_connections=keep)


def _drop_env_key_notice(record: logging.LogRecord) -> bool:
    # The SDK logs "Using GOOGLE_API_KEY" whenever both variables are set, even though the
    # explicit api_key we pass is what it really uses: the notice would mislead.
    return not str(record.msg).startswith("Both GOOGLE_API_KEY and GEMINI_API_KEY are set")


class GeminiModel(Model):
    """A Gemini model over the Gemini Developer API."""

    provider = "gemini"
    file_kinds: ClassVar[frozenset[FileKind]] = frozenset({"image", "pdf", "text"})
    structured = True
    reasoning = True
    limits = Limits(
        pdf=50_000_000,
        request=100_000_000,
        source="Gemini API docs, file input methods, since 2026-01-12: inline data up to "
        "100 MB base64-encoded per request, PDFs up to 50 MB",
    )

    def __init__(self, model_id: str, settings: ProviderSettings) -> None:
        super().__init__(model_id, settings)
        env = settings.api_key_env or DEFAULT_KEY_ENV
        key = os.environ.get(env)
        if not key:
            raise MissingKey(self.provider, env)
        self._key = key
        self._client: Client | None = None

    def check(self, prompt: Prompt) -> None:
        """The generic checks, then what only Gemini refuses: GIFs, text that is not UTF-8."""
        super().check(prompt)
        for file in prompt.files:
            if file.kind == "image" and file.media_type not in _IMAGE_TYPES:
                takes = ", ".join(sorted(_IMAGE_TYPES))
                raise Unsupported(
                    f"{self.name} cannot read {file.name} ({file.media_type}): "
                    f"its images are {takes}"
                )
            if file.kind == "text":
                try:
                    file.data.decode("utf-8")
                except UnicodeDecodeError:
                    raise Unsupported(
                        f"{self.name} reads text files as UTF-8 and {file.name} is not: "
                        "save it as UTF-8"
                    ) from None

    def prepare(self) -> None:
        """Import the SDK and build the client."""
        self._models()

    def _models(self) -> AsyncModels:
        if self._client is None:
            genai = import_sdk("google.genai", self.provider, "google-genai", "gemini")
            logging.getLogger("google_genai._api_client").addFilter(_drop_env_key_notice)
            options = genai.types.HttpOptions(
                base_url=self.settings.base_url or None,
                timeout=max(1, round(self.settings.timeout_s * 1000)),  # milliseconds
                # attempts=1 also stops the one-off hidden retry on aiohttp connection errors.
                retry_options=genai.types.HttpRetryOptions(attempts=1),
                async_client_args={"limits": _pool_limits(self.settings.most_in_flight)},
            )
            # The key is passed explicitly so GOOGLE_API_KEY cannot win; vertexai=False so
            # GOOGLE_GENAI_USE_VERTEXAI cannot switch the endpoint.
            self._client = genai.Client(api_key=self._key, vertexai=False, http_options=options)
        return self._client.aio.models

    async def complete(
        self,
        prompt: Prompt,
        on_text: TextSink | None = None,
        on_thinking: TextSink | None = None,
    ) -> Completion:
        """Send one prompt; stream answer pieces to `on_text`, thinking to `on_thinking`."""
        request = request_from_prompt(prompt, self.model_id)
        models = self._models()
        if on_text is None and on_thinking is None:
            try:
                response = await models.generate_content(**request)
            except Exception as exc:
                raise error_from_exception(exc, secret=self._key) from exc
            return completion_from_response(response)
        accumulator = Accumulator()
        try:
            async with aclosing(self._chunks(models, request)) as chunks:
                async for chunk in chunks:
                    piece, thought = accumulator.add(chunk)
                    try:  # a failing sink is the caller's error, not the provider's
                        if thought and on_thinking is not None:
                            on_thinking(thought)
                        if piece and on_text is not None:
                            on_text(piece)
                    except BaseException:
                        await _abandon(chunks)
                        raise
        except ConnectionFailed as error:  # lost mid-stream: what came is kept, and retried
            if not (accumulator.pieces or accumulator.thoughts):
                raise
            raise classify.incomplete(
                LABEL, accumulator.text, f"the connection was lost: {error}"
            ) from error
        return accumulator.completion()

    async def _chunks(
        self, models: AsyncModels, request: dict[str, Any]
    ) -> AsyncGenerator[GenerateContentResponse, None]:
        try:
            stream = await models.generate_content_stream(**request)
            async for chunk in stream:
                yield chunk
        except Exception as exc:
            raise error_from_exception(exc, secret=self._key) from exc

    async def aclose(self) -> None:
        """Close the SDK's HTTP clients."""
        client, self._client = self._client, None
        if client is not None:
            await client.aio.aclose()
            client.close()
