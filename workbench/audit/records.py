"""A run's calls: the key of a call, its record, the Reply it holds, its row in the results."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from workbench.errors import BudgetExceeded, Cancelled
from workbench.labbook.chain import prompt_hash
from workbench.providers.base import Reply, ReplyError, Usage
from workbench.run import Job, Listener

if TYPE_CHECKING:
    from workbench.audit.scorers import Score
    from workbench.sessions import Session


UNSENT = (BudgetExceeded,)
"""Errors of calls that were never sent: not recorded, the item stays to do."""
UNFINISHED = (BudgetExceeded, Cancelled)
"""Errors that leave an item to do (not an error outcome): resume answers it."""


class CallRecorder(Listener):
    """Records each sent call through the session's recorders; notes a budget refusal."""

    def __init__(self, session: Session) -> None:
        self.session = session
        # By the job object itself: this call's record is wanted, and hashing a Job would
        # hash its whole prompt (a schema dumped to JSON, files) at every lookup.
        self._futures: dict[int, tuple[Job, Future[dict[str, Any]]]] = {}
        self.budget_hit = False

    def finished(self, job: Job, reply: Reply) -> None:
        """Record a sent call (its record's future kept by job); a budget refusal is noted."""
        if reply.error is not None and reply.error.is_a(*UNSENT):
            self.budget_hit = True
            return
        for record in self.session.recorders:
            future = record(job, reply)
            if future is not None:
                self._futures.setdefault(id(job), (job, future))

    def record_of(self, job: Job) -> Future[dict[str, Any]] | None:
        """The future of this job's record (once: it is forgotten), None when not recorded."""
        kept = self._futures.pop(id(job), None)
        return kept[1] if kept is not None and kept[0] is job else None


@dataclass(frozen=True)
class Judged:
    """What the judges said of one answer: each one's verdict and call record, and a split."""

    verdicts: dict[str, bool | None]
    """Judge label -> PASS (True), FAIL (False) or no verdict (None)."""
    records: dict[str, str | None]
    split: bool
    """The judges did not all say the same."""


class AnswerRow(TypedDict):
    """One answer in a result row of `results.jsonl` (field order is the format's)."""

    model: str
    resolved: str
    sample: int
    text: str
    """As the lab notebook records it (redacted); scored as such."""
    data: Any
    """With a schema: the answer's parsed value, as recorded (None: no schema, or no value)."""
    answer: str | None
    key: str | None
    correct: bool | None
    """None when not scored: a failed or cut-short call, or nothing expected."""
    why: str | None
    error: str | None
    cost_usd: float | None
    latency_s: float | None
    input_tokens: int | None
    """None when the provider did not say (unknown, never 0)."""
    output_tokens: int | None
    record: str | None
    judge_record: str | None
    """The first judge's call record (see `judges` for a panel)."""
    judges: dict[str, bool | None] | None
    """Each judge's verdict (None: not judged)."""
    judge_records: dict[str, str | None] | None
    live: bool
    """Sent by this execution (False: answered from an earlier record)."""


def answer_row(
    job: Job,
    reply: Reply,
    text: str,
    score: Score | None,
    *,
    record: str | None,
    live: bool,
    key: str | None,
    judged: Judged | None = None,
    data: Any = None,
) -> AnswerRow:
    """The row of one answer: what was read and judged, what the call cost and took."""
    return AnswerRow(
        model=job.spec.label,
        resolved=job.spec.full_name,
        sample=job.sample,
        text=text,
        data=data,
        answer=score.answer if score else None,
        key=key,
        correct=score.correct if score else None,
        why=score.why if score else None,
        error=f"{reply.error.type}: {reply.error.message}" if reply.error else None,
        cost_usd=reply.cost_usd,
        latency_s=reply.latency_s,
        input_tokens=reply.usage.input_tokens,
        output_tokens=reply.usage.output_tokens,
        record=record,
        judge_record=next(iter(judged.records.values()), None) if judged else None,
        judges=judged.verdicts if judged else None,
        judge_records=judged.records if judged else None,
        live=live,
    )


def job_key(job: Job) -> tuple[str, int]:
    """What identifies a call across executions: its request hash and sample number."""
    return prompt_hash(job.spec.full_name, job.prompt), job.sample


def recorded_calls(
    root: Path, sessions: Sequence[str], *, with_errors: bool
) -> dict[tuple[str, int], dict[str, Any]]:
    """(request hash, sample) -> the latest call record of these sessions."""
    wanted = set(sessions)
    index: dict[tuple[str, int], dict[str, Any]] = {}
    for record in session_records(root, sessions):
        if record.get("kind") != "call" or record.get("session") not in wanted:
            continue
        failed = (record.get("reply") or {}).get("error") is not None
        key = (record["request_hash"], int((record.get("prompt") or {}).get("sample", 0)))
        if failed and (not with_errors or key in index):
            continue
        index[key] = record
    return index


def session_records(root: Path, sessions: Sequence[str]) -> list[dict[str, Any]]:
    """The records of these sessions in time order, reading only their own files.

    A session writes `<root>/<yyyy>/<mm>/<dd>/<session>.jsonl`.
    """
    from workbench.labbook import book, store

    wanted = set(sessions)
    found = [line.record for p in book.files(root) if p.stem in wanted for line in store.read(p)]
    return sorted(found, key=lambda r: (r["ts"], r["seq"]))


def reply_from(record: dict[str, Any]) -> Reply:
    """The Reply a call record holds."""
    data = record.get("reply") or {}
    counts: dict[str, Any] = data.get("usage") or {}
    usage: dict[str, Any] = {k: counts.get(k) for k in ("input_tokens", "output_tokens")}
    error = data.get("error")
    started = data.get("started_at")
    return Reply(
        model=record["model"],
        resolved=record["resolved"],
        text=data.get("text") or "",
        usage=Usage(**usage),  # a count the record does not hold is unknown (None), never 0
        cost_usd=data.get("cost_usd"),
        price_source=data.get("price_source"),
        latency_s=data.get("latency_s"),
        first_token_s=data.get("first_token_s"),
        finish_reason=data.get("finish_reason"),
        model_version=data.get("model_version"),
        error=ReplyError(error["type"], error["message"], error.get("status")) if error else None,
        attempts=data.get("attempts", 0),
        started_at=datetime.fromisoformat(started) if started else None,
        data=data.get("data"),
        thinking=data.get("thinking"),
    )
