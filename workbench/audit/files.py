"""Files sent with an exercise's items: named by item fields, checked at load, kept by the run.

`files: [figure]` at the top of an exercise names the item fields whose values are paths
(one path, or a list of them; empty or null: no file), relative to the exercise file's
folder and inside it. Every file is read when the exercise loads, so a missing, unreadable
or unknown kind of file, one outside the folder, or a text file that is not UTF-8, is a
problem with its file, line and field like any other. A run keeps a copy of each file in
`files/<sha256>` of its folder: a resume and a rerun send the same bytes (so the same
request hashes) even after the originals change or go.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from workbench.errors import AuditError, ExerciseProblem, InvalidOption, InvalidPrompt
from workbench.providers.content import File, FileKind

if TYPE_CHECKING:
    from workbench.audit.exercise import Lines
    from workbench.audit.items import Item
    from workbench.labbook.redact import Redactor

FILES = "files"
"""The run folder's copies of the files its items send, each named by its sha256."""
TAKEN = "images (png, jpeg, gif, webp), PDFs and text files"


@dataclass(frozen=True)
class ItemFile:
    """One file an item sends: where the exercise names it, and what it is (by sha256)."""

    field: str
    """The item field that names it."""
    path: str
    """As the exercise gives it, relative to the exercise's folder."""
    name: str
    media_type: str
    size: int
    sha256: str

    @property
    def kind(self) -> FileKind | None:
        """The kind of file: image, pdf or text (None: no provider takes it)."""
        return File(self.name, self.media_type, b"", self.sha256).kind  # the kind is by type

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for a run's items.jsonl."""
        return {
            "field": self.field,
            "path": self.path,
            "name": self.name,
            "media_type": self.media_type,
            "size": self.size,
            "sha256": self.sha256,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ItemFile:
        """Back from `to_dict`."""
        return cls(
            data["field"],
            data["path"],
            data["name"],
            data["media_type"],
            int(data["size"]),
            data["sha256"],
        )


def names(spec: Any) -> tuple[str, ...]:
    """The field names `files:` gives (one name, or a list of them)."""
    if isinstance(spec, str):
        return (spec,)
    if isinstance(spec, list):
        return tuple(str(name) for name in spec)
    return ()


def attach(
    items: Sequence[Item], fields: Sequence[str], base: Path, lines: Lines
) -> tuple[list[Item], list[ExerciseProblem]]:
    """The items with the files their `fields` name, read and checked; every problem found."""
    loaded: dict[str, ItemFile | str] = {}  # by path as given: each file read once
    out: list[Item] = []
    problems: list[ExerciseProblem] = []
    for item in items:
        found: list[ItemFile] = []
        for name in fields:
            line = _line(item, name, lines)
            if name not in item.fields:
                have = ", ".join(sorted(item.fields)) or "none"
                why = f"item {item.id!r} has no field {name!r}, which files: names (it has {have})"
                problems.append(ExerciseProblem(item.file, line, f"{item.where}.{name}", why))
                continue
            value = item.fields[name]
            paths = value if isinstance(value, list) else [] if value in (None, "") else [value]
            for k, path in enumerate(paths):
                where = f"{item.where}.{name}" + (f"[{k}]" if isinstance(value, list) else "")
                got = _load(path, base, loaded)
                if isinstance(got, str):
                    problems.append(ExerciseProblem(item.file, line, where, got))
                else:
                    found.append(replace(got, field=name))
        out.append(replace(item, files=tuple(found)))
    return out, problems


def _line(item: Item, name: str, lines: Lines) -> int | None:
    """The line of an item's field: its own line for an item written in the exercise."""
    if item.file == lines.file and item.where == f"items[{item.index}]":
        return lines.line(("items", item.index, name))
    return item.line


def _load(path: Any, base: Path, loaded: dict[str, ItemFile | str]) -> ItemFile | str:
    """The file `path` names (or why it cannot be sent), read once per path."""
    if not isinstance(path, str) or not path.strip():
        return f"must be a path relative to the exercise (or a list of them), not {path!r}"
    if path not in loaded:
        loaded[path] = _read(path, base)
    return loaded[path]


def _read(path: str, base: Path) -> ItemFile | str:
    where, why = inside(path, base)
    if where is None:
        return why
    if not where.exists():
        return f"no file {path} in {base}"
    if where.is_dir():
        return f"{path} is a folder: name a file"
    try:
        file = File.load(where)
    except InvalidPrompt as e:
        return str(e)
    kind = file.kind
    if kind is None:
        return f"{path} is {file.media_type}: exercises send {TAKEN}"
    if kind == "text":
        try:
            file.text()
        except InvalidPrompt:
            return f"{path} is not UTF-8 text: save it as UTF-8"
    clean = PurePosixPath(Path(path).as_posix()).as_posix()
    return ItemFile("", clean, file.name, file.media_type, file.size, file.sha256)


def inside(path: str, base: Path) -> tuple[Path | None, str]:
    """(the path under `base`, "") or (None, why not): absolute, or outside the folder."""
    given = Path(path)
    if given.is_absolute() or path.startswith("~"):
        return None, f"{path} is not relative: give it relative to the exercise's folder {base}"
    where = base / given
    try:
        resolved = where.resolve()
    except (OSError, RuntimeError) as e:  # a symlink loop
        return None, f"{path} cannot be followed to a file: {e}"
    if not resolved.is_relative_to(base.resolve()):
        return None, (
            f"{path} is outside the exercise's folder {base}: an exercise sends only files in "
            "its folder or below"
        )
    return where, ""


def unique(items: Iterable[Item]) -> Iterator[tuple[Item, ItemFile]]:
    """Each distinct file (by sha256) of these items, with the first item that sends it."""
    seen: set[str] = set()
    for item in items:
        for file in item.files:
            if file.sha256 not in seen:
                seen.add(file.sha256)
                yield item, file


def check_secrets(items: Sequence[Item], base: Path, redact: Redactor) -> None:
    """Refuse, in one line, text files that hold a key: files are sent as they are.

    Binary files (images, PDFs) cannot be searched, and are not.
    """
    found = []
    for item, file in unique(items):
        if file.kind != "text":
            continue
        text = (base / file.path).read_bytes().decode("utf-8", errors="replace")
        if redact.text(text) != text:
            found.append((item, file))
    if found:
        item, file = found[0]
        more = f" (and {len(found) - 1} more files)" if len(found) > 1 else ""
        raise InvalidOption(
            f"{file.path} (item {item.id}, field {file.field}) holds a key-like string or a "
            f"key's value{more}: remove it; files are sent as they are, so a run cannot "
            "redact them"
        )


def keep(run: Path, items: Sequence[Item], base: Path) -> None:
    """Copy every file of these items into the run folder, checked against its sha256."""
    target = run / FILES
    for _, file in unique(items):
        copy = target / file.sha256
        if copy.exists():
            continue
        data = (base / file.path).read_bytes()
        if hashlib.sha256(data).hexdigest() != file.sha256:
            raise InvalidOption(f"{file.path} changed while the run was being made: start it again")
        target.mkdir(exist_ok=True)
        tmp = copy.with_name(f".{file.sha256}.tmp")
        tmp.write_bytes(data)
        tmp.replace(copy)


def copy_kept(source: Path, run: Path, items: Sequence[Item]) -> None:
    """Copy the files of these items from another run's folder (a rerun, a combination)."""
    for _, file in unique(items):
        have = source / FILES / file.sha256
        copy = run / FILES / file.sha256
        if have.exists() and not copy.exists():
            copy.parent.mkdir(exist_ok=True)
            shutil.copyfile(have, copy)


def read(run: Path, file: ItemFile) -> File:
    """The run's copy of a file, checked: the bytes the run sends."""
    where = run / FILES / file.sha256
    try:
        data = where.read_bytes()
    except OSError as e:
        raise AuditError(
            f"the run's copy of {file.path} ({where}) cannot be read ({e.strerror}): restore it "
            "from git, or run the exercise again",
            run=run.name,
        ) from None
    found = File(file.name, file.media_type, data)
    if found.sha256 != file.sha256:
        raise AuditError(
            f"the run's copy of {file.path} ({where}) was changed: restore it from git",
            run=run.name,
        )
    return found
