"""What is sent: a prompt's messages, its sampling parameters and the file it came from."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from workbench.errors import InvalidPrompt
from workbench.providers.content import File, Schema, files_of

Role = Literal["system", "user", "assistant"]
SEED_MAX = 2**31 - 1
"""The largest seed every provider takes as it is (Gemini's is a 32-bit signed integer)."""


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


_PARAM_FIELDS = fields(Params)
