"""The one retry policy for every provider: how long to wait between attempts, when to stop."""

from __future__ import annotations

from collections.abc import Callable

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_any,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base

from workbench.config import RunSettings
from workbench.errors import ProviderError, RateLimited


def retrying(policy: RunSettings, before_sleep: Callable[[RetryCallState], None]) -> AsyncRetrying:
    """Retries of the retryable ProviderErrors under `policy`; the last error is reraised."""
    return AsyncRetrying(
        stop=stop_any(_Attempts(policy), _RetryAfterTooLong(policy)),
        wait=_RetryAfterOrBackoff(policy),
        retry=retry_if_exception(lambda e: isinstance(e, ProviderError) and e.retryable),
        before_sleep=before_sleep,
        reraise=True,
    )


class _RetryAfterOrBackoff:
    """Wait what the server's Retry-After says; otherwise exponential backoff with jitter."""

    def __init__(self, policy: RunSettings) -> None:
        self._backoff = wait_exponential_jitter(
            initial=policy.backoff_s, max=policy.backoff_max_s, jitter=policy.backoff_s
        )

    def __call__(self, retry: RetryCallState) -> float:
        error = retry.outcome.exception() if retry.outcome else None
        if isinstance(error, RateLimited) and error.retry_after is not None:
            return error.retry_after
        return float(self._backoff(retry))


class _Attempts(stop_base):
    """Stop after 1 + retries attempts; a 429 that says when to come back is waited out.

    Under a shared rate limit a call may be refused many times through no fault of its
    own; the server's Retry-After, not a count, bounds it: it is retried until the call has
    been at it for `retry_after_max_s`.
    """

    def __init__(self, policy: RunSettings) -> None:
        self._count = stop_after_attempt(1 + policy.retries)
        self._limit = policy.retry_after_max_s

    def __call__(self, retry: RetryCallState) -> bool:
        error = retry.outcome.exception() if retry.outcome else None
        if isinstance(error, RateLimited) and error.retry_after is not None:
            return (retry.seconds_since_start or 0.0) + error.retry_after > self._limit
        return bool(self._count(retry))


class _RetryAfterTooLong(stop_base):
    """Stop retrying when the server asks for a wait longer than the policy allows."""

    def __init__(self, policy: RunSettings) -> None:
        self._limit = policy.retry_after_max_s

    def __call__(self, retry: RetryCallState) -> bool:
        error = retry.outcome.exception() if retry.outcome else None
        return (
            isinstance(error, RateLimited)
            and error.retry_after is not None
            and error.retry_after > self._limit
        )
