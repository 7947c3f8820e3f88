"""One audit item answered: its prompt and calls, answers reused or sent, scored and judged."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from workbench.audit import files
from workbench.audit.agreement import NEEDS_HUMAN, agreement_key, outcome, score_all
from workbench.audit.records import UNFINISHED, Judged, answer_row, job_key, reply_from
from workbench.audit.scorers import Judge, Score, Value
from workbench.errors import ReplayMissing, ScorerError
from workbench.providers.base import Prompt, Reply, ReplyError
from workbench.run import Job

if TYPE_CHECKING:
    from workbench.audit.exercise import Exercise
    from workbench.audit.items import Item
    from workbench.audit.records import CallRecorder
    from workbench.audit.store import RunFolder
    from workbench.labbook.redact import Redactor
    from workbench.providers.content import Schema
    from workbench.providers.registry import ModelSpec
    from workbench.run import Runner


class ItemAnswers:
    """What an `Execution` does for one item: plan its calls, answer, score, judge, make its row.

    A mixin: the execution sets these attributes (the run's at set-up, the rest in `run`).
    """

    folder: RunFolder
    exercise: Exercise
    schema: Schema | None
    specs: list[ModelSpec]
    samples: int
    judges: list[ModelSpec]
    redact: Redactor
    replay: bool
    reuse: dict[tuple[str, int], dict[str, Any]]
    runner: Runner
    recorder: CallRecorder
    stop: bool
    failure: ScorerError | None

    def plan(self, item: Item) -> tuple[Prompt, list[Job]]:
        """The prompt an item sends and its calls (models x samples), alike in every execution."""
        sent = [files.read(self.folder.path, f) for f in item.files]
        prompt = Prompt.of(
            self.exercise.render(item),
            system=self.exercise.system,
            files=sent,
            schema=self.schema,
            **self.exercise.params,
        )
        jobs = [
            Job.plan(spec, prompt, item.index, s)
            for spec in self.specs
            for s in range(self.samples)
        ]
        return prompt, jobs

    async def _answer_item(
        self, item: Item, prompt: Prompt, jobs: Sequence[Job]
    ) -> dict[str, Any] | None:
        answered = await self._answer(jobs)
        if answered is None:
            return None
        scorer = self.exercise.scorer
        texts = [self.redact.text(reply.text) for reply, _, _ in answered]
        values = [
            Value(self.redact(reply.data)) if self.schema is not None and reply.ok else None
            for reply, _, _ in answered
        ]
        try:
            scores = score_all(scorer, [r for r, _, _ in answered], texts, item, values)
        except ScorerError as e:  # start nothing new; the run fails once in-flight items end
            self.failure = self.failure or e
            self.stop = True
            return None
        judged: list[Judged | None] = [None] * len(jobs)
        if self.judges:
            result = await self._judge(item, prompt, answered, texts, scores)
            if result is None:
                return None
            scores, judged = result
        result_outcome, agreed = outcome(scorer, scores, item.expected)
        if result_outcome != "error" and any(j is not None and j.split for j in judged):
            result_outcome = "judges-split"
        answers = [
            answer_row(
                job,
                reply,
                texts[k],
                scores[k],
                record=record,
                live=live,
                key=agreement_key(scores[k], by_verdict=bool(self.judges)),
                judged=judged[k],
                data=value.data if (value := values[k]) else None,
            )
            for k, (job, (reply, record, live)) in enumerate(zip(jobs, answered, strict=True))
        ]
        return {
            "item": item.id,
            "index": item.index,
            "where": item.where,
            "expected": item.expected,
            "outcome": result_outcome,
            "agreed": agreed,
            "needs_human": result_outcome in NEEDS_HUMAN,
            "answers": answers,
        }

    async def _answer(self, jobs: Sequence[Job]) -> list[tuple[Reply, str | None, bool]] | None:
        """(reply, record id, sent now) per job; None if the item must wait (budget, stop)."""
        out: list[tuple[Reply, str | None, bool] | None] = [None] * len(jobs)
        todo: list[int] = []
        for k, job in enumerate(jobs):
            record = self.reuse.get(job_key(job)) if self.reuse else None
            if record is not None:
                out[k] = (reply_from(record), record["id"], False)
            elif self.replay:
                error = ReplyError.of(ReplayMissing("the original run has no record of this call"))
                out[k] = (Reply(job.spec.label, job.spec.full_name, error=error), None, False)
            else:
                todo.append(k)
        if todo:
            replies = await self.runner.run([jobs[k] for k in todo])
            for k, reply in zip(todo, replies, strict=True):
                future = self.recorder.record_of(jobs[k])
                record_id = (await asyncio.wrap_future(future))["id"] if future else None
                out[k] = (reply, record_id, True)
        done = [x for x in out if x is not None]
        if any(r.error is not None and r.error.is_a(*UNFINISHED) for r, _, _ in done):
            return None
        return done

    async def _judge(
        self,
        item: Item,
        prompt: Prompt,
        answered: Sequence[tuple[Reply, str | None, bool]],
        texts: Sequence[str],
        scores: list[Score | None],
    ) -> tuple[list[Score | None], list[Judged | None]] | None:
        """Every judge grades every complete answer; the panel's rule gives each its verdict."""
        scorer = self.exercise.scorer
        assert isinstance(scorer, Judge) and self.judges
        asks: list[Job] = []
        where: list[int] = []
        for k, (reply, _, _) in enumerate(answered):
            if reply.ok:  # the judge sees the item's files too: it grades answers about them
                text = scorer.prompt(prompt.text, texts[k], item.expected, self.exercise.reason)
                ask = Prompt.of(text, files=prompt.files)
                asks += [Job.plan(judge, ask, item.index, k) for judge in self.judges]
                where.append(k)
        got = await self._answer(asks)
        if got is None:
            return None
        judged: list[Judged | None] = [None] * len(answered)
        new_scores = list(scores)
        size = len(self.judges)
        for n, k in enumerate(where):
            replies = got[n * size : (n + 1) * size]
            answer = old.answer if (old := scores[k]) else None
            if not all(reply.ok for reply, _, _ in replies):
                new_scores[k] = None  # a judge failed: the item is an error
                continue
            read = [scorer.verdict(self.redact.text(reply.text)) for reply, _, _ in replies]
            verdict, split = scorer.vote([passed for passed, _ in read])
            labels = [judge.label for judge in self.judges]
            judged[k] = Judged(
                {label: passed for label, (passed, _) in zip(labels, read, strict=True)},
                {label: record for label, (_, record, _) in zip(labels, replies, strict=True)},
                split,
            )
            if not scorer.is_panel:
                new_scores[k] = Score(answer, verdict, read[0][1])
                continue
            said = ", ".join(
                f"{label} {_said(p)}" for label, (p, _) in zip(labels, read, strict=True)
            )
            new_scores[k] = Score(answer, verdict, f"judges ({scorer.rule}): {said}")
        return new_scores, judged


def _said(verdict: bool | None) -> str:
    return "no verdict" if verdict is None else ("PASS" if verdict else "FAIL")
