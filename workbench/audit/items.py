"""An exercise's items: inline, from a CSV or JSON Lines file, or generated from file globs.

`{glob: "src/*.py", as: code}` makes one item per file (fields `code` and `code_path`);
`{pairs: {spec: "specs/*.md", module: "src/*.py"}}` makes one item per pair of files
(every spec against every module, or with `match: stem` only files of the same stem).
A field that the exercise's `files:` names holds the file's path instead of its text: the
file is sent with the prompt (see `files`).
"""

from __future__ import annotations

import csv
import itertools
import json
import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.audit.files import ItemFile
from workbench.errors import ExerciseProblem, InvalidOption

if TYPE_CHECKING:
    from workbench.audit.exercise import Lines


@dataclass(frozen=True)
class Item:
    """One input of an exercise, with what is expected of it when known."""

    id: str
    fields: dict[str, Any]
    expected: Any = None
    index: int = 0
    """The item's position in the exercise (stable across samples and shards)."""
    file: str = ""
    line: int | None = None
    where: str = ""
    """How to find it: "items[3]" or "data.csv row 4"."""
    files: tuple[ItemFile, ...] = ()
    """The files sent with its prompt (named by the fields `files:` lists)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, for a run's items.jsonl (`files` only when it sends some)."""
        d = {
            "id": self.id,
            "index": self.index,
            "fields": self.fields,
            "expected": self.expected,
            "where": self.where,
        }
        if self.files:
            d["files"] = [f.to_dict() for f in self.files]
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Item:
        """Back from `to_dict`."""
        files = tuple(ItemFile.from_dict(f) for f in data.get("files") or ())
        return cls(
            data["id"],
            data["fields"],
            data.get("expected"),
            data["index"],
            where=data["where"],
            files=files,
        )


def load_items(
    spec: Any,
    lines: Lines,
    base: Path,
    id_field: str,
    expected_field: str,
    paths: Collection[str] = (),
) -> tuple[list[Item], list[ExerciseProblem]]:
    """The items an exercise's `items:` describes, and every problem found in them.

    A glob's or a pair's field named in `paths` holds the file's path, not its text.
    """
    if isinstance(spec, list):
        rows = [
            (row, lines.file, lines.line(("items", i)), f"items[{i}]") for i, row in enumerate(spec)
        ]
        return _from_rows(rows, id_field, expected_field)
    if "file" in spec:
        return _from_file(spec["file"], lines, base, id_field, expected_field)
    if "glob" in spec:
        name = spec.get("as", "text")
        files, problems = _glob(spec["glob"], lines, base, ("items", "glob"), name not in paths)
        items = [
            Item(
                rel,
                {name: text, f"{name}_path": rel},
                None,
                i,
                lines.file,
                lines.line(("items",)),
                rel,
            )
            for i, (rel, text) in enumerate(files)
        ]
        return items, problems
    return _pairs(spec, lines, base, paths)


def _from_rows(
    rows: Sequence[tuple[Any, str, int | None, str]], id_field: str, expected_field: str
) -> tuple[list[Item], list[ExerciseProblem]]:
    items: list[Item] = []
    problems: list[ExerciseProblem] = []
    seen: dict[str, str] = {}
    for index, (row, file, line, where) in enumerate(rows):
        if not isinstance(row, dict):
            problems.append(ExerciseProblem(file, line, where, "an item must be a mapping"))
            continue
        fields = {str(k): v for k, v in row.items() if k not in (id_field, expected_field)}
        item_id = str(row.get(id_field, index + 1))
        if item_id in seen:
            problems.append(
                ExerciseProblem(
                    file,
                    line,
                    f"{where}.{id_field}",
                    f"item id {item_id!r} is also {seen[item_id]}",
                )
            )
        seen[item_id] = where
        items.append(Item(item_id, fields, row.get(expected_field), index, file, line, where))
    return items, problems


def _from_file(
    name: str, lines: Lines, base: Path, id_field: str, expected_field: str
) -> tuple[list[Item], list[ExerciseProblem]]:
    path = (base / name).resolve()
    here = ("items", "file")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        return [], [lines.problem(here, f"cannot read items file {name!r}: {e.strerror}")]
    rows: list[tuple[Any, str, int | None, str]] = []
    problems: list[ExerciseProblem] = []
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(text.splitlines())
        for row in reader:
            present = {k: v for k, v in row.items() if k is not None and v is not None}
            rows.append((present, name, reader.line_num, f"{name} row {reader.line_num}"))
        if reader.fieldnames is None:
            problems.append(lines.problem(here, f"{name} has no header row"))
    elif path.suffix.lower() in (".jsonl", ".ndjson"):
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append((json.loads(line), name, number, f"{name} line {number}"))
            except json.JSONDecodeError as e:
                problems.append(
                    ExerciseProblem(name, number, f"{name} line {number}", f"not JSON: {e.msg}")
                )
    else:
        return [], [lines.problem(here, f"items file {name!r} must end in .csv or .jsonl")]
    if not rows and not problems:
        problems.append(lines.problem(here, f"{name} holds no items"))
    items, more = _from_rows(rows, id_field, expected_field)
    return items, problems + more


def _glob(
    pattern: str, lines: Lines, base: Path, here: tuple[str, ...], text: bool = True
) -> tuple[list[tuple[str, str]], list[ExerciseProblem]]:
    """(path, text) of each file matching; (path, path) when `text` is False (a file field)."""
    paths = sorted(p for p in base.glob(pattern) if p.is_file())
    if not paths:
        return [], [lines.problem(here, f"no file matches {pattern!r} (from {base})")]
    files = []
    problems = []
    for p in paths:
        rel = p.relative_to(base).as_posix()
        if not text:
            files.append((rel, rel))
            continue
        try:
            files.append((rel, p.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as e:
            problems.append(lines.problem(here, f"cannot read {rel} as text: {e}"))
    return files, problems


def _pairs(
    spec: dict[str, Any], lines: Lines, base: Path, paths: Collection[str]
) -> tuple[list[Item], list[ExerciseProblem]]:
    (a, pattern_a), (b, pattern_b) = spec["pairs"].items()
    files_a, problems = _glob(pattern_a, lines, base, ("items", "pairs", a), a not in paths)
    files_b, more = _glob(pattern_b, lines, base, ("items", "pairs", b), b not in paths)
    problems += more
    pairs = list(itertools.product(files_a, files_b))
    if spec.get("match", "all") == "stem":
        pairs = [(x, y) for x, y in pairs if Path(x[0]).stem == Path(y[0]).stem]
        if not pairs and not problems:
            problems.append(lines.problem(("items", "match"), "no two files share a stem"))
    items = [
        Item(
            f"{pa}|{pb}",
            {a: ta, f"{a}_path": pa, b: tb, f"{b}_path": pb},
            None,
            i,
            lines.file,
            lines.line(("items",)),
            f"{pa} x {pb}",
        )
        for i, ((pa, ta), (pb, tb)) in enumerate(pairs)
    ]
    return items, problems


def select(
    items: Sequence[Item], *, sample: int | None = None, seed: int = 0, shard: str | None = None
) -> list[Item]:
    """A random sample of the items (in their order), then one shard "K/N" of those."""
    chosen = list(items)
    if sample is not None and sample < len(chosen):
        picked = set(random.Random(seed).sample(range(len(chosen)), sample))
        chosen = [item for i, item in enumerate(chosen) if i in picked]
    if shard is not None:
        k, n = parse_shard(shard)
        chosen = [item for i, item in enumerate(chosen) if i % n == k - 1]
    return chosen


def parse_shard(shard: str) -> tuple[int, int]:
    """Parse "K/N" ("2/4" -> (2, 4)), or raise InvalidOption saying what a shard looks like."""
    try:
        k_text, n_text = shard.split("/")
        k, n = int(k_text), int(n_text)
    except ValueError:
        raise InvalidOption(f"shard {shard!r} must look like K/N, e.g. 1/4") from None
    if not 1 <= k <= n:
        raise InvalidOption(f"shard {shard!r}: K must be from 1 to N, e.g. 2/4")
    return k, n
