"""Running a workflow: each due step's calls, its output, its commit and its desk changes.

Steps run in file order. A step is due when it is stale or was never made (see `state`);
before anything is sent, the repository must be able to take commits (`Channel.ready`) and
every step must resolve (`plan.resolve`). For each due step: take its desk item (a claim,
pushed), fill in its prompt file, send it (N alternatives: N draws, each with its own seed),
write the output (or the alternatives, which wait for a pick), commit the output and the
state file together (only those paths), leave its memo or mark its desk item done, and note
the step in the lab notebook, linked to its call records, committed at once.

An answer recorded before to exactly the same request (an interrupted run, a step redone
with nothing changed) is taken from the lab notebook instead of being paid for again;
`fresh=True` asks again. A step whose calls fail stops the run, the answers that came kept.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from workbench.channel import Channel, ClaimConflict
from workbench.comparison import Comparison
from workbench.errors import InvalidOption
from workbench.labbook.chain import prompt_hash
from workbench.prompts import blob_hash
from workbench.providers.base import Params, Prompt, Reply, ReplyError, Usage
from workbench.run import Job
from workbench.workflows.plan import Planned, plan_step, resolve
from workbench.workflows.result import FlowRun, StepResult
from workbench.workflows.spec import WorkflowSpec
from workbench.workflows.state import StepRecord, StepStatus, read_state, state_path, write_state

if TYPE_CHECKING:
    from workbench.desk.items import Item
    from workbench.providers.registry import ModelSpec
    from workbench.providers.replay import Replies
    from workbench.sessions import Session

__all__ = ["FlowRun", "Runner", "StepResult", "alternative", "alternatives_of"]


class Runner:
    """One run of one workflow (see the module docstring)."""

    def __init__(
        self,
        spec: WorkflowSpec,
        session: Session,
        *,
        budget_usd: float | None = None,
        fresh: bool = False,
        progress: bool = True,
    ) -> None:
        self.spec = spec
        self.session = session
        self.what = f"workflow {spec.path.name}"
        self.channel = Channel.at(spec.folder, what=self.what)
        self.top = self.channel.top
        self.cap = budget_usd if budget_usd is not None else spec.budget_usd
        self.fresh = fresh
        self.progress = progress
        self.spent = 0.0
        self.state = read_state(spec)

    def close(self) -> None:
        """Stop the git helper processes."""
        self.channel.close()

    def say(self, text: str) -> None:
        """One progress line on stderr."""
        if self.progress:
            print(f"flow {self.spec.name}: {text}", file=sys.stderr, flush=True)

    def run(self, only: Sequence[str] = ()) -> FlowRun:
        """Make every due step (of `only`, when given), in order; stop at a failure."""
        for name in only:
            self.spec.step(name)  # an unknown step is an error before anything is sent
        self.channel.ready(self.what)
        resolved = resolve(self.spec, self.session.config, self.top)
        statuses: dict[str, StepStatus] = {}
        results: list[StepResult] = []
        failed = False
        for step in self.spec.steps:
            desk = self._desk() if any(i.source == "desk" for i in step.inputs) else None
            planned = plan_step(
                self.spec, step, resolved[step.id], self.top, statuses,
                self.state.get(step.id), desk,
            )  # fmt: skip
            if failed or (only and step.id not in only) or not planned.due:
                why = "not run: an earlier step failed" if failed else planned.why
                results.append(StepResult(step.id, "skipped", why, planned.label))
                statuses[step.id] = planned.as_status()
                continue
            result = self.make(planned)
            results.append(result)
            status = {"made": "done", "alternatives": "pick"}.get(result.status, "failed")
            statuses[step.id] = StepStatus(step, status, result.message, planned.label)  # type: ignore[arg-type]
            failed = result.status == "failed"
        return FlowRun(self.spec.name, results, self.spent)

    def _desk(self) -> Any:
        from workbench.desk import board

        return board(self.top)

    # -- one step -------------------------------------------------------------------------

    def make(self, planned: Planned) -> StepResult:
        """Run one due step: desk claim, calls, output, commit, desk, lab notebook note."""
        step, label = planned.step, planned.label
        item = next(
            (
                r["source"][5:]
                for r in planned.found.records.values()
                if r["source"].startswith("desk:")
            ),
            None,
        )
        targets = self._targets(planned)
        blocked = self._uncommitted(targets)
        if blocked:
            return StepResult(step.id, "failed", blocked, label)
        if item is not None:
            try:
                from workbench.desk import claim

                claim(item, by=label, via=f"flow {self.spec.name} step {step.id}", repo=self.top)
            except ClaimConflict as e:
                self.say(f"{step.id}: {e}")
                return StepResult(step.id, "skipped", str(e), label)
        self.say(f"{step.id} ({label}) ...")
        prompt = self._prompt(planned)
        comparison, records, reused, cost = self._answers(planned, prompt)
        failed = [r for r in comparison.replies if not r.ok]
        if failed:
            first = failed[0].error
            why = f"{first.type}: {first.message}" if first else "no answer"
            message = (
                f"{len(failed)} of {len(comparison.replies)} calls failed ({why}); the answers "
                "that came are kept: run again to resume"
            )
            self.say(f"{step.id}: {message}")
            return StepResult(step.id, "failed", message, label, comparison, cost_usd=cost)
        texts = [r.text for r in comparison.replies]
        count = len(targets)
        rels = [self.channel.relative(t) for t in targets]
        made = f"wrote {rels[0]}" if count == 1 else f"wrote {count} alternatives"
        self.note(planned, records, made)  # with the calls' records, committed first
        record = self._record(planned, records, reused, cost, item)
        for target, text in zip(targets, texts, strict=True):
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        if count == 1:
            record["output_blob"] = blob_hash(targets[0].read_bytes())
        else:
            record["alternatives"], record["picked"] = rels, None
        memo = (
            self.memo_for(planned, record, texts[0], comparison.replies[0]) if count == 1 else None
        )
        self.state[step.id] = record
        commit = self._commit(planned, rels, records, reused)
        if count == 1:
            self.share(planned, record, memo)
            status, message = "made", made + (f", memo {memo.id} for {memo.to}" if memo else "")
        else:
            status = "alternatives"
            message = f"{made}; pick one: workbench flow pick {self.spec.path.name} {step.id} N"
        self.say(f"{step.id}: {message} (${cost:.4f}{f', {reused} reused' if reused else ''})")
        return StepResult(step.id, status, message, label, comparison, rels, cost, reused, commit)

    def _targets(self, planned: Planned) -> list[Path]:
        """The files a step writes: its output, or its alternatives."""
        output = self.spec.folder / planned.step.output
        count = planned.step.alternatives
        return [output] if count == 1 else [alternative(output, i) for i in range(1, count + 1)]

    def _uncommitted(self, targets: Sequence[Path]) -> str | None:
        """Why a step may not write its files: one holds changes not committed (kept)."""
        for target in targets:
            if target.is_file():
                rel = self.channel.relative(target)
                if self.channel.head_blob(rel) != blob_hash(target.read_bytes()):
                    return (
                        f"{rel} has changes that are not committed: commit (or discard) them, "
                        "then run again; nothing was sent"
                    )
        return None

    def _prompt(self, planned: Planned) -> Prompt:
        """The step's prompt file filled in; with `brief`, the model's brief in its system."""
        prompt = planned.prompt
        if planned.step.brief:
            from workbench.brief import brief

            book = self.session.labbook
            text = brief(
                planned.label,
                roles=[planned.step.role] if planned.step.role else (),
                labbook=book.root if book is not None else None,
                repo=self.top,
            )
            system = "\n\n".join(p for p in (prompt.system, text) if p)
            prompt = replace(prompt, system=system)
        return prompt.render(planned.found.values)

    def _answers(
        self, planned: Planned, prompt: Prompt
    ) -> tuple[Comparison, list[str | None], int, float]:
        """(the answers side by side, their record ids, how many were reused, the cost paid).

        Answers recorded before to the same request are taken; the rest are sent.
        """
        spec, label, count = planned.spec, planned.label, planned.step.alternatives
        asked = alternatives_of(prompt, spec, count)
        jobs = [Job(spec, Job.plan(spec, p).prompt, 0, i) for i, p in enumerate(asked)]
        known = {} if self.fresh else self._recorded()
        replies: list[Reply | None] = []
        ids: list[str | None] = []
        for job in jobs:
            record = known.get(prompt_hash(spec.full_name, job.prompt))
            replies.append(None if record is None else _reply_from(record, label))
            ids.append(None if record is None else str(record["id"]))
        reused = sum(r is not None for r in replies)
        missing = [i for i, r in enumerate(replies) if r is None]
        cost = 0.0
        if missing:
            left = None if self.cap is None else max(0.0, self.cap - self.spent)
            fresh = self.session.compare([asked[i] for i in missing], [label], budget_usd=left)
            for i, reply, rid in zip(missing, fresh.replies, fresh.record_ids, strict=True):
                replies[i], ids[i] = reply, rid
                cost += reply.cost_usd or 0.0
        self.spent += cost
        answered = [r for r in replies if r is not None]
        view = Comparison(
            (prompt,), (label,), count, tuple(jobs), tuple(answered), tuple(ids),
            self.session.labbook, self.session,
        )  # fmt: skip
        return view, ids, reused, cost

    def _recorded(self) -> Replies:
        book = self.session.labbook
        if book is None:
            return {}
        from workbench.providers.replay import recorded_replies

        return recorded_replies(book.root)

    def _record(
        self,
        planned: Planned,
        records: list[str | None],
        reused: int,
        cost: float,
        item: str | None,
    ) -> StepRecord:
        record: StepRecord = {**planned.current}
        record["records"] = [r for r in records if r]
        record["reused"] = reused
        record["cost_usd"] = cost
        record["output"] = self.channel.relative(self.spec.folder / planned.step.output)
        record["desk_item"] = item
        record["at"] = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        return record

    def _commit(
        self, planned: Planned, rels: list[str], records: list[str | None], reused: int
    ) -> str | None:
        """Commit the step's files and the state file, those paths only."""
        write_state(self.spec, self.state)
        calls = len(records) - reused
        said = f"{calls} call{'s' * (calls != 1)}" + (f", {reused} reused" if reused else "")
        message = (
            f"flow {self.spec.name}: {planned.step.id} -> {', '.join(rels)} ({planned.label}, "
            f"{said})\n\nprompt {planned.prompt.origin.path} {planned.prompt.origin.blob[:12]}"
            f"\nrecords {' '.join(r for r in records if r)}"
        )
        paths = [*rels, self.channel.relative(state_path(self.spec))]
        return self.channel.commit(message, paths, what=self.what)

    def memo_for(
        self, planned: Planned, record: StepRecord, text: str, reply: Reply
    ) -> Item | None:
        """The memo a step leaves (`memo: ROLE`), named in its record before the commit."""
        if not planned.step.memo:
            return None
        memo = self._memo(planned, record, text, reply)
        record["memo"] = memo.id
        return memo

    def share(self, planned: Planned, record: StepRecord, memo: Item | None) -> None:
        """Leave the memo and mark the step's desk item done: one desk commit, shared."""
        from workbench import desk
        from workbench.desk.actions import put

        item = record.get("desk_item")
        if item:
            desk.done(item, by=planned.label, outputs=[record["output"]], memo=memo, repo=self.top)
        elif memo is not None:
            put(memo, repo=self.top)

    def _memo(self, planned: Planned, record: StepRecord, text: str, reply: Reply) -> Item:
        from workbench.desk.items import Item, flags_of, new_id, now

        flags: tuple[Any, ...] = ()
        data = reply.data if isinstance(reply.data, dict) else {}
        if isinstance(data.get("flags"), list):  # a schema that asks for flagged lines
            try:
                flags = flags_of(data["flags"])
            except InvalidOption:
                flags = ()
        about = [
            v["path"] for v in (record.get("inputs") or {}).values() if "desk:" not in v["source"]
        ]
        title = f"{planned.step.id} of {self.spec.name}: {record['output']}"
        return Item(
            id=new_id(title), kind="memo", title=title, to=str(planned.step.memo),
            by=planned.label, at=now(), about=tuple(about), on=record.get("desk_item"),
            flags=flags, body=text.strip(),
        )  # fmt: skip

    def note(self, planned: Planned, records: list[str | None], text: str) -> None:
        """A lab notebook note on the step's calls, committed now with their records."""
        book = self.session.labbook
        if book is None:
            return
        step = planned.step
        book.note(
            f"flow {self.spec.name}: step {step.id} ({planned.label}) {text}",
            on=[r for r in records if r],
            tags=["flow", f"flow:{self.spec.name}", f"step:{step.id}"],
        )
        book.commit(f"flow {self.spec.name}: {step.id}")


def alternatives_of(prompt: Prompt, spec: ModelSpec, count: int) -> list[Prompt]:
    """N draws of one prompt: the k-th (k > 0) with seed (the given seed, or 0) + k, as samples."""
    if count == 1:
        return [prompt]
    base = prompt.params.seed if prompt.params.seed is not None else spec.params.seed or 0
    return [prompt] + [
        prompt.with_params(prompt.params.merged(Params(seed=base + k))) for k in range(1, count)
    ]


def alternative(output: Path, number: int) -> Path:
    """paper/draft.md -> paper/draft.alt-2.md: where alternative `number` waits for a pick."""
    pure = PurePosixPath(output.name)
    return output.with_name(f"{pure.stem}.alt-{number}{pure.suffix}")


def _reply_from(record: dict[str, Any], label: str) -> Reply:
    """A recorded answer, taken again: its text and figures (no new cost)."""
    said = record.get("reply") or {}
    usage = said.get("usage") or {}
    error = said.get("error")
    return Reply(
        model=label,
        resolved=str(record.get("resolved")),
        text=str(said.get("text") or ""),
        usage=Usage.from_dict(usage),
        cost_usd=0.0,
        price_source="lab notebook (taken again)",
        finish_reason=said.get("finish_reason"),
        model_version=said.get("model_version"),
        error=None if error is None else ReplyError(error["type"], error["message"]),
        data=said.get("data"),
    )
