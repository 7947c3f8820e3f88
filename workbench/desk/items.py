"""The desk's files: tasks and memos, claims, and done notes (Markdown with YAML front matter).

    desk/tasks/referee-the-draft-3f9a2c.md       a task: what, for whom, why
    desk/memos/referee-report-on-draft-7b10e4.md a memo: a review for a role, flagged lines
    desk/claims/<item>--<who>.md                 who took an item, when (one file per claim)
    desk/done/<item>.md                          who finished it, when, what it produced

A task's or memo's id is its file's name. Every file is written once by a commit and never
edited by the workbench (a release removes a claim), so two clones add different files and
merge without conflicts.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any, Literal

import yaml

from workbench.errors import InvalidOption, WorkbenchError

FOLDER = "desk"
TASKS, MEMOS, CLAIMS, DONE = "tasks", "memos", "claims", "done"
Kind = Literal["task", "memo"]
README = """\
# The desk

Kept by research-workbench: what is waiting for whom in this repository, as plain files that
any participant (a model's workflow step, another clone, a person) reads and changes by commits.

- `tasks/ID.md`: a task: what to do, for which role or model (`for`), and why.
- `memos/ID.md`: a memo: a review addressed to a role, its flagged lines grouped by file.
- `claims/ID--WHO.md`: who took an item and when. Claims are pushed before they count, so two
  clones never both hold one; `workbench desk` names the one that stands.
- `done/ID.md`: who finished an item, when, and what it produced.

`workbench desk` lists what is waiting; `desk add`, `desk memo`, `desk claim`, `desk done` and
`desk release` change it, each by one commit (`git log -- desk` is its history).
"""


@dataclass(frozen=True)
class Flag:
    """One flagged line of a memo: which file, which line (if any), what about it."""

    file: str
    line: int | None
    note: str

    def to_dict(self) -> dict[str, Any]:
        """As the front matter holds it."""
        return {"file": self.file, "line": self.line, "note": self.note}


@dataclass(frozen=True)
class Item:
    """A task or a memo on the desk."""

    id: str
    kind: Kind
    title: str
    to: str
    """For whom: a role ("referee"), a model ("claude") or a person."""
    by: str
    at: str
    """When it was put on the desk (UTC, ISO 8601)."""
    why: str | None = None
    """The reason behind it, so whoever takes it can judge the edge cases."""
    about: tuple[str, ...] = ()
    """The repository files it is about."""
    on: str | None = None
    """The item it answers (a memo on a task), if any."""
    flags: tuple[Flag, ...] = ()
    body: str = ""

    @property
    def path(self) -> str:
        """Its file, from the repository's root."""
        return f"{FOLDER}/{TASKS if self.kind == 'task' else MEMOS}/{self.id}.md"

    def text(self) -> str:
        """Everything a participant needs to do it: title, why, files, flags, body."""
        lines = [f"{self.kind.capitalize()}: {self.title}"]
        lines += [f"Why: {self.why}"] if self.why else []
        lines += [f"About: {', '.join(self.about)}"] if self.about else []
        body = self.rendered_body()
        return "\n".join(lines) + (f"\n\n{body}" if body else "")

    def rendered_body(self) -> str:
        """The body, then the flags grouped by file (the memo as `cat` shows it)."""
        parts = [self.body.strip()] if self.body.strip() else []
        by_file: dict[str, list[Flag]] = {}
        for flag in self.flags:
            by_file.setdefault(flag.file, []).append(flag)
        for file, flags in by_file.items():
            rows = [f"- line {f.line}: {f.note}" if f.line else f"- {f.note}" for f in flags]
            parts.append(f"## {file}\n\n" + "\n".join(rows))
        return "\n\n".join(parts)

    def without_rendered_flags(self) -> Item:
        """The body without the flags section the file shows (the front matter holds them)."""
        shown = Item(self.id, self.kind, self.title, self.to, self.by, self.at, flags=self.flags)
        suffix = shown.rendered_body()
        if not suffix or not self.body.rstrip().endswith(suffix):
            return self
        body = self.body.rstrip()[: -len(suffix)].strip()
        return replace(self, body=body)

    def file(self) -> bytes:
        """The file's bytes."""
        meta: dict[str, Any] = {
            "kind": self.kind,
            "title": self.title,
            "for": self.to,
            "why": self.why,
            "by": self.by,
            "at": self.at,
        }
        meta |= {"about": list(self.about)} if self.about else {}
        meta |= {"on": self.on} if self.on else {}
        meta |= {"flags": [f.to_dict() for f in self.flags]} if self.flags else {}
        return _document({k: v for k, v in meta.items() if v is not None}, self.rendered_body())


@dataclass(frozen=True)
class Claim:
    """Who took an item, when, and through what (a workflow step, the CLI)."""

    item: str
    by: str
    at: str
    via: str | None = None

    @property
    def path(self) -> str:
        """Its file, from the repository's root."""
        return f"{FOLDER}/{CLAIMS}/{self.item}--{slug(self.by, 40)}.md"

    def file(self) -> bytes:
        """The file's bytes."""
        meta = {"kind": "claim", "item": self.item, "by": self.by, "at": self.at, "via": self.via}
        return _document({k: v for k, v in meta.items() if v is not None}, "")


@dataclass(frozen=True)
class Done:
    """Who finished an item, when, and what it produced."""

    item: str
    by: str
    at: str
    outputs: tuple[str, ...] = ()
    memo: str | None = None
    """The memo it left (its id), if any."""
    note: str = ""

    @property
    def path(self) -> str:
        """Its file, from the repository's root."""
        return f"{FOLDER}/{DONE}/{self.item}.md"

    def file(self) -> bytes:
        """The file's bytes."""
        meta: dict[str, Any] = {"kind": "done", "item": self.item, "by": self.by, "at": self.at}
        meta |= {"outputs": list(self.outputs)} if self.outputs else {}
        meta |= {"memo": self.memo} if self.memo else {}
        return _document(meta, self.note.strip())


Entry = Item | Claim | Done


def parse(path: str, data: bytes) -> Entry:
    """A desk file read back, or a one-line WorkbenchError saying what is wrong with it."""
    from workbench.prompts import split_front_matter

    try:
        meta, body = split_front_matter(data.decode("utf-8-sig"), path)
    except UnicodeDecodeError:
        raise WorkbenchError(f"{path} is not UTF-8 text") from None
    folder = path.split("/")[-2] if "/" in path else ""
    name = path.rsplit("/", 1)[-1].removesuffix(".md")
    if folder in (TASKS, MEMOS):
        return Item(
            id=name,
            kind="task" if folder == TASKS else "memo",
            title=_text(meta, "title", path) or name,
            to=_text(meta, "for", path) or "anyone",
            by=_text(meta, "by", path) or "someone",
            at=_when(meta.get("at")),
            why=_text(meta, "why", path),
            about=tuple(str(a) for a in _list(meta.get("about"))),
            on=_text(meta, "on", path),
            flags=tuple(_flag(f, path) for f in _list(meta.get("flags"))),
            body=body,
        ).without_rendered_flags()
    if folder == CLAIMS:
        item = _text(meta, "item", path) or name.split("--", 1)[0]
        by = _text(meta, "by", path) or name.split("--", 1)[-1]
        return Claim(item, by, _when(meta.get("at")), _text(meta, "via", path))
    if folder == DONE:
        return Done(
            _text(meta, "item", path) or name,
            _text(meta, "by", path) or "someone",
            _when(meta.get("at")),
            tuple(str(o) for o in _list(meta.get("outputs"))),
            _text(meta, "memo", path),
            body,
        )
    raise WorkbenchError(f"{path} is not in a desk folder ({TASKS}, {MEMOS}, {CLAIMS}, {DONE})")


def new_id(title: str) -> str:
    """An item's id: its title as a slug and 6 random hex digits (unique without coordination)."""
    return f"{slug(title, 48)}-{os.urandom(3).hex()}"


def slug(text: str, width: int) -> str:
    """Lower-case letters, digits and dashes only, at most `width` characters."""
    words = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return words[:width].rstrip("-") or "item"


def now() -> str:
    """The time now, as desk files hold it."""
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def flags_of(values: Iterable[Any]) -> tuple[Flag, ...]:
    """Flags from (file, line, note) tuples, "file:line: note" strings or mappings."""
    return tuple(_flag(v, "the flags") for v in values)


def _flag(value: Any, where: str) -> Flag:
    if isinstance(value, Flag):
        return value
    if isinstance(value, Mapping):
        line = value.get("line")
        return Flag(str(value.get("file") or "?"), _line(line, where), str(value.get("note", "")))
    if isinstance(value, str):
        match = re.fullmatch(r"\s*([^:]+?)(?::(\d+))?\s*:\s*(.+)", value, re.S)
        if match is None:
            raise InvalidOption(f"{where}: a flag is 'FILE:LINE: note', not {value!r}")
        return Flag(match[1], int(match[2]) if match[2] else None, match[3].strip())
    if isinstance(value, Sequence) and len(value) == 3:
        return Flag(str(value[0]), _line(value[1], where), str(value[2]))
    raise InvalidOption(f"{where}: a flag is (file, line, note), not {value!r}")


def _line(value: Any, where: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise InvalidOption(f"{where}: a flag's line is a whole number, not {value!r}")
    return int(value)


def _document(meta: Mapping[str, Any], body: str) -> bytes:
    front = yaml.safe_dump(dict(meta), sort_keys=False, allow_unicode=True, width=1_000_000)
    return f"---\n{front}---\n{body}\n".encode() if body else f"---\n{front}---\n".encode()


def _text(meta: Mapping[str, Any], key: str, path: str) -> str | None:
    value = meta.get(key)
    if value is None:
        return None
    if isinstance(value, dict | list):
        raise WorkbenchError(f"{path}: {key} must be text, not {value!r}")
    return str(value).strip() or None


def _when(value: Any) -> str:
    """A time as text: YAML reads an unquoted one as a datetime (or a date)."""
    if isinstance(value, datetime):
        stamp = value if value.tzinfo else value.replace(tzinfo=UTC)
        return stamp.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    return str(value) if value is not None else ""


def _list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


__all__ = ["FOLDER", "Claim", "Done", "Flag", "Item", "flags_of", "new_id", "parse"]
