"""A run's calls in the lab notebook: the key of a call, its record, the Reply it holds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from workbench.labbook.chain import prompt_hash
from workbench.models.base import Reply, ReplyError, Usage
from workbench.run import Job


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


def spent_by(root: Path, sessions: Sequence[str]) -> float:
    """What the calls these sessions recorded cost: every call billed, answered or not."""
    records = session_records(root, sessions)
    costs = ((r.get("reply") or {}).get("cost_usd") for r in records if r.get("kind") == "call")
    return sum(float(c) for c in costs if c is not None)


def reply_from(record: dict[str, Any]) -> Reply:
    """The Reply a call record holds."""
    data = record.get("reply") or {}
    usage = data.get("usage") or {}
    error = data.get("error")
    started = data.get("started_at")
    return Reply(
        model=record["model"],
        resolved=record["resolved"],
        text=data.get("text") or "",
        # a count the record does not hold is unknown (None), never 0
        usage=Usage(usage.get("input_tokens"), usage.get("output_tokens")),
        cost_usd=data.get("cost_usd"),
        price_source=data.get("price_source"),
        latency_s=data.get("latency_s"),
        first_token_s=data.get("first_token_s"),
        finish_reason=data.get("finish_reason"),
        model_version=data.get("model_version"),
        error=ReplyError(error["type"], error["message"], error.get("status")) if error else None,
        attempts=data.get("attempts", 0),
        started_at=datetime.fromisoformat(started) if started else None,
    )
