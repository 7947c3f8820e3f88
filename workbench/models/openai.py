"""OpenAI through the official `openai` SDK and the Chat Completions API."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

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
    from types import ModuleType

    from openai import AsyncOpenAI
    from openai.types.chat import ChatCompletion, ChatCompletionChunk

# Keys echoed back in error bodies, even masked ones like "sk-abc***xyz".
_KEYLIKE = re.compile(r"\bsk-[\w*.-]{4,}")


def request_from_prompt(
    prompt: Prompt, model_id: str, max_tokens_field: str = "max_completion_tokens"
) -> dict[str, Any]:
    """Build the keyword arguments of `chat.completions.create` for a prompt."""
    messages: list[dict[str, str]] = []
    if prompt.system:
        messages.append({"role": "system", "content": prompt.system})
    messages.extend({"role": m.role, "content": m.content} for m in prompt.turns)
    kwargs: dict[str, Any] = {"model": model_id, "messages": messages}
    p = prompt.params
    if p.temperature is not None:
        kwargs["temperature"] = p.temperature
    if p.max_tokens is not None:
        # OpenAI deprecated max_tokens (reasoning models reject it); compat servers know only it.
        kwargs[max_tokens_field] = p.max_tokens
    if p.top_p is not None:
        kwargs["top_p"] = p.top_p
    if p.seed is not None:
        kwargs["seed"] = p.seed
    if p.stop:
        kwargs["stop"] = list(p.stop)
    return kwargs


def _usage(raw: Any) -> Usage | None:
    if raw is None:
        return None
    return Usage(int(raw.prompt_tokens or 0), int(raw.completion_tokens or 0))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def completion_from_response(response: ChatCompletion) -> Completion:
    """Read a Completion from a non-streaming `chat.completion`."""
    # The SDK builds models without validation, so a wrong-shaped body fails on access here.
    try:
        choices = response.choices
        if not choices:
            raise MalformedResponse("the answer had no choices")
        choice = choices[0]
        message = choice.message
        text = _text(message.content) or _text(getattr(message, "refusal", None))
        return Completion(
            text=text,
            usage=_usage(getattr(response, "usage", None)) or Usage(),
            finish_reason=normalize_finish_reason(getattr(choice, "finish_reason", None)),
            model_version=getattr(response, "model", None) or None,
        )
    except (AttributeError, TypeError, ValueError, IndexError, KeyError) as exc:
        raise MalformedResponse(f"unreadable chat completion ({type(exc).__name__})") from None


@dataclass
class StreamState:
    """Collects a Chat Completions stream: text pieces, usage, finish reason, model."""

    pieces: list[str] = field(default_factory=list)
    usage: Usage | None = None
    finish_reason: str | None = None
    model_version: str | None = None
    chunks: int = 0

    def add(self, chunk: ChatCompletionChunk) -> str:
        """Take one chunk; return its new text ("" if none)."""
        try:
            self.chunks += 1
            self.model_version = getattr(chunk, "model", None) or self.model_version
            self.usage = _usage(getattr(chunk, "usage", None)) or self.usage
            piece = ""
            for choice in chunk.choices or ():  # the include_usage chunk has none
                if getattr(choice, "index", 0) != 0:
                    continue
                delta = getattr(choice, "delta", None)
                piece += _text(getattr(delta, "content", None))
                self.finish_reason = getattr(choice, "finish_reason", None) or self.finish_reason
        except (AttributeError, TypeError, ValueError) as exc:
            raise MalformedResponse(f"unreadable stream chunk ({type(exc).__name__})") from None
        if piece:
            self.pieces.append(piece)
        return piece

    def completion(self) -> Completion:
        """Return the Completion the stream added up to."""
        if not self.chunks:
            raise MalformedResponse("the stream ended without a single chunk")
        return Completion(
            text="".join(self.pieces),
            usage=self.usage or Usage(),
            finish_reason=normalize_finish_reason(self.finish_reason),
            model_version=self.model_version,
        )


def _one_line(text: str, secret: str | None = None) -> str:
    if secret:
        text = text.replace(secret, "***")
    text = _KEYLIKE.sub("sk-***", text)
    return " ".join(text.split())[:500]


def _status_error(status: int, label: str, detail: str, headers: Any) -> ProviderError:
    if status == 429:
        return RateLimited(
            f"{label} is rate limited (HTTP 429): {detail}",
            retry_after=retry_after_seconds(headers),
        )
    if status in (401, 403):
        return AuthenticationFailed(
            f"{label} refused the API key (HTTP {status}): {detail}", status=status
        )
    if status >= 500:
        return ServerError(
            f"{label} failed on the server side (HTTP {status}): {detail}", status=status
        )
    return BadRequest(f"{label} rejected the request (HTTP {status}): {detail}", status=status)


def _detail(exc: BaseException) -> str:
    """Pick the server's own error message if the body had one, else the SDK's."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict) and isinstance(body.get("message"), str) and body["message"]:
        return str(body["message"])
    if isinstance(body, str) and body.strip():
        return body
    return str(getattr(exc, "message", None) or exc)


def error_from_exception(
    exc: BaseException, label: str = "openai", secret: str | None = None
) -> ProviderError:
    """Map an `openai` SDK (or decoding) exception onto the workbench's ProviderErrors."""
    if isinstance(exc, ProviderError):
        return exc
    # Checked by name so this module never needs the SDK at import time.
    names = {cls.__name__ for cls in type(exc).__mro__}
    detail = _one_line(_detail(exc), secret)
    if "APITimeoutError" in names or isinstance(exc, TimeoutError):
        return ProviderTimeout(f"{label}: the request timed out")
    if "APIConnectionError" in names:
        cause = exc.__cause__ or exc.__context__
        why = _one_line(f"{type(cause).__name__}: {cause}", secret) if cause else detail
        return ConnectionFailed(f"{label}: could not reach the server ({why})")
    if "APIResponseValidationError" in names:
        status = getattr(exc, "status_code", None)
        return MalformedResponse(f"{label}: unexpected answer shape: {detail}", status=status)
    if "APIStatusError" in names:
        status = int(getattr(exc, "status_code", 0))
        headers = getattr(getattr(exc, "response", None), "headers", None)
        return _status_error(status, label, detail, headers)
    if "APIError" in names:  # an error event inside a stream
        body = getattr(exc, "body", None)
        code = body.get("code") if isinstance(body, dict) else None
        if isinstance(code, int) and 400 <= code < 600:
            return _status_error(code, label, f"error in stream: {detail}", None)
        return ServerError(f"{label} sent an error in the stream: {detail}")
    if isinstance(exc, json.JSONDecodeError) or "ValidationError" in names:
        return MalformedResponse(f"{label}: the answer is not valid JSON ({detail})")
    if isinstance(exc, OSError):
        return ConnectionFailed(f"{label}: connection failed ({detail})")
    return ProviderError(f"{label}: unexpected {type(exc).__name__}: {detail}")


class OpenAIModel(Model):
    """A model served by OpenAI's Chat Completions API."""

    provider: ClassVar[str] = "openai"
    max_tokens_field: ClassVar[str] = "max_completion_tokens"
    key_required: ClassVar[bool] = True

    def __init__(self, model_id: str, settings: ProviderSettings) -> None:
        super().__init__(model_id, settings)
        key = settings.api_key()
        if self.key_required and settings.api_key_env and not key:
            raise MissingKey(settings.name, settings.api_key_env)
        self._key = key
        self._sdk: ModuleType = import_sdk("openai", settings.name, "openai", "openai")
        self._client: AsyncOpenAI | None = None

    def _api_key(self) -> str | None:
        """Return the key to send (None lets the SDK read OPENAI_API_KEY)."""
        return self._key

    def client(self) -> AsyncOpenAI:
        """Return the SDK client, made on first use, with retries off (the runner retries)."""
        if self._client is None:
            self._client = self._sdk.AsyncOpenAI(
                api_key=self._api_key(),
                base_url=self.settings.base_url,
                timeout=self.settings.timeout_s,
                max_retries=0,
            )
        return self._client

    async def complete(self, prompt: Prompt, on_text: TextSink | None = None) -> Completion:
        """Send one prompt; stream text to `on_text`; raise a ProviderError on failure."""
        kwargs = request_from_prompt(prompt, self.model_id, self.max_tokens_field)
        try:
            client = self.client()
            if on_text is None:
                response = await client.chat.completions.create(**kwargs)
                return completion_from_response(response)
            state = StreamState()
            stream = await client.chat.completions.create(
                **kwargs, stream=True, stream_options={"include_usage": True}
            )
            async with stream:
                async for chunk in stream:
                    piece = state.add(chunk)
                    if piece:
                        on_text(piece)
            return state.completion()
        except Exception as exc:
            raise error_from_exception(exc, self.name, self._key) from exc

    async def aclose(self) -> None:
        """Close the SDK client and its connections."""
        client, self._client = self._client, None
        if client is not None:
            await client.close()
