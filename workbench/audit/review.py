"""Human review of the items that need one: each verdict is a decision record in the lab notebook.

A verdict on an item either picks the model whose answer is right (a `pick` decision on
all the item's answer records, the chosen one as its choice) or rejects every answer (a
`reject` decision). Decisions are tagged `audit:<run>` and `item:<id>`, so the run's
tables and summary read them back.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.audit.files import FILES
from workbench.errors import AuditError

if TYPE_CHECKING:
    from workbench.audit.result import AuditRun
    from workbench.comparison import Comparison
    from workbench.config import Config
    from workbench.providers.content import File


def decisions(run: AuditRun) -> dict[str, dict[str, Any]]:
    """Item id -> the latest decision recorded on it for this run."""
    from workbench.labbook.sessionfiles import in_time_order

    tag = f"audit:{run.name}"
    found: dict[str, dict[str, Any]] = {}
    held = _holding(run.folder.labbook_root, [b"decision"])  # a decision's kind, however encoded
    for record in sorted(held, key=in_time_order):
        tags = record.get("tags") or []
        if record.get("kind") != "decision" or tag not in tags:
            continue
        for t in tags:
            if t.startswith("item:"):
                found[t[5:]] = record
    return found


def model_of(decision: dict[str, Any]) -> str | None:
    """The model a `pick` decision chose (from its tags)."""
    for t in decision.get("tags") or []:
        if t.startswith("model:"):
            return str(t[6:])
    return None


def decide(
    run: AuditRun,
    item: str,
    *,
    pick: str | None = None,
    reason: str | None = None,
    config: Config | None = None,
    source: str | None = None,
) -> dict[str, Any]:
    """Record a verdict on one item: `pick` a model's answer, or (pick=None) reject them all.

    `source` says where the verdict was given; by default the notebook or the command line
    this runs in (`workbench audit review` passes its own name).
    """
    from workbench.audit.store import one_off_book
    from workbench.config import Config
    from workbench.labbook.book import detect_source

    rows = {row["item"]: row for row in run.rows}
    if item not in rows:
        raise AuditError(f"{run.name} has no finished item {item!r}", run=run.name)
    answers = rows[item]["answers"]
    records = [a["record"] for a in answers if a.get("record")]
    if not records:
        raise AuditError(f"item {item!r} of {run.name} has no recorded answer to judge")
    tags = ["audit", f"audit:{run.name}", f"item:{item}"]
    choice = None
    if pick is not None:
        chosen = [a for a in answers if a["model"] == pick and a.get("record")]
        if not chosen:
            models = ", ".join(sorted({a["model"] for a in answers}))
            raise AuditError(f"no answer of {pick!r} on item {item!r}: pick one of {models}")
        choice = chosen[0]["record"]
        tags.append(f"model:{pick}")
    where = source or detect_source()
    with one_off_book(run.folder.labbook_root, config or Config.load(), where) as book:
        record = book.decide(
            "pick" if pick else "reject", records, choice=choice, reason=reason, tags=tags
        )
        book.commit(f"audit review {run.name}: {item} -> {pick or 'reject'}")
    return record


def side_by_side(run: AuditRun, item: str) -> Comparison:
    """One item's answers as a Comparison (the side-by-side view), from their records."""
    from workbench.audit.records import reply_from
    from workbench.comparison import Comparison
    from workbench.providers.base import Message, Params, Prompt
    from workbench.providers.content import Schema
    from workbench.providers.registry import ModelSpec
    from workbench.run import Job

    rows = {row["item"]: row for row in run.rows}
    if item not in rows:
        raise AuditError(f"{run.name} has no finished item {item!r}", run=run.name)
    answers = [a for a in rows[item]["answers"] if a.get("record")]
    wanted = {a["record"] for a in answers}
    manifest = run.manifest
    sessions = [*manifest.get("sessions", []), *(manifest.get("replay_sessions") or [])]
    records = _records(run.folder.labbook_root, sessions, wanted)
    if not records:
        raise AuditError(f"the answers to item {item!r} are not in the lab notebook")
    models: list[str] = []
    for a in answers:
        if a["model"] not in models:
            models.append(a["model"])
    samples = max(a["sample"] for a in answers) + 1
    jobs, replies, ids = [], [], []
    prompt: Prompt | None = None
    for model in models:
        for sample in range(samples):
            answer = next(a for a in answers if a["model"] == model and a["sample"] == sample)
            record = records[answer["record"]]
            asked = record["prompt"]
            messages = tuple(
                Message(m["role"], m["content"], _files(run, m.get("files") or ()))
                for m in asked["messages"]
            )
            shape = asked.get("schema")
            schema = Schema(shape["json_schema"], shape["name"]) if shape else None
            prompt = Prompt(messages, Params.from_mapping(asked.get("params") or {}), schema)
            provider, _, model_id = str(record["resolved"]).partition(":")
            jobs.append(Job(ModelSpec(model, provider, model_id), prompt, 0, sample))
            replies.append(reply_from(record))
            ids.append(record["id"])
    assert prompt is not None
    return Comparison((prompt,), tuple(models), samples, tuple(jobs), tuple(replies), tuple(ids))


def _records(root: Path, sessions: Sequence[str], wanted: set[str]) -> dict[str, dict[str, Any]]:
    """The records with these ids among these sessions' files, by id (the latest wins)."""
    needles = [w.encode() for w in wanted]
    return {r["id"]: r for r in _holding(root, needles, set(sessions)) if r.get("id") in wanted}


def _holding(
    root: Path, needles: Sequence[bytes], sessions: set[str] | None = None
) -> Iterator[dict[str, Any]]:
    """The records on the lines of the session files that hold one of `needles`, file by file.

    Only those lines are parsed: a run's review or one item's answers are a few records out
    of the thousands a run writes, and parsing them all took most of `summary` and `compare`.
    A complete line that does not end as a record does is parsed all the same, so a corrupt
    line is named (CorruptLine) whatever it held; a torn tail being written is not data.
    """
    from workbench.labbook.parse import parse_records
    from workbench.labbook.sessionfiles import files

    for path in files(root):
        if sessions is not None and path.stem not in sessions:
            continue
        data = path.read_bytes()
        lines = data.split(b"\n")
        lines.pop()  # what follows the last newline: nothing, or a torn tail
        starts = list(accumulate((len(line) + 1 for line in lines), initial=0))
        picked = {i for i, line in enumerate(lines) if not line.endswith(b"}")}
        for needle in needles:  # searched in the whole file at once, not line by line
            at = data.find(needle, 0, starts[-1])
            while at != -1:
                i = bisect_right(starts, at) - 1
                picked.add(i)
                at = data.find(needle, starts[i + 1], starts[-1])  # from the next line on
        for i in sorted(picked):  # a bad line is a CorruptLine, named as every reader names it
            yield from parse_records(path, lines[i], i + 1)


def _files(run: AuditRun, recorded: Sequence[dict[str, Any]]) -> tuple[File, ...]:
    """The files a record names, from the run's copies (those it no longer has left out)."""
    from workbench.providers.content import File

    found = []
    for f in recorded:
        try:
            data = (run.path / FILES / str(f["sha256"])).read_bytes()
        except OSError:
            continue
        found.append(File(f["name"], f["media_type"], data, f["sha256"]))
    return tuple(found)
