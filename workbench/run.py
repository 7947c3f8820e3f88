"""Fan-out: many prompts to many models at once, with one retry policy for every provider.

Each call is a `Job`. The `Runner` sends every job concurrently under per-provider
limits, retries 429s, 5xx, timeouts and lost connections with exponential backoff and
jitter (honouring Retry-After), reserves budget before sending, and always returns one
`Reply` per job: a failure, a refusal or a cancellation is a Reply with an error, never an
exception that would sink the other models' answers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_any,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base

from workbench import prices
from workbench.budget import Budget, Reservation, estimate_usage
from workbench.config import Config, RunSettings
from workbench.errors import ProviderError, ProviderTimeout, RateLimited, WorkbenchError
from workbench.models import registry
from workbench.models.base import Completion, Model, Prompt, Reply, ReplyError, Usage
from workbench.models.registry import ModelSpec


@dataclass(frozen=True)
class Job:
    """One call to make: a prompt for a model, the n-th sample of it."""

    spec: ModelSpec
    prompt: Prompt
    prompt_index: int = 0
    sample: int = 0

    @classmethod
    def plan(cls, spec: ModelSpec, prompt: Prompt, prompt_index: int = 0, sample: int = 0) -> Job:
        """The job for `prompt` on `spec`: the alias's system prompt and params applied."""
        params = spec.params.merged(prompt.params)
        if sample and params.seed is not None:
            params = params.merged(type(params)(seed=params.seed + sample))
        merged = Prompt(prompt.with_system(spec.system).messages, params)
        if prompt.system:  # a system prompt given with the prompt wins over the alias's
            merged = merged.with_system(prompt.system)
        return cls(spec, merged, prompt_index, sample)


class Listener:
    """Hears what happens to each job as it happens; override what you need."""

    def started(self, job: Job) -> None:
        """The job is about to be sent (it may still wait for a slot)."""

    def text(self, job: Job, piece: str) -> None:
        """A piece of the answer arrived."""

    def retrying(self, job: Job, error: ProviderError, wait_s: float) -> None:
        """An attempt failed and another follows after `wait_s`; text so far is void."""

    def finished(self, job: Job, reply: Reply) -> None:
        """The job is done: answered, failed, refused or cancelled."""


class Forwarding(Listener):
    """Passes every event on to `inner`; subclasses add to the events they care about."""

    def __init__(self, inner: Listener | None = None) -> None:
        self.inner = inner or Listener()

    def started(self, job: Job) -> None:
        """Pass on."""
        self.inner.started(job)

    def text(self, job: Job, piece: str) -> None:
        """Pass on."""
        self.inner.text(job, piece)

    def retrying(self, job: Job, error: ProviderError, wait_s: float) -> None:
        """Pass on."""
        self.inner.retrying(job, error, wait_s)

    def finished(self, job: Job, reply: Reply) -> None:
        """Pass on."""
        self.inner.finished(job, reply)


@dataclass
class Runner:
    """Sends jobs concurrently on the running event loop, reusing the clients in `models`."""

    config: Config
    budgets: list[Budget] = field(default_factory=list)
    listener: Listener = field(default_factory=Listener)
    stream: bool = True
    concurrency: int | None = None
    """Overrides every provider's own limit when set."""
    models: dict[str, Model] | None = None
    """Adapters (and their connections) to reuse; a runner given none closes its own."""

    def __post_init__(self) -> None:
        self._owns_models = self.models is None
        self._models: dict[str, Model] = {} if self.models is None else self.models
        self._limits: dict[str, asyncio.Semaphore] = {}
        self._tasks: set[asyncio.Task[Reply]] = set()

    async def run(self, jobs: Sequence[Job]) -> list[Reply]:
        """Run every job; the replies come back in the jobs' order."""
        tasks = [asyncio.create_task(self._call(job)) for job in jobs]
        self._tasks.update(tasks)
        try:
            return list(await asyncio.gather(*tasks))
        finally:
            self._tasks.difference_update(tasks)
            if self._owns_models:
                await close_models(self._models)

    def cancel(self) -> None:
        """Stop every call in flight; each becomes a Reply with a Cancelled error."""
        for task in list(self._tasks):
            task.cancel()

    # -- one call ------------------------------------------------------------------------

    async def _call(self, job: Job) -> Reply:
        started_at = datetime.now(UTC)
        start = time.perf_counter()
        state = _CallState()
        reservation: Reservation | None = None
        self.listener.started(job)
        try:
            model = self._model(job.spec)
            quote = prices.quote(job.spec.provider, job.spec.model_id, self.config)
            reservation = Reservation.make(self.budgets, job.prompt, quote, job.spec.full_name)
            completion = await self._with_retries(model, job, state, start)
            cost = quote.cost(completion.usage) if quote else None
            reservation.settle(cost or 0.0)
            reply = Reply(
                model=job.spec.label,
                resolved=job.spec.full_name,
                text=completion.text,
                usage=completion.usage,
                cost_usd=cost,
                price_source=quote.source if quote else None,
                latency_s=time.perf_counter() - start,
                first_token_s=state.first_token_s,
                finish_reason=completion.finish_reason,
                model_version=completion.model_version,
                attempts=state.attempts,
                started_at=started_at,
            )
        except asyncio.CancelledError:
            partial = "".join(state.pieces)
            if reservation is not None:  # a stopped stream was still billed for what it made
                quote = prices.quote(job.spec.provider, job.spec.model_id, self.config)
                spent = Usage(estimate_usage(job.prompt).input_tokens, len(partial) // 4)
                reservation.settle(quote.cost(spent) if quote and state.attempts else 0.0)
            reply = self._failed(
                job,
                "Cancelled",
                "stopped before the answer was complete",
                None,
                start,
                started_at,
                state,
                text=partial,
            )
        except WorkbenchError as e:
            if reservation is not None:
                reservation.settle(0.0)
            status = e.status if isinstance(e, ProviderError) else None
            reply = self._failed(job, type(e).__name__, str(e), status, start, started_at, state)
        except Exception as e:  # an adapter's bug must not sink the other models' answers
            if reservation is not None:
                reservation.settle(0.0)
            message = f"unexpected error in the {job.spec.provider} adapter: {e}"
            reply = self._failed(job, type(e).__name__, message, None, start, started_at, state)
        self.listener.finished(job, reply)
        return reply

    async def _with_retries(
        self, model: Model, job: Job, state: _CallState, start: float
    ) -> Completion:
        settings = registry.provider_settings(job.spec, self.config)
        limit = self._limit(job.spec.provider, settings.concurrency)
        policy = self.config.run

        def on_text(piece: str) -> None:
            if state.first_token_s is None:
                state.first_token_s = time.perf_counter() - start
            state.pieces.append(piece)
            self.listener.text(job, piece)

        def before_sleep(retry: RetryCallState) -> None:
            error = retry.outcome.exception() if retry.outcome else None
            assert isinstance(error, ProviderError)
            state.pieces.clear()
            state.first_token_s = None
            wait = retry.next_action.sleep if retry.next_action else 0.0
            self.listener.retrying(job, error, wait)

        retrying = AsyncRetrying(
            stop=stop_any(stop_after_attempt(1 + policy.retries), _RetryAfterTooLong(policy)),
            wait=_RetryAfterOrBackoff(policy),
            retry=retry_if_exception(lambda e: isinstance(e, ProviderError) and e.retryable),
            before_sleep=before_sleep,
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                state.attempts += 1
                async with limit:
                    try:
                        async with asyncio.timeout(settings.timeout_s):
                            return await model.complete(
                                job.prompt, on_text if self.stream else None
                            )
                    except TimeoutError:
                        raise ProviderTimeout(
                            f"{job.spec.full_name} gave no complete answer within "
                            f"{settings.timeout_s:g} s"
                        ) from None
        raise AssertionError("unreachable: tenacity reraises the last error")

    def _model(self, spec: ModelSpec) -> Model:
        model = self._models.get(spec.full_name)
        if model is None:
            model = registry.build(spec, self.config)
            self._models[spec.full_name] = model
        return model

    def _limit(self, provider: str, concurrency: int) -> asyncio.Semaphore:
        if provider not in self._limits:
            self._limits[provider] = asyncio.Semaphore(self.concurrency or concurrency)
        return self._limits[provider]

    @staticmethod
    def _failed(
        job: Job,
        kind: str,
        message: str,
        status: int | None,
        start: float,
        started_at: datetime,
        state: _CallState,
        text: str = "",
    ) -> Reply:
        return Reply(
            model=job.spec.label,
            resolved=job.spec.full_name,
            text=text,
            latency_s=time.perf_counter() - start,
            first_token_s=state.first_token_s,
            error=ReplyError(kind, message, status),
            attempts=state.attempts,
            started_at=started_at,
        )


@dataclass
class _CallState:
    attempts: int = 0
    first_token_s: float | None = None
    pieces: list[str] = field(default_factory=list)


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


async def close_models(models: dict[str, Model]) -> None:
    """Close every adapter's client and forget them."""
    closing, models_left = list(models.values()), models
    models_left.clear()
    for model in closing:
        await model.aclose()
