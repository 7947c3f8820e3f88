"""Changing the desk: add a task or a memo, claim, finish or release an item, each by a commit.

Every change goes through `Channel.publish`: with an upstream branch it is made on the
upstream's tip and pushed (a claim only counts once the upstream has it, so of two clones
claiming one item, one is told it is taken); without one it is a local commit. What is
checked (the item exists, is not done, nobody else holds it) is checked again on the tip
each attempt sits on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from workbench.channel import Channel, ClaimConflict, RepoNotReady
from workbench.desk.board import Board, Entry, read
from workbench.desk.items import (
    FOLDER,
    README,
    Claim,
    Done,
    Item,
    Kind,
    flags_of,
    new_id,
    now,
)
from workbench.errors import InvalidOption
from workbench.notices import notice

WHAT = "the desk"


def board(repo: Path | None = None, *, fetch: bool = True) -> Board:
    """The desk as it stands: this clone's files and, with an upstream, the upstream's.

    `fetch` first asks the upstream for its news (a remote that cannot be reached is a
    notice: the board then shows what is known here).
    """
    with Channel.at(repo, what=WHAT) as channel:
        return _view(channel, _base(channel, fetch))


def add(
    title: str,
    *,
    to: str,
    why: str | None = None,
    body: str = "",
    about: Sequence[str] = (),
    by: str | None = None,
    repo: Path | None = None,
) -> Item:
    """Put a task on the desk for a role, a model or a person; the reason goes with it."""
    return _put("task", title, to=to, why=why, body=body, about=about, by=by, repo=repo)


def memo(
    title: str,
    *,
    to: str,
    flags: Iterable[Any] = (),
    body: str = "",
    about: Sequence[str] = (),
    on: str | None = None,
    why: str | None = None,
    by: str | None = None,
    repo: Path | None = None,
) -> Item:
    """Leave a memo for a role: a review, its flagged lines ("FILE:LINE: note") by file.

    `on` names the item it answers. A memo waits on the desk like a task: the one it is
    for claims it and marks it done.
    """
    marks = flags_of(flags)
    return _put(
        "memo", title, to=to, why=why, body=body, about=about, by=by, repo=repo, on=on, flags=marks
    )


def _put(
    kind: Kind, title: str, *, to: str, by: str | None, repo: Path | None, **more: Any
) -> Item:
    title, to = _required(title, "a title"), _required(to, "for whom (a role, a model, a person)")
    with Channel.at(repo, what=WHAT) as channel:
        item = Item(
            id=new_id(title),
            kind=kind,
            title=title,
            to=to,
            by=by or channel.author(),
            at=now(),
            why=more.get("why"),
            about=tuple(more.get("about") or ()),
            on=more.get("on"),
            flags=tuple(more.get("flags") or ()),
            body=more.get("body") or "",
        )
        return _publish(channel, item)


def put(item: Item, repo: Path | None = None) -> Item:
    """Put an item made elsewhere (a workflow step's memo) on the desk, by one commit."""
    with Channel.at(repo, what=WHAT) as channel:
        return _publish(channel, item)


def _publish(channel: Channel, item: Item) -> Item:
    changes = {item.path: item.file(), **_readme(channel)}
    message = f"desk: {item.kind} {item.id} for {item.to}: {item.title}"
    channel.publish(message, changes, what=f"adding {item.kind} {item.id}")
    return item


def claim(
    item: str, *, by: str | None = None, via: str | None = None, repo: Path | None = None
) -> Claim:
    """Take an item: a commit, pushed before it counts; a ClaimConflict if another holds it.

    Claiming an item one already holds changes nothing.
    """
    with Channel.at(repo, what=WHAT) as channel:
        me = by or channel.author()
        entry = _view(channel, _base(channel, fetch=True)).get(item)
        held = entry.holder
        if held is not None and held.by == me and entry.state == "claimed":
            return held
        made = Claim(entry.item.id, me, now(), via)

        def check(base: str | None) -> None:
            current = _view(channel, base).get(made.item)
            _open_for(current, me, "claimed")

        channel.publish(
            f"desk: {me} claims {made.item}",
            {made.path: made.file()},
            what=f"claiming {made.item}",
            check=check,
            required=True,
        )
        return made


def done(
    item: str,
    *,
    by: str | None = None,
    outputs: Sequence[str] = (),
    note: str = "",
    memo: Item | None = None,
    repo: Path | None = None,
) -> Done:
    """Mark an item done (by whoever holds it; an open one is taken and done at once).

    `outputs` name the files it produced; `memo` is a memo left with it, committed together.
    """
    with Channel.at(repo, what=WHAT) as channel:
        me = by or channel.author()
        entry = _view(channel, _base(channel, fetch=True)).get(item)
        finished = Done(entry.item.id, me, now(), tuple(outputs), memo.id if memo else None, note)
        changes: dict[str, bytes | None] = {finished.path: finished.file()}
        if memo is not None:
            changes |= {memo.path: memo.file(), **_readme(channel)}

        def check(base: str | None) -> None:
            _open_for(_view(channel, base).get(finished.item), me, "done")

        made = f" -> {', '.join(outputs)}" if outputs else ""
        channel.publish(
            f"desk: {me} did {finished.item}{made}",
            changes,
            what=f"finishing {finished.item}",
            check=check,
        )
        return finished


def release(item: str, *, by: str | None = None, repo: Path | None = None) -> None:
    """Give an item back: the claim `by` holds is removed (by a commit), the item is open."""
    with Channel.at(repo, what=WHAT) as channel:
        me = by or channel.author()
        entry = _view(channel, _base(channel, fetch=True)).get(item)
        mine = next((c for c in entry.claims if c.by == me), None)
        if mine is None:
            raise InvalidOption(f"{entry.item.id} holds no claim by {me}: nothing to release")
        channel.publish(
            f"desk: {me} releases {entry.item.id}",
            {mine.path: None},
            what=f"releasing {entry.item.id}",
        )


def take(
    to: str | Iterable[str], *, by: str, via: str | None = None, repo: Path | None = None
) -> Item | None:
    """Claim the oldest open item for `to` (roles, models); None when none is left.

    An item another clone claims first is passed over for the next one.
    """
    names = [to] if isinstance(to, str) else list(to)
    for entry in board(repo).waiting(names):
        try:
            claim(entry.item.id, by=by, via=via, repo=repo)
        except ClaimConflict as e:
            notice(f"{entry.item.id} passed over: {e}")
            continue
        return entry.item
    return None


def _open_for(entry: Entry, me: str, doing: str) -> None:
    """Raise ClaimConflict unless `me` may take or finish the item."""
    if entry.done is not None:
        raise ClaimConflict(
            f"{entry.item.id} was done by {entry.done.by} at {entry.done.at}: not {doing}",
            holder=entry.done.by,
        )
    holder = entry.holder
    if holder is not None and holder.by != me:
        raise ClaimConflict(
            f"{entry.item.id} is claimed by {holder.by} (since {holder.at}): not {doing}; "
            "`workbench desk` lists what is open",
            holder=holder.by,
        )


def _base(channel: Channel, fetch: bool) -> str | None:
    """The upstream tip to read beside the work tree (fetched first when asked)."""
    upstream = channel.upstream()
    if upstream is None:
        return None
    if fetch:
        try:
            return channel.fetch(upstream)
        except RepoNotReady as e:
            notice(f"the desk as known here: {e}", once=f"desk fetch {channel.top} {e}")
    return channel.repo.git.rev_parse("-q", "--verify", upstream.ref, with_exceptions=False) or None


def _view(channel: Channel, base: str | None) -> Board:
    """The board of the work tree's desk files and, when given, those of commit `base`."""
    files = channel.files_at(base, FOLDER) if base else {}
    folder = channel.top / FOLDER
    for path in folder.glob("*/*.md"):
        files[path.relative_to(channel.top).as_posix()] = path.read_bytes()
    upstream = channel.upstream()
    where = f"{folder}" + (f" and {upstream}" if base and upstream else "")
    return read(files, where)


def _readme(channel: Channel) -> dict[str, bytes | None]:
    """desk/README.md, when the desk has none yet (it says what the folders are)."""
    rel = f"{FOLDER}/README.md"
    if (channel.top / rel).exists() or channel.head_blob(rel) is not None:
        return {}
    return {rel: README.encode()}


def _required(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidOption(f"a desk item needs {what}, not {value!r}")
    return " ".join(value.split())
