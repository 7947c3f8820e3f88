"""One error classifier for every provider: what went wrong -> which ProviderError.

Each adapter reads its SDK's exception (status code, the error's kind in the body, headers,
message) and hands the facts to `from_status`; transport failures go through `timed_out`,
`unreachable`, `malformed` and `incomplete`. The class decides whether the runner retries
(`ProviderError.retryable`), so every provider is retried by the same rules: 408, 429, 5xx,
timeouts, lost connections and answers cut short are retried; other 4xx are not.
Messages are one line, with the call's key and anything key-shaped redacted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from workbench.errors import (
    AuthenticationFailed,
    BadRequest,
    ConnectionFailed,
    IncompleteAnswer,
    MalformedResponse,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    ServerError,
)

LIMIT = 300
"""The longest error message kept, in characters."""

_OVERLOADED = frozenset({"overloaded_error"})
_RATE_LIMITED = frozenset({"rate_limit_error", "resource_exhausted", "rate_limit_exceeded"})
_AUTH = frozenset(
    {"authentication_error", "permission_error", "unauthenticated", "permission_denied"}
    | {"api_key_invalid", "invalid_api_key"}
)
_TIMEOUT = frozenset({"deadline_exceeded", "timeout", "request_timeout"})
_KEYLIKE: re.Pattern[str] | None = None


def _keylike() -> re.Pattern[str]:
    global _KEYLIKE
    if _KEYLIKE is None:
        from workbench.labbook.redact import DEFAULT_PATTERNS

        # Keys echoed back in error bodies, masked ones ("sk-abc***xyz") included.
        _KEYLIKE = re.compile(
            "|".join(f"(?:{p})" for p in (*DEFAULT_PATTERNS, r"\bsk-[\w*.-]{4,}"))
        )
    return _KEYLIKE


def one_line(text: object, secrets: Iterable[str | None] = (), limit: int = LIMIT) -> str:
    """`text` on one line, secrets and key-shaped strings redacted, at most `limit` characters."""
    line = " ".join(str(text).split())
    for secret in secrets:
        if secret and len(secret) >= 4:
            line = line.replace(secret, "***")
    line = _keylike().sub("***", line)
    return line if len(line) <= limit else line[: limit - 1] + "…"


def from_status(
    provider: str,
    status: int | None,
    detail: str,
    *,
    kind: str | None = None,
    retry_after: float | None = None,
    secrets: Iterable[str | None] = (),
) -> ProviderError:
    """The error for an HTTP status (None: an error event mid-stream) and the body's error kind.

    The kind wins where it is more precise than the status (an Anthropic `overloaded_error`,
    a Gemini `RESOURCE_EXHAUSTED` sent inside a 200 stream).
    """
    k = (kind or "").lower()
    where = " ".join(str(x) for x in (status, kind) if x) or "error mid-stream"
    said = one_line(detail or "no error message", secrets)
    if k in _OVERLOADED or status == 529:
        return ServerError(f"{provider} is overloaded ({where}): {said}", status=status)
    if status == 429 or k in _RATE_LIMITED:
        return RateLimited(
            f"{provider} is rate limited ({where}): {said}", status=status, retry_after=retry_after
        )
    if status in (401, 403) or k in _AUTH:
        return AuthenticationFailed(
            f"{provider} refused the API key ({where}): {said}", status=status
        )
    if status == 408 or k in _TIMEOUT:
        return ProviderTimeout(f"{provider} timed out ({where}): {said}", status=status)
    if status is not None and 400 <= status < 500:
        return BadRequest(f"{provider} rejected the request ({where}): {said}", status=status)
    return ServerError(f"{provider} failed on the server side ({where}): {said}", status=status)


def timed_out(provider: str) -> ProviderTimeout:
    """No complete answer within the timeout."""
    return ProviderTimeout(f"{provider}: no complete answer within the timeout")


def unreachable(provider: str, why: object, secrets: Iterable[str | None] = ()) -> ConnectionFailed:
    """The server could not be reached, or the connection was lost."""
    return ConnectionFailed(one_line(f"{provider}: could not reach the server ({why})", secrets))


def malformed(provider: str, why: object, secrets: Iterable[str | None] = ()) -> MalformedResponse:
    """The answer could not be read."""
    return MalformedResponse(one_line(f"{provider}: the answer could not be read ({why})", secrets))


def incomplete(provider: str, partial: str, why: str) -> IncompleteAnswer:
    """The answer ended without the provider's end signal; `partial` is what had come."""
    got = f"{len(partial)} characters" if partial else "no text"
    return IncompleteAnswer(
        f"{provider}: the answer was cut short ({why}; {got} received); it is not counted as an "
        "answer and is retried",
        partial=partial,
    )


def unexpected(
    provider: str, exc: BaseException, secrets: Iterable[str | None] = ()
) -> ProviderError:
    """An exception no rule knows: kept, with its type, as a (not retried) ProviderError."""
    return ProviderError(one_line(f"{provider}: unexpected {type(exc).__name__}: {exc}", secrets))
