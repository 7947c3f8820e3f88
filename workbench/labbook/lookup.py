"""Records of a big lab notebook found through its frame, then parsed from their own lines.

Reading every record to find a few (one id, the newest calls to one model) took 43 s and
7 GB of memory for a million records; the frame (`read_frame`, mapped from its sidecars)
finds where they are in about a second, and only their files are read. A small lab
notebook is still read record by record: importing the frame's libraries would cost more.
"""

from __future__ import annotations

import functools
import mmap
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.labbook.sessionfiles import files
from workbench.labbook.store import parse_line

if TYPE_CHECKING:
    import pandas as pd

BIG_BYTES = 64 * 2**20
"""Lab notebooks this big (bytes of JSON Lines, ~40k records) are searched through the frame."""


def is_big(root: Path) -> bool:
    """Whether the lab notebook at `root` is searched through its frame."""
    return sum(path.stat().st_size for path in files(root)) >= BIG_BYTES


def frame(root: Path) -> pd.DataFrame:
    """The lab notebook's frame, from its sidecars (made on the first call)."""
    from workbench.labbook.query import read_frame

    return read_frame(files(root))


def newest(
    table: pd.DataFrame,
    limit: int,
    keep: Callable[[dict[str, Any]], bool],
    *,
    model: str | None = None,
    kind: str | None = None,
    tag: str | None = None,
    prompt: str | None = None,
) -> list[dict[str, Any]]:
    """The `limit` newest records `keep` accepts, oldest first, among the rows that match.

    The filters narrow the frame's rows to candidates; each record read is checked by `keep`
    itself, so a value the frame holds converted (a number as text) never lets one through.
    """
    import numpy as np

    mask = np.ones(len(table), dtype=bool)
    if model is not None:
        named = (table["model"] == model) | (table["resolved"] == model)
        mask &= named.to_numpy(dtype=bool, na_value=False)
    if kind is not None:
        mask &= (table["kind"] == kind).to_numpy(dtype=bool, na_value=False)
    if tag is not None:
        mask &= np.fromiter((tag in tags for tags in table["tags"]), bool, len(table))
    if prompt is not None:
        mask &= (table["prompt_name"] == prompt).to_numpy(dtype=bool, na_value=False)
    positions = np.flatnonzero(mask)
    found: list[dict[str, Any]] = []
    end = len(positions)
    while end > 0 and len(found) < limit:  # newest first, a batch at a time
        start = max(0, end - max(limit - len(found), 64))
        batch = [r for r in records_at(table.iloc[positions[start:end]]) if keep(r)]
        found = batch[-(limit - len(found)) :] + found
        end = start
    return found


def ending_with(table: pd.DataFrame, suffix: str) -> pd.DataFrame:
    """The frame's rows whose id ends with `suffix` (read them with `records_at`)."""
    ids = table["id"].astype(object)
    return table[[isinstance(i, str) and i.endswith(suffix) for i in ids]]


def records_at(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """The records behind these rows of the frame (their `file` and `line`), in their order."""
    places = zip(rows["file"].astype(str), rows["line"].tolist(), strict=True)
    return [record_at(path, int(line)) for path, line in places]


def record_at(path: str, line: int) -> dict[str, Any]:
    """The record on line `line` of the file at `path`, parsed as `store.read` parses it.

    The file's newlines are found once per state of the file; then only the line is read.
    """
    info = os.stat(path)
    ends = _line_ends(path, info.st_size, info.st_mtime_ns)
    if not 1 <= line <= len(ends):
        return parse_line(Path(path), line, b"")
    start = int(ends[line - 2]) + 1 if line > 1 else 0
    with open(path, "rb") as handle:
        handle.seek(start)
        return parse_line(Path(path), line, handle.read(int(ends[line - 1]) - start))


@functools.lru_cache(maxsize=256)
def _line_ends(path: str, size: int, mtime_ns: int) -> Any:
    """Where each line of the file ends (its newline's offset), found once per state."""
    import numpy as np

    if size == 0:
        return np.zeros(0, dtype=np.int64)
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), size, access=mmap.ACCESS_READ) as m:
        data = np.frombuffer(m, np.uint8)
        ends = np.flatnonzero(data == 10)
        del data  # the map closes only when no array holds it
        return ends
