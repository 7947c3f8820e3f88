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
from typing import Any

from tenacity import RetryCallState

from workbench import prices, workers
from workbench.budget import Budget, Reservation
from workbench.call_state import CallState
from workbench.config import Config
from workbench.errors import (
    Cancelled,
    IncompleteAnswer,
    InvalidOutput,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    WorkbenchError,
)
from workbench.limiter import AdaptiveLimit
from workbench.providers import registry
from workbench.providers.base import (
    Completion,
    Model,
    Prompt,
    ProviderSettings,
    Reply,
    ReplyError,
)
from workbench.providers.registry import ModelSpec
from workbench.retries import retrying


@dataclass(frozen=True)
class Job:
    """One call to make: a prompt for a model, the n-th sample of it."""

    spec: ModelSpec
    prompt: Prompt
    prompt_index: int = 0
    sample: int = 0
    parent: str | None = None
    """The record this call follows up (its conversation's previous turn), if any."""

    @classmethod
    def plan(
        cls,
        spec: ModelSpec,
        prompt: Prompt,
        prompt_index: int = 0,
        sample: int = 0,
        parent: str | None = None,
    ) -> Job:
        """The job for `prompt` on `spec`: the alias's system prompt and params applied.

        Samples are separate draws: sample k > 0 gets seed (the given seed, or 0) + k, in its
        params and so in its record and request hash; sample 0 keeps the seed as given.
        """
        params = spec.params.merged(prompt.params)
        if sample:
            params = params.merged(type(params)(seed=(params.seed or 0) + sample))
        merged = prompt.with_system(spec.system).with_params(params)
        if prompt.system:  # a system prompt given with the prompt wins over the alias's
            merged = merged.with_system(prompt.system)
        return cls(spec, merged, prompt_index, sample, parent)


class Listener:
    """Hears what happens to each job as it happens; override what you need."""

    def started(self, job: Job) -> None:
        """The job is about to be sent (it may still wait for a slot)."""

    def text(self, job: Job, piece: str) -> None:
        """A piece of the answer arrived."""

    def thinking(self, job: Job, piece: str) -> None:
        """A piece of the model's thinking arrived (never part of the answer)."""

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

    def thinking(self, job: Job, piece: str) -> None:
        """Pass on."""
        self.inner.thinking(job, piece)

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
    """Overrides every provider's own limit when set (it still adapts below it on 429s)."""
    models: dict[str, Model] | None = None
    """Adapters (and their connections) to reuse; a runner given none closes its own."""
    limits: dict[str, AdaptiveLimit] | None = None
    """Each provider's adaptive limit, shared with other runs (a session's); else its own."""
    processes: bool | str = False
    """Make each HTTP model's calls in a worker process (`workers`): true, false or "auto"."""

    def __post_init__(self) -> None:
        self._owns_models = self.models is None
        self._models: dict[str, Model] = {} if self.models is None else self.models
        self._limits: dict[str, AdaptiveLimit] = {} if self.limits is None else self.limits
        self._ready: dict[str, asyncio.Future[Model]] = {}
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
        state = CallState()
        reservation: Reservation | None = None
        self.listener.started(job)
        try:
            # Importing the SDK and building the client happen before the call's clock starts.
            model = await self._prepared(job.spec)
            state.begin()
            model.check(job.prompt)  # what this model cannot take is refused here, unsent
            state.quote = prices.quote(job.spec.provider, job.spec.model_id, self.config)
            reservation = Reservation.make(
                self.budgets, job.prompt, state.quote, job.spec.full_name
            )
            completion = await self._with_retries(model, job, state)
            data, invalid = _structured(job.prompt, completion)
            reply = state.reply(
                job.spec,
                text=completion.text,
                usage=completion.usage,
                finish_reason=completion.finish_reason,
                model_version=completion.model_version,
                data=data,
                thinking=completion.thinking,
                error=invalid,
            )
        except asyncio.CancelledError:
            partial = "".join(state.pieces)
            if state.in_flight:  # a stopped stream was still billed for what it made
                state.cut_short(job.prompt, partial)
            error = Cancelled(f"{job.spec.full_name}: stopped before the answer was complete")
            reply = state.reply(job.spec, text=partial, error=ReplyError.of(error))
        except WorkbenchError as e:
            text = e.partial if isinstance(e, IncompleteAnswer) else ""
            if isinstance(e, IncompleteAnswer | ProviderTimeout):
                state.cut_short(job.prompt, text)
            reply = state.reply(job.spec, text=text, error=ReplyError.of(e))
        except Exception as e:  # an adapter's bug must not sink the other models' answers
            message = f"unexpected error in the {job.spec.provider} adapter: {e}"
            reply = state.reply(job.spec, error=ReplyError(type(e).__name__, message))
        if reservation is not None:
            reservation.settle(reply.cost_usd, state.estimate(job.prompt, reply))
        self.listener.finished(job, reply)
        return reply

    async def _with_retries(self, model: Model, job: Job, state: CallState) -> Completion:
        settings = registry.provider_settings(job.spec, self.config)
        limit = self._limit(job.spec.provider, settings)
        policy = self.config.run

        def on_text(piece: str) -> None:
            state.text_arrived()
            state.pieces.append(piece)
            self.listener.text(job, piece)

        def on_thinking(piece: str) -> None:
            state.text_arrived()
            self.listener.thinking(job, piece)

        def before_sleep(retry: RetryCallState) -> None:
            error = retry.outcome.exception() if retry.outcome else None
            assert isinstance(error, ProviderError)
            if isinstance(error, IncompleteAnswer | ProviderTimeout):  # billed, most likely
                state.cut_short(job.prompt, "".join(state.pieces))
            state.pieces.clear()
            wait = retry.next_action.sleep if retry.next_action else 0.0
            self.listener.retrying(job, error, wait)

        async for attempt in retrying(policy, before_sleep):
            with attempt:
                queued = time.perf_counter()
                slot = await limit.acquire()  # a slot, after any pause the provider asked for
                state.sending(queued)
                try:
                    async with asyncio.timeout(settings.timeout_s):
                        completion = await model.complete(
                            job.prompt,
                            on_text if self.stream else None,
                            on_thinking if self.stream else None,
                        )
                except TimeoutError:
                    limit.failed(slot)
                    raise ProviderTimeout(
                        f"{job.spec.full_name} gave no complete answer within "
                        f"{settings.timeout_s:g} s"
                    ) from None
                except RateLimited as e:  # paused no longer than a call may wait: past that,
                    # the calls queued behind it ask, hear the same, and fail at once
                    after = e.retry_after
                    limit.limited(slot, after and min(after, policy.retry_after_max_s))
                    raise
                except BaseException:
                    limit.failed(slot)
                    raise
                else:  # a used-up rate-limit window pauses the provider, as long as a 429 may
                    pause = completion.pause_s
                    limit.answered(slot, pause and min(pause, policy.retry_after_max_s))
                finally:
                    state.answered()
                state.waited(completion.waited_s)
                return completion
        raise AssertionError("unreachable: tenacity reraises the last error")

    async def _prepared(self, spec: ModelSpec) -> Model:
        """The adapter for `spec`, its SDK imported and client built in a worker thread, once."""
        ready = self._ready.get(spec.full_name)
        if ready is None:
            ready = asyncio.ensure_future(self._prepare(spec))
            self._ready[spec.full_name] = ready
        try:
            return await asyncio.shield(ready)
        except WorkbenchError:
            self._ready.pop(spec.full_name, None)  # a later call may find the set-up fixed
            raise

    async def _prepare(self, spec: ModelSpec) -> Model:
        model = self._models.get(spec.full_name)
        if model is None:
            model = registry.build(spec, self.config)
            ahead = workers.parked(spec.full_name)  # started already: its import is paid
            if (ahead or workers.wanted(self.processes)) and workers.can_host(spec, self.config):
                model = workers.ProcessModel(model, spec, self.config)
            await asyncio.to_thread(model.prepare)
            self._models[spec.full_name] = model
        return model

    def _limit(self, provider: str, settings: ProviderSettings) -> AdaptiveLimit:
        key = provider if self.concurrency is None else f"{provider}@{self.concurrency}"
        limit = self._limits.get(key)
        if limit is None:
            limit = self._limits[key] = new_limit(settings, self.concurrency)
        return limit

    async def prepare(self, specs: Sequence[ModelSpec]) -> None:
        """Build and prepare the adapters of `specs` ahead of time (errors wait for the call)."""
        await asyncio.gather(*(self._prepared(s) for s in specs), return_exceptions=True)


def _structured(prompt: Prompt, completion: Completion) -> tuple[Any, ReplyError | None]:
    """With a schema: (the answer's value, None), or (None, the InvalidOutput error)."""
    if prompt.schema is None:
        return None, None
    try:
        return prompt.schema.parse(completion.text, completion.data), None
    except InvalidOutput as e:
        return None, ReplyError.of(e)


def new_limit(settings: ProviderSettings, concurrency: int | None = None) -> AdaptiveLimit:
    """A provider's adaptive limit from its settings; `concurrency` (a run's) is start and top."""
    if concurrency is not None:
        return AdaptiveLimit(concurrency, min(settings.min_concurrency, concurrency), concurrency)
    return AdaptiveLimit(settings.concurrency, settings.min_concurrency, settings.max_concurrency)


async def close_models(models: dict[str, Model]) -> None:
    """Close every adapter's client and forget them, all at once.

    A worker process takes a while to exit: one after another, an audit's end waited for
    each in turn. The first failure is raised once every one is closed.
    """
    closing, models_left = list(models.values()), models
    models_left.clear()
    done = await asyncio.gather(*(model.aclose() for model in closing), return_exceptions=True)
    for outcome in done:
        if isinstance(outcome, BaseException):
            raise outcome
