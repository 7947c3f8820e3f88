"""The types every provider shares: Prompt in, Completion out, and the Model seam between them."""

from __future__ import annotations

import builtins
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Literal

from workbench import errors
from workbench.errors import InvalidPrompt, ProviderError, Unsupported, WorkbenchError
from workbench.providers.content import File, FileKind, Schema, files_of

Role = Literal["system", "user", "assistant"]
SEED_MAX = 2**31 - 1
"""The largest seed every provider takes as it is (Gemini's is a 32-bit signed integer)."""
TextSink = Callable[[str], None]
"""Receives each piece of an answer's text as it arrives."""


REASONING_EFFORTS = ("low", "medium", "high")
"""The efforts `Params.reasoning` takes by name; a whole number is a token budget."""


@dataclass(frozen=True)
class Message:
    """One turn of a conversation, with the files that go with it (user turns)."""

    role: Role
    content: str
    files: tuple[File, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """As recorded and hashed; files (by sha256) only when there are some."""
        d: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.files:
            d["files"] = [f.to_dict() for f in self.files]
        return d


@dataclass(frozen=True)
class Params:
    """Sampling parameters; None means the provider's default."""

    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()
    reasoning: str | int | None = None
    """How hard a reasoning model thinks: "low", "medium", "high", or a budget of tokens."""
    cache: bool | None = None
    """Ask the provider to cache the prompt's system prompt and files (Anthropic's
    cache_control); providers that cache on their own report cached tokens either way."""

    def __post_init__(self) -> None:
        t = self.temperature
        if t is not None and (not isinstance(t, int | float) or not 0 <= t <= 2 or math.isnan(t)):
            raise InvalidPrompt(f"temperature must be a number from 0 to 2, not {t!r}")
        m = self.max_tokens
        if m is not None and (isinstance(m, bool) or not isinstance(m, int) or m < 1):
            raise InvalidPrompt(f"max_tokens must be a whole number of at least 1, not {m!r}")
        p = self.top_p
        if p is not None and (not isinstance(p, int | float) or not 0 < p <= 1):
            raise InvalidPrompt(f"top_p must be a number above 0 and at most 1, not {p!r}")
        s = self.seed
        if s is not None and (
            isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= SEED_MAX
        ):
            # -1 means "random" to llama.cpp, and larger seeds wrap around on some providers.
            raise InvalidPrompt(f"seed must be a whole number from 0 to {SEED_MAX}, not {s!r}")
        if isinstance(self.stop, str) or not all(isinstance(x, str) and x for x in self.stop):
            raise InvalidPrompt(f"stop must be a list of non-empty strings, not {self.stop!r}")
        r = self.reasoning
        budget = isinstance(r, int) and not isinstance(r, bool) and r >= 1
        if r is not None and not budget and r not in REASONING_EFFORTS:
            raise InvalidPrompt(
                f"reasoning must be {', '.join(REASONING_EFFORTS)} or a budget of tokens "
                f"(a whole number >= 1), not {r!r}"
            )
        if self.cache is not None and not isinstance(self.cache, bool):
            raise InvalidPrompt(f"cache must be True or False, not {self.cache!r}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Params:
        """Build from a mapping, naming any unknown parameter."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise InvalidPrompt(
                f"unknown parameter {unknown[0]!r}: use one of {', '.join(sorted(known))}"
            )
        clean = dict(values)
        if "stop" in clean:
            stop = clean["stop"]
            clean["stop"] = (stop,) if isinstance(stop, str) else tuple(stop or ())
        return cls(**clean)

    def merged(self, overrides: Params) -> Params:
        """These params with every non-default value of `overrides` applied on top."""
        changes = {f.name: getattr(overrides, f.name) for f in fields(overrides)}
        return replace(self, **{k: v for k, v in changes.items() if v not in (None, ())})

    def to_dict(self) -> dict[str, Any]:
        """Only the parameters that were set, in field order."""
        # Not `asdict`: it deep-copies, and this runs for every call recorded.
        values = ((f.name, getattr(self, f.name)) for f in _PARAM_FIELDS)
        return {k: (list(v) if k == "stop" else v) for k, v in values if v not in (None, ())}


def _check_text(content: object, role: str) -> None:
    """Text that every provider and the lab notebook can take, or a one-line InvalidPrompt."""
    if not isinstance(content, str):
        raise InvalidPrompt(f"a {role} message must be text, not {type(content).__name__}")
    try:
        content.encode("utf-8")
    except UnicodeEncodeError as e:
        raise InvalidPrompt(
            f"the {role} message is not valid Unicode text (a lone surrogate at character "
            f"{e.start}, often from bytes decoded with errors='surrogateescape'): decode the "
            "source as UTF-8 or replace the bad characters"
        ) from None


@dataclass(frozen=True)
class PromptOrigin:
    """The prompt file a prompt was made from (`workbench.prompts`): which version of it."""

    name: str
    """The prompt's name: "referee" for prompts/referee.md."""
    path: str
    """The file, relative to its repository's root (or absolute outside one)."""
    blob: str
    """The git blob hash of the text used (what `git hash-object FILE` prints)."""
    dirty: bool
    """True when that text is not what HEAD holds (changed, untracked, or no repository)."""

    def to_dict(self) -> dict[str, Any]:
        """As call records hold it (`prompt.origin`)."""
        return {"name": self.name, "path": self.path, "blob": self.blob, "dirty": self.dirty}


@dataclass(frozen=True)
class Prompt:
    """What is sent: the messages and the sampling parameters."""

    messages: tuple[Message, ...]
    params: Params = field(default_factory=Params)
    schema: Schema | None = None
    """The JSON Schema the answer must follow (structured output), if any."""
    origin: PromptOrigin | None = field(default=None, compare=False)
    """The prompt file it was made from, if any: recorded beside the request, never part of
    it (not in `to_dict`, so not in the request hash)."""

    def __post_init__(self) -> None:
        for m in self.messages:
            _check_text(m.content, m.role)
        if not any(m.role == "user" and m.content.strip() for m in self.messages):
            raise InvalidPrompt("the prompt is empty: give some text to send")

    @classmethod
    def of(
        cls,
        text: str,
        *,
        system: str | None = None,
        files: Sequence[str | Path | File] | str | Path | File | None = None,
        schema: Mapping[str, Any] | type[Any] | Schema | None = None,
        **params: Any,
    ) -> Prompt:
        """A one-turn prompt: text, optionally a system prompt, files, a schema, params."""
        if not isinstance(text, str):
            raise InvalidPrompt(f"the prompt must be text, not {type(text).__name__}")
        if system is not None and not isinstance(system, str):
            raise InvalidPrompt(f"the system prompt must be text, not {type(system).__name__}")
        messages = [Message("system", system)] if system else []
        messages.append(Message("user", text, files_of(files)))
        shape = None if schema is None else Schema.of(schema)
        return cls(tuple(messages), Params.from_mapping(params), shape)

    @property
    def files(self) -> tuple[File, ...]:
        """Every file of every message, in order."""
        return tuple(f for m in self.messages for f in m.files)

    @property
    def system(self) -> str | None:
        """The system prompt, if any (all system messages joined)."""
        parts = [m.content for m in self.messages if m.role == "system"]
        return "\n\n".join(parts) if parts else None

    @property
    def turns(self) -> tuple[Message, ...]:
        """The messages other than the system prompt."""
        return tuple(m for m in self.messages if m.role != "system")

    @property
    def text(self) -> str:
        """The last user message: the prompt as a person would name it."""
        return next(m.content for m in reversed(self.messages) if m.role == "user")

    def to_dict(self) -> dict[str, Any]:
        """Messages, the params that were set, and the schema if any: as recorded and hashed."""
        d: dict[str, Any] = {
            "messages": [m.to_dict() for m in self.messages],
            "params": self.params.to_dict(),
        }
        if self.schema is not None:
            d["schema"] = self.schema.to_dict()
        return d

    def followed_by(self, answer: str, text: str, files: tuple[File, ...] = ()) -> Prompt:
        """The next turn: this prompt, the model's answer, then `text` (and files) from the user."""
        turns = (*self.messages, Message("assistant", answer), Message("user", text, files))
        return replace(self, messages=turns, origin=None)  # the new text is not the file's

    def with_system(self, system: str | None) -> Prompt:
        """This prompt with `system` as its system prompt (replacing any), if given."""
        if not system:
            return self
        return replace(self, messages=(Message("system", system), *self.turns))

    def with_params(self, params: Params) -> Prompt:
        """This prompt (messages, files, schema) with other params."""
        return replace(self, params=params)


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


_PARAM_FIELDS = fields(Params)
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
