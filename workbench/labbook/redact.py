"""Keep secrets out of the lab notebook: redact key-like strings before anything is written.

Two nets: the exact values of secret-looking environment variables (any `*_API_KEY`,
`*_TOKEN`, `*_SECRET`, `*_PASSWORD`, and the provider keys), and patterns for the shapes
providers' keys and tokens take. Config may add patterns (`[labbook] redact = [...]`); each
is checked when the Redactor is built (at session start, before anything is sent): one that
is not a regular expression, or that can match an empty string (it would mark every
position of every text), is a ConfigError naming it and its file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from workbench.errors import ConfigError

REDACTED = "[REDACTED]"

DEFAULT_PATTERNS = (
    r"sk-ant-[A-Za-z0-9_\-]{16,}",  # Anthropic
    r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}",  # OpenAI
    r"AIza[0-9A-Za-z_\-]{35,}",  # Google API keys (39 characters; longer: no tail left)
    r"gh[pousr]_[A-Za-z0-9]{36,}",  # GitHub tokens
    r"github_pat_[A-Za-z0-9_]{40,}",
    r"xox[abprs]-[A-Za-z0-9\-]{10,}",  # Slack
    r"AKIA[0-9A-Z]{16}",  # AWS access key ids
    r"hf_[A-Za-z0-9]{30,}",  # Hugging Face
    r"[Bb]earer\s+[A-Za-z0-9._\-~+/]{20,}=*",  # bearer tokens in pasted headers
)
_SECRET_ENV = re.compile(r"(API_KEY|APIKEY|TOKEN|SECRET|PASSWORD|PASSWD)$", re.IGNORECASE)
_MIN_SECRET_LENGTH = 8  # shorter values would redact ordinary words


class Redactor:
    """Replaces secrets in every string of a JSON-like value.

    The environment is read again at each use, so a key set after the lab notebook opened
    (in a notebook cell, say) is redacted too.
    """

    def __init__(
        self,
        patterns: Iterable[str] = (),
        environ: Mapping[str, str] | None = None,
        *,
        where: Mapping[str, str] | None = None,
    ) -> None:
        """`where` names the file each of `patterns` came from, for the error about a bad one."""
        self._environ = environ
        self._patterns = [*DEFAULT_PATTERNS, *(_checked(p, where or {}) for p in patterns)]
        self._values: frozenset[str] | None = None
        self._seen: object = None  # the environment as last read (raw), to skip an unchanged one
        self._pattern = re.compile("")
        try:  # every pattern together compiles now, not after a paid call
            self._current()
        except re.error as e:
            raise ConfigError(
                f"the [labbook] redact patterns do not work together ({e.msg}): fix them in "
                f"{', '.join(sorted(set((where or {}).values()))) or 'the configuration'}"
            ) from None

    def _current(self) -> re.Pattern[str]:
        env = os.environ if self._environ is None else self._environ
        # os.environ decodes every name and value on each read: a comparison of its raw
        # items first makes an unchanged environment (every call but rare ones) cost ~1 us.
        raw = getattr(env, "_data", None)
        seen = tuple(raw.items()) if isinstance(raw, dict) else tuple(env.items())
        if seen == self._seen:
            return self._pattern
        values = frozenset(
            v for k, v in env.items() if _SECRET_ENV.search(k) and len(v) >= _MIN_SECRET_LENGTH
        )
        if values != self._values:
            exact = [re.escape(v) for v in sorted(values, key=len, reverse=True)]
            self._pattern = re.compile("|".join(f"(?:{p})" for p in exact + self._patterns))
            self._values = values
        self._seen = seen
        return self._pattern

    def text(self, value: str) -> str:
        """`value` with every secret replaced by [REDACTED]."""
        return self._current().sub(REDACTED, value)

    def finds(self, value: str) -> bool:
        """Whether `value` holds anything `text` would redact."""
        return self._current().search(value) is not None

    def __call__(self, value: Any) -> Any:
        """A copy of a JSON-like value with every string redacted (keys too)."""
        return _redact(value, self._current())


_GLOBAL_FLAGS = re.compile(r"\(\?([aiLmsux]+)\)")
_PROBE = "a Z 0 _ - . : / \n"  # where a pattern that matches nothing at all would match


def _checked(pattern: str, where: Mapping[str, str]) -> str:
    """A configured pattern, ready to join the others in one alternation; else a ConfigError."""

    def bad(why: str) -> ConfigError:
        source = where.get(pattern, "the configuration") if isinstance(pattern, str) else ""
        return ConfigError(
            f"the [labbook] redact pattern {pattern!r} in {source} {why}: fix or remove it "
            "(nothing was sent)"
        )

    if not isinstance(pattern, str):
        raise bad("is not a string")
    try:
        alone = re.compile(pattern)
    except re.error as e:
        raise bad(f"is not a regular expression ({e.msg} at position {e.pos})") from None
    if alone.search("") is not None or any(m.end() == m.start() for m in alone.finditer(_PROBE)):
        raise bad("can match an empty string, so it would mark every place of every text")
    # Flags at the start, "(?i)key-...", apply to the whole alternation: scope them to this one.
    flags = _GLOBAL_FLAGS.match(pattern)
    if flags is None:
        return pattern
    rest = pattern[flags.end() :]
    return f"(?{flags[1]}:{rest}{chr(10) if 'x' in flags[1] else ''})"


def _redact(value: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        return pattern.sub(REDACTED, value)
    if isinstance(value, Mapping):
        return {pattern.sub(REDACTED, str(k)): _redact(v, pattern) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v, pattern) for v in value]
    return value
