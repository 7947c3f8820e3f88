"""A rate limit for any wire server: at most N requests per second, a 429 beyond it.

`RateLimit(rate).attach(server)` puts a token bucket (refilled at `rate` per second, holding
at most `burst`) in front of the server's answers: a request that finds no token is refused at
once (no latency) with a 429 whose Retry-After says when the next token comes (seconds, as a
decimal, and `retry-after-ms`), as a provider's rate limiter does. Counts what it admitted and
refused. With `answers=True` each answer also carries the window's state, as OpenAI and
Anthropic send it on every response (`window_headers`): the requests remaining (the tokens
left) and when the bucket is full again.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.wire.harness import Request, Step


class RateLimit:
    """A token bucket: `rate` requests per second, at most `burst` (one second's) at once."""

    def __init__(
        self, rate: float, burst: float | None = None, headers: bool = True, answers: bool = False
    ) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self.headers = headers
        """Send retry-after-ms and OpenAI's x-ratelimit-* headers with each 429."""
        self.answers = answers
        """Send the provider's rate-limit headers (`window_headers`) with each answer."""
        self.tokens = self.burst
        self.admitted = 0
        self.refused = 0
        self._at = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> float:
        """0.0 when a token was taken, else the seconds until the next one."""
        with self._lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self._at) * self.rate)
            self._at = now
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                self.admitted += 1
                return 0.0
            self.refused += 1
            return (1.0 - self.tokens) / self.rate

    def window(self, protocol: str) -> dict[str, str]:
        """The headers saying what is left now and when the bucket is full again."""
        with self._lock:
            full_in = (self.burst - self.tokens) / self.rate
            return window_headers(protocol, self.burst, int(self.tokens), full_in)

    def reset(self) -> None:
        with self._lock:
            self.tokens, self._at = self.burst, time.monotonic()
            self.admitted = self.refused = 0

    def attach(self, server: Any) -> Any:
        """Refuse the requests beyond the rate before `server` answers them."""
        inner = server.next_step

        def next_step(request: Request | None = None) -> Step:
            wait = self.take()
            if wait <= 0:
                step = inner(request)
                if not self.answers:
                    return step
                window = self.window(server.protocol)
                return dataclasses.replace(step, headers={**step.headers, **window})
            headers = (
                {
                    "retry-after-ms": f"{wait * 1000:.0f}",
                    "x-ratelimit-limit-requests": f"{self.rate:g}",
                    "x-ratelimit-remaining-requests": "0",
                    "x-ratelimit-reset-requests": f"{wait * 1000:.0f}ms",
                }
                if self.headers
                else {}
            )
            # refused on arrival: the server's latency is not waited (delay cancels it)
            return Step(
                status=429, retry_after=f"{wait:.3f}", delay_s=-server.latency_s, headers=headers
            )

        server.next_step = next_step
        return server


def window_headers(protocol: str, limit: float, remaining: int, reset_s: float) -> dict[str, str]:
    """A requests window's headers as `protocol`'s provider sends them on every response.

    OpenAI: `x-ratelimit-*-requests`, the reset as a duration; Anthropic:
    `anthropic-ratelimit-requests-*`, the reset as an RFC 3339 time. Google sends none.
    """
    if protocol == "openai":
        return {
            "x-ratelimit-limit-requests": f"{limit:g}",
            "x-ratelimit-remaining-requests": str(remaining),
            "x-ratelimit-reset-requests": f"{reset_s * 1000:.0f}ms",
        }
    if protocol == "anthropic":
        at = datetime.now(UTC) + timedelta(seconds=reset_s)
        return {
            "anthropic-ratelimit-requests-limit": f"{limit:g}",
            "anthropic-ratelimit-requests-remaining": str(remaining),
            "anthropic-ratelimit-requests-reset": at.isoformat().replace("+00:00", "Z"),
        }
    return {}
