"""What a provider returns (Usage, Completion, Reply) and the Model seam it implements."""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar, Literal

from workbench import errors
from workbench.errors import ProviderError, Unsupported, WorkbenchError
from workbench.providers.content import FileKind
from workbench.providers.prompt import (
    REASONING_EFFORTS,
    SEED_MAX,
    Message,
    Params,
    Prompt,
    PromptOrigin,
    Role,
)

__all__ = [
    "REASONING_EFFORTS",
    "SEED_MAX",
    "Completion",
    "Limits",
    "Message",
    "Model",
    "Params",
    "Prompt",
    "PromptOrigin",
    "ProviderSettings",
    "Reply",
    "ReplyError",
    "Role",
    "TextSink",
    "Usage",
    "UsageSource",
]


TextSink = Callable[[str], None]
"""Receives each piece of an answer's text as it arrives."""


UsageSource = Literal["provider", "tokenizer", "estimate"]
"""Where token counts came from: the provider's own report, a tokenizer, or an estimate."""


@dataclass(frozen=True)
class Usage:
    """Tokens counted for one call; None means unknown (never recorded as 0)."""

    input_tokens: int | None = None
    """Every input token, cached ones included."""
    output_tokens: int | None = None
    """Every output token, reasoning ones included (as providers bill them)."""
    source: UsageSource | None = None
    """Who counted: "provider" (its report, the default when a count is given), "tokenizer"
    (the model's own tokenizer: the local model), "estimate" (from characters, clearly
    marked); None when nothing is known."""

    reasoning_tokens: int | None = None
    """Of the output tokens, those spent thinking (None: not reported, or no reasoning)."""
    cached_input_tokens: int | None = None
    """Of the input tokens, those read from the provider's cache (billed at its cache rate)."""
    cache_write_tokens: int | None = None
    """Of the input tokens, those written to the cache (Anthropic bills them apart)."""

    def __post_init__(self) -> None:
        if self.source is None and (self.input_tokens, self.output_tokens) != (None, None):
            object.__setattr__(self, "source", "provider")

    @classmethod
    def reported(cls, input_tokens: int | None, output_tokens: int | None) -> Usage:
        """Counts a provider reported; unknown when it reported neither."""
        return cls(input_tokens, output_tokens)

    @property
    def known(self) -> bool:
        """True when both counts are known."""
        return self.input_tokens is not None and self.output_tokens is not None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Usage:
        """Read a recorded usage back; records from before 'source' existed said 'provider'."""
        data = data or {}
        source = data.get("source", "provider" if data else None)
        return cls(
            data.get("input_tokens"),
            data.get("output_tokens"),
            source,
            data.get("reasoning_tokens"),
            data.get("cached_input_tokens"),
            data.get("cache_write_tokens"),
        )


@dataclass(frozen=True)
class Completion:
    """What an adapter returns for a complete answer, before timing and pricing.

    Adapters return one only when the provider said the answer ended (a finish reason,
    `message_stop`, ...); an answer cut short is an `IncompleteAnswer` error instead.
    """

    text: str
    usage: Usage
    finish_reason: str | None = None
    model_version: str | None = None
    waited_s: float = 0.0
    """Time the adapter waited before it could send (the local model's one generation at a
    time): counted as queueing, not as the request's latency."""
    data: Any = None
    """The structured answer when the provider gave it parsed (a forced tool's input)."""
    thinking: str | None = None
    """The model's thinking (or its summary) where the provider returns it."""
    pause_s: float | None = None
    """Seconds the provider asked to be left alone: this answer's rate-limit headers said a
    window is used up until then (OpenAI's `x-ratelimit-*`, Anthropic's
    `anthropic-ratelimit-*`). For the runner's limiter only; never recorded."""


@dataclass(frozen=True)
class ReplyError:
    """Why a call produced no answer."""

    type: str
    """The error's class name (`BudgetExceeded`, `IncompleteAnswer`, ...): see `kind`."""
    message: str
    status: int | None = None

    @classmethod
    def of(cls, error: WorkbenchError) -> ReplyError:
        """The record of a workbench error."""
        status = error.status if isinstance(error, ProviderError) else None
        return cls(type(error).__name__, str(error), status)

    @property
    def kind(self) -> builtins.type[WorkbenchError] | None:
        """The error class `type` names; None for an error from outside the hierarchy."""
        return errors.kind(self.type)

    def is_a(self, *kinds: builtins.type[WorkbenchError]) -> bool:
        """Whether this error is of one of `kinds` (or a subclass): kinds compared as types."""
        found = self.kind
        return found is not None and issubclass(found, kinds)


@dataclass(frozen=True)
class Reply:
    """One model's answer to one prompt, or the error that took its place."""

    model: str
    """The name as asked for: an alias such as "gpt" or a full "provider:model"."""
    resolved: str
    """The full "provider:model" name that was called."""
    text: str = ""
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None
    """USD; None when unknown (no price, or usage not reported)."""
    price_source: str | None = None
    latency_s: float | None = None
    """Seconds from sending the request that produced this reply to its last byte (the
    answering attempt only: no client start-up, no queueing, no earlier attempts)."""
    first_token_s: float | None = None
    """Seconds from sending that request to the first piece of text (streaming only)."""
    finish_reason: str | None = None
    model_version: str | None = None
    error: ReplyError | None = None
    attempts: int = 0
    """Requests sent: 1 + retries (0 when nothing was sent)."""
    started_at: datetime | None = None
    """UTC time the call began (before any queueing)."""
    queued_s: float | None = None
    """Seconds spent waiting for a concurrency slot, over every attempt."""
    wall_s: float | None = None
    """Seconds from the call's start to its end: queueing, every attempt and the backoff
    between them (client start-up excluded)."""
    data: Any = None
    """With a schema: the answer's value (a pydantic model's instance, if one was given)."""
    thinking: str | None = None
    """The model's thinking (or its summary) where the provider returns it; never the answer."""

    @property
    def ok(self) -> bool:
        """True when the model answered."""
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict in field order."""
        d = {f.name: getattr(self, f.name) for f in _REPLY_FIELDS}  # not `asdict`: no deep copies
        d["usage"] = _flat(self.usage)
        d["error"] = None if self.error is None else _flat(self.error)
        dump = getattr(self.data, "model_dump", None)  # a pydantic model's value, as JSON
        d["data"] = dump(mode="json") if callable(dump) else self.data
        d["started_at"] = self.started_at.isoformat() if self.started_at else None
        return d


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def _flat(value: Usage | ReplyError) -> dict[str, Any]:
    return {f.name: getattr(value, f.name) for f in fields(value)}


_REPLY_FIELDS = fields(Reply)


@dataclass(frozen=True)
class Limits:
    """The largest files a provider takes inline, in bytes (None: no limit known)."""

    image: int | None = None
    pdf: int | None = None
    text: int | None = None
    request: int | None = None
    """All files of one request together, as sent (base64: 4/3 of their bytes)."""
    source: str = ""
    """Where the figures come from (the provider's documentation, as of a date)."""

    def of(self, kind: FileKind) -> int | None:
        """The limit for one file of this kind."""
        return {"image": self.image, "pdf": self.pdf, "text": self.text}[kind]


class Model(ABC):
    """One model of one provider. Adapters implement `complete`; everything else is shared."""

    provider: ClassVar[str]
    """The provider's name, the part before the colon in "provider:model"."""
    file_kinds: ClassVar[frozenset[FileKind]] = frozenset()
    """The kinds of file this provider reads ("image", "pdf", "text"); others are refused."""
    structured: ClassVar[bool] = False
    """Whether the answer can be held to a JSON Schema (`Prompt.schema`)."""
    reasoning: ClassVar[bool] = False
    """Whether it takes `Params.reasoning` (an effort or a budget of thinking tokens)."""
    limits: ClassVar[Limits] = Limits()

    def __init__(self, model_id: str, settings: ProviderSettings) -> None:
        self.model_id = model_id
        self.settings = settings

    def check(self, prompt: Prompt) -> None:
        """Refuse, before anything is sent, what this model cannot take: one line that says so."""
        total = 0
        for file in prompt.files:
            kind = file.kind
            if kind is None or kind not in self.file_kinds:
                takes = ", ".join(sorted(self.file_kinds)) or "no files: text only"
                raise Unsupported(
                    f"{self.name} cannot read {file.name} ({file.media_type}): it takes {takes}"
                )
            limit = self.limits.of(kind)
            if limit is not None and file.size > limit:
                raise Unsupported(
                    f"{file.name} is {_mb(file.size)}: {self.name} takes {kind} files up to "
                    f"{_mb(limit)}{self._limit_source()}"
                )
            total += -(-file.size * 4 // 3)  # sent as base64
        if self.limits.request is not None and total > self.limits.request:
            raise Unsupported(
                f"the files come to {_mb(total)} as sent: {self.name} takes up to "
                f"{_mb(self.limits.request)} in one request{self._limit_source()}"
            )
        if prompt.schema is not None and not self.structured:
            raise Unsupported(f"{self.name} cannot be held to a schema: leave schema= out for it")
        if prompt.params.reasoning is not None and not self.reasoning:
            raise Unsupported(
                f"{self.name} does not take reasoning={prompt.params.reasoning!r}: "
                "leave it out for this model"
            )

    def _limit_source(self) -> str:
        return f" ({self.limits.source})" if self.limits.source else ""

    @property
    def name(self) -> str:
        """The full "provider:model" name."""
        return f"{self.provider}:{self.model_id}"

    def prepare(self) -> None:  # noqa: B027 - optional hook
        """Import the SDK and build the client (or load the model) ahead of the first call.

        Called once per adapter, in a worker thread, before any request's clock starts, so
        start-up is never counted as latency and one model's import never delays another's
        answer. `complete` must still work (preparing on its own) if this was not called.
        """

    @abstractmethod
    async def complete(
        self,
        prompt: Prompt,
        on_text: TextSink | None = None,
        on_thinking: TextSink | None = None,
    ) -> Completion:
        """Send one prompt; stream text to `on_text`, thinking to `on_thinking`.

        Raise a ProviderError on failure. Return a Completion only when the provider said
        the answer ended; raise `IncompleteAnswer` (with the partial text) when the stream
        or body stopped short.
        """

    async def aclose(self) -> None:  # noqa: B027 - optional hook, most adapters hold nothing
        """Release connections; called when a runner is done with the model."""


@dataclass(frozen=True)
class ProviderSettings:
    """How to reach one provider: from the built-in defaults, overridden by config."""

    name: str
    type: str
    """The adapter that speaks to it: a registered provider type ("openai", "compat", ...)."""
    base_url: str | None = None
    api_key_env: str | None = None
    """The environment variable holding the key; None when the provider needs none."""
    concurrency: int = 8
    """How many calls to this provider may be in flight at once, to start with."""
    min_concurrency: int = 1
    """The fewest the limit falls to when the provider answers 429 (rate limited)."""
    max_concurrency: int | None = None
    """The most the limit grows to while answers come (None: `concurrency`, never more)."""
    timeout_s: float = 120.0
    """The longest one attempt may take before it counts as a timeout."""

    @property
    def most_in_flight(self) -> int:
        """The most calls that may ever be in flight at once (what a connection pool keeps)."""
        return max(self.concurrency, self.max_concurrency or 0)

    options: Mapping[str, Any] = field(default_factory=dict)
    """Adapter-specific settings (e.g. the local model's context size)."""

    def api_key(self) -> str | None:
        """The key from the environment, or None (the adapter decides if that is fatal)."""
        import os

        return os.environ.get(self.api_key_env) if self.api_key_env else None
