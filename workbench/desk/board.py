"""What is on the desk: each item with its claims and whether it is done, read from the files.

An item is open (nobody holds it), claimed (a claim stands) or done. When two claims on one
item meet (clones that claimed it while apart, then merged), the earliest stands, the same
on every clone; the other is reported as overtaken, so its author is told and stops.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from workbench.desk.items import FOLDER, Claim, Done, Item, parse
from workbench.errors import InvalidOption, WorkbenchError

if TYPE_CHECKING:
    import pandas as pd

State = Literal["open", "claimed", "done"]


@dataclass
class Entry:
    """One item, its claims (the standing one first) and its done note."""

    item: Item
    claims: list[Claim] = field(default_factory=list)
    done: Done | None = None

    @property
    def state(self) -> State:
        """open, claimed or done."""
        if self.done is not None:
            return "done"
        return "claimed" if self.claims else "open"

    @property
    def holder(self) -> Claim | None:
        """The claim that stands: the earliest (then by name), the same on every clone."""
        return self.claims[0] if self.claims else None

    @property
    def overtaken(self) -> list[Claim]:
        """Claims made while another stood (clones that claimed while apart)."""
        return self.claims[1:]


@dataclass
class Board:
    """Every item on the desk, oldest first, and the files that could not be read."""

    entries: list[Entry]
    problems: list[str] = field(default_factory=list)
    where: str = ""
    """Where it was read: the folder, and the upstream it was merged with."""

    def get(self, wanted: str) -> Entry:
        """An item by its id, a unique start of it or its last 6 characters."""
        key = wanted.strip()
        if not key:
            raise InvalidOption("name a desk item by its id (`workbench desk` lists them)")
        exact = [e for e in self.entries if e.item.id == key]
        found = exact or [
            e for e in self.entries if e.item.id.startswith(key) or e.item.id.endswith(key)
        ]
        if not found:
            raise InvalidOption(f"no desk item {wanted!r}: `workbench desk --all` lists them")
        if len(found) > 1:
            ids = ", ".join(e.item.id for e in found[:4])
            raise InvalidOption(f"{wanted!r} names {len(found)} desk items ({ids}): give more")
        return found[0]

    def waiting(self, to: str | Iterable[str] | None = None) -> list[Entry]:
        """Open items (for these roles, models or people), oldest first."""
        names = {to} if isinstance(to, str) else None if to is None else set(to)
        return [
            e for e in self.entries if e.state == "open" and (names is None or e.item.to in names)
        ]

    def held_by(self, who: str) -> list[Entry]:
        """Items `who` holds and has not finished."""
        return [e for e in self.entries if e.state == "claimed" and e.holder and e.holder.by == who]

    def text(self, *, everything: bool = False) -> str:
        """The board as `workbench desk` prints it: what waits for whom, what is in progress."""
        lines = [f"desk: {self.where}"] if self.where else []
        by_whom: dict[str, list[Entry]] = {}
        for entry in self.waiting():
            by_whom.setdefault(entry.item.to, []).append(entry)
        for who, entries in by_whom.items():
            lines.append(f"waiting for {who}:")
            lines += [line for e in entries for line in _item_lines(e)]
        held = [e for e in self.entries if e.state == "claimed"]
        if held:
            lines.append("in progress:")
            for e in held:
                assert e.holder is not None
                lines += _item_lines(e, f"claimed by {e.holder.by} {_short(e.holder.at)}")
                lines += [
                    f"    {c.by}'s claim ({_short(c.at)}) does not stand: {e.holder.by} "
                    "claimed it first"
                    for c in e.overtaken
                ]
        finished = [e for e in self.entries if e.state == "done"]
        if finished and everything:
            lines.append("done:")
            for e in finished:
                assert e.done is not None
                made = f" -> {', '.join(e.done.outputs)}" if e.done.outputs else ""
                lines += _item_lines(e, f"done by {e.done.by} {_short(e.done.at)}{made}")
        elif finished:
            lines.append(f"done: {len(finished)} (`workbench desk --all` lists them)")
        if not self.entries:
            lines.append("nothing on the desk: `workbench desk add TITLE --for ROLE` puts a task")
        lines += [f"unreadable: {p}" for p in self.problems]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.text()

    def _repr_html_(self) -> str:
        import html

        return f"<pre class='wb-desk'>{html.escape(self.text(everything=True))}</pre>"

    def to_frame(self) -> pd.DataFrame:
        """One row per item: id, kind, title, for, state, who holds or did it, when."""
        import pandas as pd

        rows: list[dict[str, Any]] = []
        for e in self.entries:
            who = e.done.by if e.done else e.holder.by if e.holder else None
            rows.append(
                {
                    "id": e.item.id,
                    "kind": e.item.kind,
                    "title": e.item.title,
                    "for": e.item.to,
                    "state": e.state,
                    "by": who,
                    "added_by": e.item.by,
                    "at": e.item.at,
                    "why": e.item.why,
                    "outputs": list(e.done.outputs) if e.done else [],
                }
            )
        columns = ["id", "kind", "title", "for", "state", "by", "added_by", "at", "why", "outputs"]
        return pd.DataFrame(rows, columns=columns)


def read(files: Mapping[str, bytes], where: str = "") -> Board:
    """The board the desk files make (paths from the repository's root)."""
    items: dict[str, Entry] = {}
    claims: list[Claim] = []
    dones: list[Done] = []
    problems = []
    for path in sorted(files):
        if not path.startswith(f"{FOLDER}/") or not path.endswith(".md") or path.count("/") != 2:
            continue
        try:
            entry = parse(path, files[path])
        except WorkbenchError as e:
            problems.append(f"{path} ({e})")
            continue
        if isinstance(entry, Item):
            items[entry.id] = Entry(entry)
        elif isinstance(entry, Claim):
            claims.append(entry)
        else:
            dones.append(entry)
    for claim in sorted(claims, key=lambda c: (c.at, c.by)):
        if claim.item in items:
            items[claim.item].claims.append(claim)
    for done in dones:
        if done.item in items:
            items[done.item].done = done
    entries = sorted(items.values(), key=lambda e: (e.item.at, e.item.id))
    return Board(entries, problems, where)


def _item_lines(entry: Entry, state: str | None = None) -> list[str]:
    item = entry.item
    flags = f", {len(item.flags)} flagged line(s)" if item.flags else ""
    head = f"  {item.id}  {item.kind}  {item.title}  ({item.by}, {_short(item.at)}{flags})"
    lines = [head + (f"  {state}" if state else "")]
    lines += [f"    why: {item.why}"] if item.why and state is None else []
    return lines


def _short(at: str) -> str:
    """An ISO time as YYYY-MM-DD HH:MM."""
    return at[:16].replace("T", " ")
