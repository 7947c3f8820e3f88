"""Small helpers every HTTP adapter shares: Retry-After, finish reasons, lazy SDK imports."""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import ModuleType

from workbench.errors import MissingDependency


@dataclass
class Gathered:
    """An answer's text and thinking pieces as they arrive (every adapter's streams)."""

    pieces: list[str] = field(default_factory=list)
    thoughts: list[str] = field(default_factory=list)

    def keep(self, piece: str = "", thought: str = "") -> None:
        """Add the pieces that are not empty."""
        if piece:
            self.pieces.append(piece)
        if thought:
            self.thoughts.append(thought)

    @property
    def text(self) -> str:
        """The answer so far."""
        return "".join(self.pieces)

    @property
    def thinking(self) -> str | None:
        """The thinking so far, or None when there was none."""
        return "".join(self.thoughts) or None


_FINISH = {
    "stop": "stop",
    "end_turn": "stop",
    "stop_sequence": "stop",
    "length": "length",
    "max_tokens": "length",
    "content_filter": "content_filter",
    "safety": "content_filter",
    "refusal": "content_filter",
    "tool_calls": "tool_use",
    "tool_use": "tool_use",
}


def normalize_finish_reason(raw: str | None) -> str | None:
    """Map each vendor's word for why generation ended onto stop/length/content_filter/tool_use."""
    if raw is None:
        return None
    key = str(raw).lower()
    return _FINISH.get(key, key)


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from `retry-after-ms` or `retry-after` (seconds or an HTTP date)."""
    if not headers:
        return None
    lower = {k.lower(): v for k, v in headers.items()}
    if "retry-after-ms" in lower:
        try:
            return max(0.0, float(lower["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    value = lower.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def import_sdk(module: str, provider: str, package: str, extra: str) -> ModuleType:
    """Import a vendor SDK on first use, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependency(provider, package, extra) from None
