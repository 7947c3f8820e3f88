"""A model's own brief: what it did in this repository, for a session that starts from zero.

    print(wb.log.brief(model="claude", since="2026-11-01"))

From the lab notebook (its calls, the workflow steps they made, the decisions on its answers,
notes about them) and the desk (what it holds, what waits for it, what it finished): a
short Markdown memo, newest first in each part, cut to `limit` characters, so it can be
pasted into a prompt. A workflow step with `brief: true` puts it in the model's system prompt.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from workbench.render import clip

LIMIT = 2400
"""Characters of a brief, at most (about 600 tokens)."""
PER_PART = 5
"""Entries per part (steps, decisions, notes, desk items), newest first."""


def brief(
    model: str,
    *,
    since: str | date | datetime | None = None,
    roles: Sequence[str] = (),
    labbook: Path | None = None,
    repo: Path | None = None,
    limit: int = LIMIT,
) -> str:
    """The brief of `model` (an alias or a full name), as Markdown of at most `limit` characters.

    `roles` are the roles it plays (desk items addressed to them count as its own);
    `labbook` is the lab notebook to read (default: the session's), `repo` the repository
    whose desk to read (default: the working directory's; none outside a repository).
    """
    from workbench.errors import InvalidOption

    if not isinstance(model, str) or not model.strip():
        raise InvalidOption(f"a brief is for a model (an alias or provider:model), not {model!r}")
    model = model.strip()
    records = _records(labbook, since)
    calls = [r for r in records if r.get("kind") == "call" and model in _names(r)]
    mine = {str(r["id"]) for r in calls}
    names = (model, *roles)
    parts = [
        _heading(model, since, calls),
        _steps(records, mine),
        _decisions(records, mine, calls),
        _notes(records, mine),
        *_desk(names, model, repo),
    ]
    text = "\n\n".join(p for p in parts if p)
    return text if len(text) <= limit else text[: limit - 2].rstrip() + "\n…"


def _records(root: Path | None, since: Any) -> list[dict[str, Any]]:
    from workbench.labbook.book import files_between
    from workbench.labbook.query import load_records
    from workbench.labbook.when import day, utc

    if root is None:
        from workbench.log import root as session_root

        root = session_root()
    found = list(load_records(files_between(root, day(since), None)))
    if since is not None:
        start = utc(since)
        found = [r for r in found if _when(r) >= start]
    return sorted(found, key=lambda r: str(r.get("ts")))


def _when(record: dict[str, Any]) -> datetime:
    from workbench.labbook.when import utc

    return utc(str(record.get("ts", "1970-01-01")).replace("Z", "+00:00"))


def _names(record: dict[str, Any]) -> tuple[Any, Any]:
    return record.get("model"), record.get("resolved")


def _heading(model: str, since: Any, calls: list[dict[str, Any]]) -> str:
    bound = f" since {since}" if since is not None else ""
    head = f"# Brief for {model}{bound}\n\nWhat {model} did in this repository before this session."
    if not calls:
        return head + f"\n\nCalls: none recorded{bound}."
    used = Counter(
        ((r.get("prompt") or {}).get("origin") or {}).get("name") or "(typed)" for r in calls
    )
    prompts = ", ".join(f"{name} x{n}" for name, n in used.most_common(4))
    failed = sum(1 for r in calls if (r.get("reply") or {}).get("error"))
    errors = f", {failed} failed" if failed else ""
    first, last = str(calls[0]["ts"])[:10], str(calls[-1]["ts"])[:10]
    return head + f"\n\nCalls: {len(calls)}{errors} ({first} to {last}); prompts: {prompts}."


def _steps(records: list[dict[str, Any]], mine: set[str]) -> str:
    notes = [
        r for r in records
        if r.get("kind") == "note" and "flow" in (r.get("tags") or [])
        and mine.intersection(r.get("links") or [])
    ]  # fmt: skip
    return _part(
        "Workflow steps", [_dated(r, (r.get("data") or {}).get("text", "")) for r in notes]
    )


def _decisions(records: list[dict[str, Any]], mine: set[str], calls: list[dict[str, Any]]) -> str:
    asked = {str(r["id"]): _asked(r) for r in calls}
    lines = []
    for r in records:
        if r.get("kind") != "decision" or not mine.intersection(r.get("links") or []):
            continue
        data = r.get("data") or {}
        verdict, choice = data.get("verdict"), data.get("choice")
        own = choice in mine
        what = {
            "pick": "your answer was picked" if own else "another answer was picked over yours",
            "reject": "your answer was rejected"
            if own or choice is None
            else "another was rejected",
            "better": "yours was judged better" if own else "the other was judged better",
            "tie": "a tie with another answer",
            "both-bad": "yours and another were both judged bad",
            "rating": f"rated {data.get('score')}/5",
        }.get(str(verdict), str(verdict))
        prompt = next((asked[i] for i in r.get("links") or [] if i in asked), "")
        reason = f": {data['reason']}" if data.get("reason") else ""
        lines.append(_dated(r, f"{what}{reason} (on {prompt!r})"))
    return _part("Decisions on your answers", lines)


def _notes(records: list[dict[str, Any]], mine: set[str]) -> str:
    notes = [
        r for r in records
        if r.get("kind") == "note" and "flow" not in (r.get("tags") or [])
        and mine.intersection(r.get("links") or [])
    ]  # fmt: skip
    return _part(
        "Notes on your answers", [_dated(r, (r.get("data") or {}).get("text", "")) for r in notes]
    )


def _desk(names: Sequence[str], model: str, repo: Path | None) -> list[str]:
    from workbench.channel import RepoNotReady
    from workbench.desk import board

    try:
        desk = board(repo, fetch=False)
    except RepoNotReady:  # outside a repository: no desk
        return []
    held = [
        f"{e.item.id}: {e.item.title} (for {e.item.to}, since {e.holder.at[:10]})"
        for e in desk.held_by(model)
        if e.holder is not None
    ]
    waiting = [
        f"{e.item.kind} {e.item.id}: {e.item.title}"
        + (f" (why: {e.item.why})" if e.item.why else "")
        for e in desk.waiting(names)
    ]
    finished = [
        f"{e.item.id}: {e.item.title}"
        + (f" -> {', '.join(e.done.outputs)}" if e.done.outputs else "")
        for e in desk.entries
        if e.done is not None and e.done.by == model
    ]
    return [
        _part("You hold (claimed, not done)", held),
        _part("Waiting for you on the desk", waiting, newest_first=False),
        _part("You finished", finished),
    ]


def _part(title: str, lines: list[str], *, newest_first: bool = True) -> str:
    """A section of at most PER_PART lines (given oldest first): the newest, or the oldest."""
    if not lines:
        return ""
    shown = list(reversed(lines))[:PER_PART] if newest_first else lines[:PER_PART]
    more = f"\n- ... and {len(lines) - PER_PART} more" if len(lines) > PER_PART else ""
    return f"## {title}\n\n" + "\n".join(f"- {line}" for line in shown) + more


def _dated(record: dict[str, Any], text: str) -> str:
    return f"{str(record.get('ts'))[:10]} {clip(' '.join(str(text).split()), 160)}"


def _asked(record: dict[str, Any]) -> str:
    messages = (record.get("prompt") or {}).get("messages") or []
    last = next((m.get("content", "") for m in reversed(messages) if m.get("role") == "user"), "")
    return clip(" ".join(str(last).split()), 60)
