"""Small helpers every HTTP adapter shares: Retry-After, finish reasons, lazy SDK imports."""

from __future__ import annotations

import dataclasses
import importlib
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from types import ModuleType

from workbench.errors import MissingDependency
from workbench.providers.base import Completion


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
    """Seconds to wait from `retry-after-ms` or `retry-after` (seconds or an HTTP date).

    Without either, the reset of an exhausted rate-limit window (`rate_limit_reset`).
    """
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
        return rate_limit_reset(lower)
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


_REMAINING = re.compile(r"(x-ratelimit-remaining-|anthropic-ratelimit-)([\w-]*?)(-remaining)?$")
_DURATION = re.compile(
    r"(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m(?!s))?(?:(\d+(?:\.\d+)?)s)?"
    r"(?:(\d+(?:\.\d+)?)ms)?"
)


def rate_limit_reset(headers: Mapping[str, str]) -> float | None:
    """Seconds until the rate-limit windows with nothing remaining reset (the longest), or None.

    OpenAI sends `x-ratelimit-remaining-requests: 0` with `x-ratelimit-reset-requests: 6m0s`
    (a duration; also `-tokens`); Anthropic `anthropic-ratelimit-requests-remaining: 0` with
    `anthropic-ratelimit-requests-reset` (an RFC 3339 time; also `-tokens`, `-input-tokens`...).
    """
    waits = [seconds for _, seconds, _ in _exhausted(headers)]
    return max(waits) if waits else None


def rate_limit_pause(headers: Mapping[str, str]) -> float | None:
    """Seconds until a used-up window lets one more request through (the longest), or None.

    Both providers refill their windows continuously (token buckets: the reset header says
    when the window is full again), so a requests window with its limit sent has room for
    one request after reset / limit; a tokens window (the next request's size is unknown)
    or one without its limit waits for its reset.
    """
    waits = [
        seconds / limit if kind == "requests" and limit else seconds
        for kind, seconds, limit in _exhausted(headers)
    ]
    return max(waits) if waits else None


def _exhausted(headers: Mapping[str, str]) -> Iterator[tuple[str, float, float | None]]:
    """(kind, seconds to its reset, its limit or None) of each window with nothing remaining."""
    lower = {k.lower(): v for k, v in headers.items()}
    for key, value in lower.items():
        match = _REMAINING.match(key)
        if match is None or value.strip() != "0":
            continue
        prefix, kind, suffix = match.groups()
        if prefix.startswith("x-"):
            reset = lower.get(f"x-ratelimit-reset-{kind}")
            limit = lower.get(f"x-ratelimit-limit-{kind}")
        elif suffix:
            reset = lower.get(f"anthropic-ratelimit-{kind}-reset")
            limit = lower.get(f"anthropic-ratelimit-{kind}-limit")
        else:
            continue
        seconds = _seconds_until(reset) if reset else None
        if seconds is not None:
            yield kind, seconds, _positive(limit)


def _positive(value: str | None) -> float | None:
    try:
        number = float(value) if value is not None else None
    except ValueError:
        return None
    return number if number is not None and number > 0 else None


def _seconds_until(value: str) -> float | None:
    """A duration ("1s", "6m0s", "20ms", "1.5") or a time (RFC 3339) as seconds from now."""
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    match = _DURATION.fullmatch(value)
    if match and any(match.groups()):
        h, m, s, ms = (float(x) if x else 0.0 for x in match.groups())
        return h * 3600 + m * 60 + s + ms / 1000
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


@dataclass(frozen=True)
class Exhausted:
    """A rate-limit window an answer's headers said is used up, and when it resets.

    Read when the headers arrive (a stream's come before its first event), so the pause
    handed on with the Completion counts from then, not from the stream's end.
    """

    resets_at: float
    """`time.monotonic()` at the reset."""

    @classmethod
    def seen(cls, headers: Mapping[str, str] | None) -> Exhausted | None:
        """The exhausted window in a successful answer's headers, or None (something remains)."""
        seconds = rate_limit_pause(headers) if headers else None
        return None if seconds is None else cls(time.monotonic() + seconds)


def paused(completion: Completion, exhausted: Exhausted | None) -> Completion:
    """`completion` with the seconds left until `exhausted` resets as its `pause_s`."""
    left = 0.0 if exhausted is None else exhausted.resets_at - time.monotonic()
    return dataclasses.replace(completion, pause_s=left) if left > 0 else completion


def import_sdk(module: str, provider: str, package: str, extra: str) -> ModuleType:
    """Import a vendor SDK on first use, or say which extra installs it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependency(provider, package, extra) from None
