"""Session files -> records, exactly: orjson where it is exact, json for the rest, a bad line named.

`load_records(files)` reads every file (one `orjson.loads` per file, no per-row work) and
remembers where each record came from. A file's unterminated last line (a torn tail) is not
data; a line json cannot read either is named in a `CorruptLine`.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import orjson

from workbench.errors import CorruptLine


class RecordList(list[dict[str, Any]]):
    """Records as `load_records` read them, with the file and line number of each."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []
        self.numbers: list[int] = []


def load_records(files: Iterable[Path]) -> RecordList:
    """Every record of every file, in file order, remembering each one's file and line."""
    out = RecordList()
    with gc_paused():
        for path in files:
            batch = read_records(path)
            out.extend(batch)
            out.paths.extend([str(path)] * len(batch))
            out.numbers.extend(range(1, len(batch) + 1))
    return out


def read_records(path: Path) -> list[dict[str, Any]]:
    """One file's records; an unterminated last line (a torn tail) is not data.

    The lines are parsed by one `json.loads` of them joined into an array (far faster than a
    call per line, since keys are shared); a file that fails is parsed again line by line to
    name the bad line in a `CorruptLine`.
    """
    data = path.read_bytes()
    end = data.rfind(b"\n")
    return parse_records(path, data[:end]) if end >= 0 else []


def parse_records(path: Path, body: bytes, first: int = 1) -> list[dict[str, Any]]:
    """The records on complete lines (`body` has no final newline); `first` numbers the first.

    orjson parses what it can (3x faster than json); what it refuses (NaN, numbers out of
    its range, a bad line) goes to json line by line, which accepts or names the bad line.
    Integers past 64 bits orjson reads as floats: the lines that may hold one go to json.
    """
    try:
        batch = orjson.loads(b"[" + body.replace(b"\n", b",") + b"]")
    except orjson.JSONDecodeError:
        batch = None
    if (
        type(batch) is not list
        or len(batch) != body.count(b"\n") + 1
        or not all(type(r) is dict for r in batch)
    ):
        return _parse_lines(path, body, first)
    return _exact_ints(body, cast(list[dict[str, Any]], batch))


_ZEROS = bytes.maketrans(b"123456789", b"000000000")
_RUN = b"0" * 19
"""19 digits in a row (in `_ZEROS`' translation): the shortest integer past 64 bits."""
_BEFORE = frozenset(b":[, \t\r")


def _exact_ints(body: bytes, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`records`, with each line where a number of 19 digits or more starts re-read by json."""
    digits = body.translate(_ZEROS)  # one pass in C: a regex would cost a third of orjson's
    line = counted = 0
    at = digits.find(_RUN)
    while at >= 0:
        start = at - (body[at - 1 : at] == b"-")
        if start and body[start - 1] in _BEFORE:  # a number, not digits inside a string
            line += body.count(b"\n", counted, at)
            counted = at
            begin, end = body.rfind(b"\n", 0, at) + 1, body.find(b"\n", at)
            records[line] = json.loads(body[begin : end if end >= 0 else len(body)])
        at = digits.find(_RUN, at + len(_RUN))
    return records


def _parse_lines(path: Path, body: bytes, first: int = 1) -> list[dict[str, Any]]:
    records = []
    for number, raw in enumerate(body.split(b"\n"), start=first):
        try:
            record = json.loads(raw)
        except ValueError as e:
            raise CorruptLine(path, number, f"not JSON ({e})") from None
        if not isinstance(record, dict):
            raise CorruptLine(path, number, "not a JSON object")
        records.append(record)
    return records


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC: it would rescan millions of fresh dicts, none of them garbage."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
