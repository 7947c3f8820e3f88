"""A comparison rebuilt from the lab notebook, so a later process can follow it up.

Every session starts from zero: `workbench compare TEXT --follow-up` (or `--after ID`) finds
the recorded calls, rebuilds each one's request as it was sent (messages, files from the lab
notebook's store, params, schema) and its answer, and hands them to `Session.follow_up` as a
Comparison: each model then continues its own conversation, and the new records name the
recorded ones as their parents.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.comparison import Comparison
from workbench.errors import InvalidOption, NotRecorded
from workbench.labbook import book, filestore
from workbench.providers.base import Message, Params, Prompt, Reply, ReplyError
from workbench.providers.content import File, Schema
from workbench.providers.registry import ModelSpec
from workbench.run import Job

if TYPE_CHECKING:
    from workbench.sessions import Session

LOOK_BACK = 2000
"""How many recent call records are searched for the ones asked for."""


def recorded_comparison(session: Session, record_ids: Sequence[str] = ()) -> Comparison:
    """The recorded calls to follow up, as a Comparison.

    `record_ids` name them (their last 8 or more characters do); without, the latest
    comparison recorded: the newest call and the calls of its session that asked the same.
    """
    if session.labbook is None:
        raise NotRecorded("this session has no lab notebook to follow up from")
    root = session.labbook.root
    calls = book.recent(root, LOOK_BACK, keep=lambda r: r.get("kind") == "call")
    if not calls:
        raise NotRecorded(f"no call recorded in {root} yet: compare something first")
    chosen = _named(calls, record_ids) if record_ids else _latest(calls)
    jobs, replies = zip(*(_job_and_reply(root, r) for r in chosen), strict=True)
    labels = list(dict.fromkeys(job.spec.label for job in jobs))
    samples = 1 + max(job.sample for job in jobs)
    return Comparison(
        (jobs[0].prompt,),
        tuple(labels),
        samples,
        tuple(jobs),
        tuple(replies),
        tuple(str(r["id"]) for r in chosen),
        session.labbook,
        session,
    )


def _named(calls: list[dict[str, Any]], record_ids: Sequence[str]) -> list[dict[str, Any]]:
    chosen = []
    for wanted in record_ids:
        key = wanted.strip().upper()
        if len(key) < 8:
            raise InvalidOption(f"{wanted!r}: give at least the last 8 characters of a record id")
        found = [r for r in calls if str(r.get("id", "")).endswith(key)]
        if not found:
            raise NotRecorded(
                f"no call record {wanted!r} among the latest {LOOK_BACK}: `workbench log` lists ids"
            )
        chosen.append(found[-1])
    return chosen


def _latest(calls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    last = calls[-1]
    asked = last.get("prompt", {}).get("messages")
    return [r for r in calls if r["session"] == last["session"] and _same_turn(r, asked)]


def _same_turn(record: dict[str, Any], messages: Any) -> bool:
    """Whether a record asked the same last question (its own history aside)."""
    mine = record.get("prompt", {}).get("messages") or []
    return bool(mine) and bool(messages) and mine[-1] == messages[-1]


def _job_and_reply(root: Path, record: dict[str, Any]) -> tuple[Job, Reply]:
    """The job a call record made, as it was sent, and its answer."""
    asked = record.get("prompt") or {}
    messages = tuple(
        Message(m["role"], m["content"], tuple(_file(root, f) for f in m.get("files") or ()))
        for m in asked.get("messages") or ()
    )
    schema = asked.get("schema")
    prompt = Prompt(
        messages,
        Params.from_mapping(asked.get("params") or {}),
        None if schema is None else Schema(schema["json_schema"], schema.get("name", "answer")),
    )
    provider, _, model_id = str(record["resolved"]).partition(":")
    spec = ModelSpec(str(record["model"]), provider, model_id)
    job = Job(spec, prompt, 0, int(asked.get("sample", 0)), record.get("parent"))
    said = record.get("reply") or {}
    error = said.get("error")
    reply = Reply(
        spec.label,
        spec.full_name,
        text=str(said.get("text") or ""),
        error=None if error is None else ReplyError(error["type"], error["message"]),
    )
    return job, reply


def _file(root: Path, named: dict[str, Any]) -> File:
    """A file a record names, read back from the lab notebook's store and checked."""
    path = filestore.path_of(root, str(named["sha256"]))
    try:
        data = path.read_bytes()
    except OSError:
        raise NotRecorded(
            f"{named.get('name')} (sha256 {str(named['sha256'])[:12]}) is not in {root}/files: "
            "it cannot be sent again"
        ) from None
    file = File(str(named["name"]), str(named["media_type"]), data)
    if file.sha256 != named["sha256"]:
        raise NotRecorded(f"{path} was changed since it was recorded: `workbench log verify`")
    return file
