"""Executes an audit run: items x models x samples through the Runner, saved item by item.

`execute(run_dir)` is what the audit notebook calls. It answers the items that have no
result yet: each call goes through `workbench.run.Runner` under the session's budget and
the run's, is recorded in the lab notebook like any call, and each finished item is
appended to `results.jsonl` at once. A call already answered in an earlier execution of
the same run is not sent again: its recorded answer is used (resume). With `replay_of`
in the manifest every answer comes from the original run's records, and none is sent.

Stopping: a budget reached, or a `STOP` file in the run folder (what Ctrl-C in
`workbench audit run` writes), starts no new item; items in flight finish and are saved.
A hard interrupt (KeyboardInterrupt in the kernel) cancels what is in flight; what
finished is already on disk either way. A scorer that gives no verdict (`ScorerError`)
stops the run the same way, then fails it with its one-line message: the calls already
made are recorded, and a resume after the fix answers from them.

An item starts only when the most its calls could cost fits what is left of the budget
(see `spend`), so a tight budget buys whole items. What a run spent is what its calls
cost: the sum of `cost_usd` over every call record of its sessions, so calls of items left
unfinished by a stop count too.

Every answer is scored as the lab notebook records it (redacted): the result rows, a
resume and a replay then all see the same text.

An item's files are read from the run's own copies (`files/<sha256>`), and the schema is
the one the run began with (its manifest): a resume sends the same request, so it finds
the calls already answered by their request hash, which covers the files' bytes.

This module is the run loop (admission, stop, progress, commits); `answering` does one item.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from workbench.audit import secrets
from workbench.audit.answering import ItemAnswers
from workbench.audit.exercise import Exercise, loads
from workbench.audit.items import Item
from workbench.audit.records import CallRecorder, job_key, recorded_calls
from workbench.audit.scorers import Judge
from workbench.audit.spend import Admission, spent_by
from workbench.audit.store import EXERCISE, ResultWriter, RunFolder, close_book, open_book
from workbench.budget import Budget
from workbench.config import Config
from workbench.errors import ScorerError
from workbench.providers import registry
from workbench.providers.base import Prompt
from workbench.providers.content import Schema
from workbench.providers.registry import ModelSpec
from workbench.run import Job, Runner, close_models
from workbench.sessions import Session

PREPARED = threading.Event()
"""Set once every model of the execution under way is ready to call (its SDK imported, its
worker started), or once the execution ends: `notebook.warm_report` waits for it, so that
its imports do not take the cores the models' start-up needs."""


class Execution(ItemAnswers):
    """One execution of a run (the first, a resume, or a replay); `ItemAnswers` does each item."""

    def __init__(
        self, folder: RunFolder, *, progress: bool = False, config: Config | None = None
    ) -> None:
        self.folder = folder
        self.manifest = folder.manifest()
        config = config or Config.load()
        # the run's redaction patterns (kept in its manifest) apply to its records too
        patterns = secrets.patterns(config.labbook.redact, self.manifest.get("redact") or ())
        self.config = replace(config, labbook=replace(config.labbook, redact=tuple(patterns)))
        self.redact = secrets.redactor(patterns)
        text = (folder.path / EXERCISE).read_text(encoding="utf-8")
        self.exercise: Exercise = loads(
            text,
            file=self.manifest["exercise"],
            base=folder.resolve(self.manifest["base"]) or folder.path,
            check=False,
        )
        kept = self.manifest.get("schema")  # as the run began (redacted like its files)
        self.schema = Schema.of(kept) if kept is not None else self.exercise.schema
        self.replay = self.manifest.get("replay_of") is not None
        self.specs = [registry.resolve(m, self.config) for m in self.manifest["models"]]
        self.samples = int(self.manifest.get("samples", 1))
        self.judges: list[ModelSpec] = []
        if isinstance(self.exercise.scorer, Judge):
            self.judges = [registry.resolve(m, self.config) for m in self.exercise.scorer.models]
        self.progress = progress
        self.stop = False
        self.failure: ScorerError | None = None
        self.status = "running"
        self.done = 0

    # -- set-up --------------------------------------------------------------------------

    def _session(self) -> Session:
        session = Session(self.config, labbook=False)
        root = self.folder.labbook_root
        book = open_book(root, self.config, source=f"audit {self.folder.name}", session=session.id)
        session.labbook = book
        session.recorders.append(book.record_call)
        return session

    # -- running -------------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        """Answer every pending item; return the manifest as left at the end."""
        items = self.folder.pending()
        session = self._session()
        sessions = [*self.manifest.get("sessions", []), session.id]
        self.manifest = self.folder.update(status="running", sessions=sessions)
        source_sessions = self.manifest.get("replay_sessions") if self.replay else sessions
        self.reuse = recorded_calls(
            self.folder.labbook_root, source_sessions or [], with_errors=self.replay
        )
        if not self.replay:  # a batch's failed requests are answers too (see `audit.batch`)
            from workbench.audit.batch_state import fresh_answers

            self.reuse.update(fresh_answers(self.folder))
        budget = self.manifest.get("budget_usd")
        if budget is not None:  # the cap is the whole run's: what earlier executions spent counts
            budget = max(0.0, float(budget) - float(self.manifest.get("spent_usd", 0.0)))
        self.recorder = CallRecorder(session)
        self.models: dict[str, Any] = {}
        run_budget = Budget(budget, "run")
        self.admission = Admission(run_budget, self.config)
        self._room = asyncio.Condition()  # an item finished: money may be free for another
        self.runner = Runner(
            self.config,
            budgets=[session.budget, run_budget],
            listener=self.recorder,
            stream=False,
            models=self.models,
            processes=self.config.run.processes,
        )
        self.writer = ResultWriter(self.folder, self.redact)
        self.session = session
        self._last_commit = time.monotonic()
        self._committing = False
        bar = self._bar(len(items))
        queue = iter(items)
        watcher = asyncio.create_task(self._watch())
        prepared = asyncio.create_task(self._prepared())
        workers = [asyncio.create_task(self._work(queue, bar)) for _ in range(self._window())]
        try:
            try:
                await asyncio.gather(*workers)
            except BaseException:  # one worker failed: the others must not write on
                for worker in workers:
                    worker.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
                raise
            if self.failure is not None:
                raise self.failure
            self.status = self._final_status()
        except asyncio.CancelledError:
            self.status = "interrupted"
            raise
        except Exception:
            self.status = "failed"
            raise
        finally:
            watcher.cancel()
            prepared.cancel()
            PREPARED.set()
            self.writer.close()
            if bar is not None:
                bar.close()
            await close_models(self.models)
            self.manifest = self._finish(session)
        return self.manifest

    def _final_status(self) -> str:
        if self.recorder.budget_hit:
            return "stopped-budget"
        if self.stop:
            return "interrupted"
        return "complete" if not self.folder.pending() else "complete-with-errors"

    def _finish(self, session: Session) -> dict[str, Any]:
        book = session.labbook
        assert book is not None
        book.close()
        rows = self.folder.rows()
        counts: dict[str, int] = {}
        for row in rows:
            counts[row["outcome"]] = counts.get(row["outcome"], 0) + 1
        # every call the run's sessions made, finished item or not (all on disk: book closed)
        spent = spent_by(self.folder.labbook_root, self.manifest.get("sessions", []))
        manifest = self.folder.update(
            status=self.status, spent_usd=spent, counts=counts, finished=len(rows)
        )
        book.commit(f"audit {self.folder.name}: {self.status}")
        close_book(book)
        return manifest

    def _window(self) -> int:
        specs = [*self.specs, *self.judges]
        limits = [registry.provider_settings(s, self.config).most_in_flight for s in specs]
        return max(2, 2 * max(limits))

    def _bar(self, total: int) -> Any:
        if not self.progress:
            return None
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=self.exercise.name, unit="item")

    async def _prepared(self) -> None:
        """Set `PREPARED` once each model has been built and prepared by its first call."""
        names = {spec.full_name for spec in self.specs}
        while not names <= self.models.keys():
            await asyncio.sleep(0.05)
        PREPARED.set()

    async def _watch(self) -> None:
        while not self.stop:
            if await asyncio.to_thread(self.folder.stop_requested):
                self.stop = True
            await asyncio.sleep(0.1)

    async def _work(self, queue: Iterator[Item], bar: Any) -> None:
        for item in queue:
            if self.stop or self.recorder.budget_hit:
                return
            row = await self._item(item)
            if row is None:
                continue
            self.writer.write(row)
            self.done += 1
            if bar is not None:
                bar.update(1)
            await self._maybe_commit()

    async def _maybe_commit(self) -> None:
        every = self.config.labbook.commit_every_s
        if self._committing or time.monotonic() - self._last_commit < every:
            return
        self._committing = True
        try:
            book = self.session.labbook
            assert book is not None
            await asyncio.to_thread(book.commit, f"audit {self.folder.name}: {self.done} items")
        finally:
            self._last_commit = time.monotonic()
            self._committing = False

    # -- admission -----------------------------------------------------------------------

    def _bound(self, item: Item, prompt: Prompt, jobs: Sequence[Job]) -> float:
        """The most this item's calls still to make could cost (its judge's included)."""
        if self.replay:
            return 0.0
        sent = [job for job in jobs if job_key(job) not in self.reuse]
        bound = self.admission.estimate(sent)
        scorer = self.exercise.scorer
        if isinstance(scorer, Judge):
            ask = scorer.prompt(prompt.text, "", item.expected, self.exercise.reason)
            bound += sum(self.admission.judged(sent, judge, ask) for judge in self.judges)
        return bound

    async def _admit(self, amount: float) -> bool:
        """Wait until the item fits the budget; False when it never will (nothing in flight)."""
        async with self._room:
            while not self.admission.admit(amount):
                if self.admission.in_flight_usd <= 0 or self.stop:
                    return False
                await self._room.wait()
        return True

    async def _release(self, amount: float) -> None:
        self.admission.release(amount)
        async with self._room:
            self._room.notify_all()

    # -- one item ------------------------------------------------------------------------

    async def _item(self, item: Item) -> dict[str, Any] | None:
        if item.files:  # its files are read from the run folder: off the loop
            prompt, jobs = await asyncio.to_thread(self.plan, item)
        else:  # a template filled in: a thread's hop would cost more than the work
            prompt, jobs = self.plan(item)
        bound = self._bound(item, prompt, jobs)
        if not await self._admit(bound):
            if not self.stop:  # a stop asked while waiting is a stop, not the budget's
                self.recorder.budget_hit = True
            return None
        try:
            return await self._answer_item(item, prompt, jobs)
        finally:
            await self._release(bound)


def execute(
    run_dir: str | Path, *, progress: bool = False, config: Config | None = None
) -> dict[str, Any]:
    """Run (or resume, or replay) the run in `run_dir` to its end; return its manifest.

    `config` defaults to the one `Config.load()` finds (what the audit notebook's kernel uses).
    """
    from workbench.loop import BackgroundLoop

    folder = RunFolder(Path(run_dir).resolve())
    if folder.manifest().get("report_only"):
        PREPARED.set()
        return folder.manifest()
    PREPARED.clear()
    execution = Execution(folder, progress=progress, config=config)
    loop = BackgroundLoop("workbench-audit")
    try:
        return loop.run(execution.run())
    finally:
        loop.close()
