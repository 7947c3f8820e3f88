"""Keep secrets out of the lab notebook: redact key-like strings before anything is written.

Two nets: the exact values of secret-looking environment variables (any `*_API_KEY`,
`*_TOKEN`, `*_SECRET`, `*_PASSWORD`, and the provider keys), and patterns for the shapes
providers' keys and tokens take. Config may add patterns (`[labbook] redact = [...]`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

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
        self, patterns: Iterable[str] = (), environ: Mapping[str, str] | None = None
    ) -> None:
        self._environ = environ
        self._patterns = [*DEFAULT_PATTERNS, *patterns]
        self._values: frozenset[str] | None = None
        self._pattern = re.compile("")

    def _current(self) -> re.Pattern[str]:
        env = os.environ if self._environ is None else self._environ
        values = frozenset(
            v for k, v in env.items() if _SECRET_ENV.search(k) and len(v) >= _MIN_SECRET_LENGTH
        )
        if values != self._values:
            exact = [re.escape(v) for v in sorted(values, key=len, reverse=True)]
            self._pattern = re.compile("|".join(f"(?:{p})" for p in exact + self._patterns))
            self._values = values
        return self._pattern

    def text(self, value: str) -> str:
        """`value` with every secret replaced by [REDACTED]."""
        return self._current().sub(REDACTED, value)

    def __call__(self, value: Any) -> Any:
        """A copy of a JSON-like value with every string redacted (keys too)."""
        return _redact(value, self._current())


def _redact(value: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        return pattern.sub(REDACTED, value)
    if isinstance(value, Mapping):
        return {pattern.sub(REDACTED, str(k)): _redact(v, pattern) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v, pattern) for v in value]
    return value
