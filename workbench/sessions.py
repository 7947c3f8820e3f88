"""A Session: the configuration, the session budget and the recorders that every call shares."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Literal, Unpack

from workbench import planning
from workbench.budget import Budget
from workbench.comparison import Comparison
from workbench.config import Config
from workbench.errors import InvalidOption, WorkbenchError
from workbench.labbook.chain import new_session_id
from workbench.limiter import AdaptiveLimit
from workbench.loop import BackgroundLoop
from workbench.options import CompareOptions, split
from workbench.providers import registry
from workbench.providers.base import Model, Prompt, Reply
from workbench.run import Forwarding, Job, Listener, Runner, close_models
from workbench.streaming import CallbackListener, Stream

if TYPE_CHECKING:
    from workbench.labbook import LabBook

Recorder = Callable[[Job, Reply], "Future[dict[str, Any]] | None"]
"""Called once for every finished call; may return a future of the record written."""

PAID_ALIASES = ("gpt", "claude", "gemini")
FREE_ALIASES = ("local", "terse", "teacher")


class Session:
    """Shared state of one researcher's working session (one kernel, one CLI command)."""

    def __init__(
        self,
        config: Config | None = None,
        *,
        budget_usd: float | None = None,
        labbook: LabBook | Literal[False] | None = None,
    ) -> None:
        """Load config and open the lab notebook (`labbook=False` records nothing)."""
        self.config = config if config is not None else Config.load()
        self.id = new_session_id()
        cap = budget_usd if budget_usd is not None else self.config.session_budget_usd
        self.budget = Budget(cap, "session")
        self.recorders: list[Recorder] = []
        self.labbook: LabBook | None = None
        if labbook is None:
            from workbench.labbook import open_labbook

            labbook = open_labbook(self.config, self.id)
        if labbook:
            from workbench.labbook import replaying_from

            self.labbook = labbook
            self.recorders.append(labbook.record_call)
            self.config = replaying_from(self.config, labbook.root)  # replays read this book
        self._loop = BackgroundLoop()
        # Adapters hold connections bound to one event loop: keep one set per loop.
        self._models: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Model]] = (
            weakref.WeakKeyDictionary()
        )
        # What each provider's answers taught its limit outlives one comparison (per loop too).
        self._limits: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[str, AdaptiveLimit]
        ] = weakref.WeakKeyDictionary()
        # Runs on close(), when the session is collected, or at interpreter exit.
        self._finalizer = weakref.finalize(self, _shut_down, self._loop, self._models)

    def default_models(self) -> list[str]:
        """The paid aliases whose keys are set, or else variants of the local model."""
        ready = [r["name"] for r in registry.describe(self.config) if r["ready"]]
        paid = [a for a in PAID_ALIASES if a in ready]
        return paid or [a for a in FREE_ALIASES if a in self.config.aliases]

    def plan(
        self,
        prompts: str | Prompt | Sequence[str | Prompt],
        models: str | Sequence[str] | None = None,
        *,
        system: str | None = None,
        samples: int = 1,
        replay: bool = False,
        max_calls: int | None = None,
        **params: Any,
    ) -> tuple[list[Prompt], list[str], list[Job]]:
        """Resolve names and build every job, or fail before anything is sent."""
        return planning.plan(
            self.config,
            self.labbook,
            self.default_models,
            prompts,
            models,
            system=system,
            samples=samples,
            replay=replay,
            max_calls=max_calls,
            **params,
        )

    def pool(self, loop: asyncio.AbstractEventLoop) -> dict[str, Model]:
        """The adapters (and their open connections) this session keeps on `loop`."""
        return self._models.setdefault(loop, {})

    def warm(self, models: Sequence[str], on: BackgroundLoop | None = None) -> Future[None]:
        """Import the SDKs of `models` (and load the local model) now, in the background.

        Then the first answer waits for neither: imports and loaded models are the
        process's. The clients built to get there are closed again (a panel's runs make
        their own). Names that do not resolve are left for the call to report.
        """
        specs = []
        for name in models:
            try:
                specs.append(registry.resolve(name, self.config))
            except WorkbenchError:
                continue

        async def prepare() -> None:
            warmed: dict[str, Model] = {}
            try:
                await Runner(self.config, models=warmed).prepare(specs)
            finally:
                await close_models(warmed)

        return asyncio.run_coroutine_threadsafe(prepare(), (on or self._loop).loop)

    async def acompare(
        self,
        prompts: str | Prompt | Sequence[str | Prompt],
        models: str | Sequence[str] | None = None,
        *,
        runner: Runner | None = None,
        **options: Unpack[CompareOptions],
    ) -> Comparison:
        """Send every prompt to every model at once and gather a Comparison.

        `on_text(model, piece)` (or a `listener`) hears the answers as they stream in; the
        options are `workbench.options.CompareOptions`.
        """
        plan, run = split(options)
        built, names, jobs = self.plan(prompts, models, **plan)
        samples = int(plan.get("samples", 1))
        return await self._run(built, names, samples, jobs, run, runner)

    async def afollow_up(
        self,
        earlier: Comparison,
        text: str,
        *,
        runner: Runner | None = None,
        **options: Unpack[CompareOptions],
    ) -> Comparison:
        """Continue each model's own conversation: its earlier answer, then `text`.

        Only answers that came (`ok`) are followed up; each new record names the record it
        follows (`parent`). Options: the running ones, and `files` for this turn.
        """
        plan, run = split(options)
        built, names, jobs = self.plan_follow_up(earlier, text, **plan)
        return await self._run(built, names, earlier.samples, jobs, run, runner)

    def plan_follow_up(
        self, earlier: Comparison, text: str, **plan: Any
    ) -> tuple[list[Prompt], list[str], list[Job]]:
        """The follow-up's jobs: each answered job one turn longer, naming its record."""
        return planning.follow_up(self.labbook, earlier, text, **plan)

    async def _run(
        self,
        built: list[Prompt],
        names: list[str],
        samples: int,
        jobs: list[Job],
        run: dict[str, Any],
        runner: Runner | None,
    ) -> Comparison:
        listener = run.get("listener")
        if run.get("on_text") is not None:
            listener = CallbackListener(run["on_text"], listener)
        cap = run.get("budget_usd")
        cap = cap if cap is not None else self.config.run_budget_usd
        if runner is None:
            loop = asyncio.get_running_loop()
            runner = Runner(
                self.config, models=self.pool(loop), limits=self._limits.setdefault(loop, {})
            )
        runner.budgets = [self.budget, Budget(cap, "run")]
        recording = _Recording(listener or Listener(), self.recorders)
        runner.listener = recording
        runner.stream = bool(run.get("stream", True))
        runner.concurrency = run.get("concurrency")
        try:
            replies = await runner.run(jobs)
        finally:  # even when interrupted, what finished is on disk before we return
            records = await recording.written(jobs)
            if self.labbook is not None:  # committed in the background, soon
                self.labbook.compared(built[0].text, names)
        ids = tuple(r["id"] if r else None for r in records)
        return Comparison(
            tuple(built),
            tuple(names),
            samples,
            tuple(jobs),
            tuple(replies),
            ids,
            self.labbook,
            self,
        )

    def follow_up(
        self, earlier: Comparison, text: str, **options: Unpack[CompareOptions]
    ) -> Comparison:
        """`afollow_up` for code without an event loop of its own."""
        return self._loop.run(self.afollow_up(earlier, text, **options))

    def astream(
        self,
        prompts: str | Prompt | Sequence[str | Prompt],
        models: str | Sequence[str] | None = None,
        **options: Unpack[CompareOptions],
    ) -> Stream:
        """`async for piece in session.astream(...)`: Pieces as they arrive; then `.comparison`."""
        if "listener" in options or "on_text" in options:
            raise InvalidOption("astream streams its own pieces: use listener/on_text with compare")

        def start(listener: Listener) -> Coroutine[Any, Any, Comparison]:
            with_listener: CompareOptions = {**options, "listener": listener}
            return self.acompare(prompts, models, **with_listener)

        return Stream(start)

    def compare(
        self,
        prompts: str | Prompt | Sequence[str | Prompt],
        models: str | Sequence[str] | None = None,
        **options: Unpack[CompareOptions],
    ) -> Comparison:
        """`acompare` for code without an event loop of its own (scripts, notebook cells)."""
        return self._loop.run(self.acompare(prompts, models, **options))

    def close(self) -> None:
        """Commit what is recorded, close the clients opened by sync calls, stop the loop."""
        if self.labbook is not None:
            try:
                self.labbook.commit()
            except Exception as e:  # the records are safe on disk; the next commit takes them
                from workbench.notices import notice

                notice(f"lab notebook not committed on close ({e}); the records are on disk")
        self._finalizer()

    async def aclose(self) -> None:
        """Close the clients opened on the running loop (after `await acompare`)."""
        await close_models(self._models.pop(asyncio.get_running_loop(), {}))

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _shut_down(
    loop: BackgroundLoop,
    models: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Model]],
) -> None:
    own = loop.running_loop
    for other, pool in list(models.items()):
        if other is not own and pool:
            _close_on(other, pool)  # a pool on another live loop (the panel's)
    if own is not None and own in models:
        pool = models.pop(own)
        if _running_on(own):  # collected on the loop's own thread: it cannot wait for itself
            own.create_task(close_models(pool))
            return
        loop.run(close_models(pool))
    loop.close()


def _running_on(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


def _close_on(loop: asyncio.AbstractEventLoop, pool: dict[str, Model]) -> None:
    """Close a pool's clients on the loop they belong to, from any thread."""
    if loop.is_closed() or not loop.is_running():
        return
    if _running_on(loop):
        loop.create_task(close_models(pool))
        return
    with contextlib.suppress(Exception):  # at shutdown, a client left open is the lesser evil
        asyncio.run_coroutine_threadsafe(close_models(pool), loop).result(timeout=5)


class _Recording(Forwarding):
    """Passes events on to a listener and every finished call to the recorders."""

    def __init__(self, inner: Listener, recorders: list[Recorder]) -> None:
        super().__init__(inner)
        self.recorders = recorders
        self.futures: dict[Job, list[Future[dict[str, Any]]]] = {}

    async def written(self, jobs: Sequence[Job]) -> list[dict[str, Any] | None]:
        """Wait until every record is durable; the first recorder's record for each job."""
        out: list[dict[str, Any] | None] = []
        for job in jobs:
            futures = self.futures.get(job, [])
            done = [await asyncio.wrap_future(f) for f in futures]
            out.append(done[0] if done else None)
        return out

    def finished(self, job: Job, reply: Reply) -> None:
        """Hand the call to every recorder, then pass it on."""
        for record in self.recorders:
            future = record(job, reply)
            if future is not None:
                self.futures.setdefault(job, []).append(future)
        super().finished(job, reply)


_default: Session | None = None


def session() -> Session:
    """The process's default session, created on first use."""
    global _default
    if _default is None:
        _default = Session()
    return _default


def reset_session(new: Session | None = None) -> Session:
    """Replace the default session (after changing config, or in tests)."""
    global _default
    _default = new or Session()
    return _default


def drop_session() -> None:
    """Close the default session, if there is one; the next `session()` makes a new one."""
    global _default
    old, _default = _default, None
    if old is not None:
        old.close()
