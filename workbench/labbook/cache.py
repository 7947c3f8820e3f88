"""A columnar sidecar per session file, so a big lab notebook loads in about a second.

What `read_frame` takes from each session file is kept as an Arrow IPC file in the user's
own cache folder (`$XDG_CACHE_HOME/workbench/frames/<hash of the lab notebook's root>/
YYYY/MM/DD/<file>.arrow`, mode 0700), never inside the lab notebook, and memory-mapped when
read back (no copy, no Python objects for the text columns). An entry is never trusted over
the JSONL: it records the XXH3-128 hash of the bytes it was made from (every complete line),
and every load hashes the file again (XXH3 runs at several GB/s). The same hash: used as is.
The file grew and its old bytes hash the same (files are append-only): only the new lines
are parsed and the entry extended. Anything else (an edit, even one keeping size and mtime;
a shrink; an unreadable entry or one of another format) rebuilds the entry from the file.

The cache only speeds up `read_frame`: `verify` always re-hashes the raw bytes, and
`load_records` always parses them. Only files laid out as `<root>/YYYY/MM/DD/<name>.jsonl`
are cached; a folder that cannot be written is simply not cached.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar

import pyarrow as pa
import xxhash

from workbench.labbook.entries import FORMAT, Entry
from workbench.labbook.entries import cache_home as cache_home  # re-exported
from workbench.labbook.entries import load as _load
from workbench.labbook.entries import save as _save
from workbench.labbook.filekey import Key as Key  # re-exported
from workbench.labbook.filekey import key_of as key_of  # re-exported
from workbench.labbook.filekey import keys_of as keys_of  # re-exported
from workbench.labbook.filekey import prefix_of


class Writes:
    """Entries written in a background thread, while the load goes on or after it.

    A small load's entries are written while it sorts and builds the frame (Arrow does
    both without the GIL) and waited for at the end. A `background` load (a big lab
    notebook: GBs of sidecars) starts its writes only once the frame is made, so they take
    no core from it, and returns without waiting: the next load waits first (`settle`), so
    it reads what this one wrote, and the interpreter waits for them at exit (a write cut
    short by a kill leaves no entry: each goes to a temporary file, then is renamed).
    """

    _pool: ClassVar[ThreadPoolExecutor | None] = None
    _lock: ClassVar[threading.Lock] = threading.Lock()
    _pending: ClassVar[list[Future[Any]]] = []

    def __init__(self, background: bool = False) -> None:
        self.background = background
        self.pending: list[Future[Any]] = []
        self.held: list[Callable[[], Any]] = []

    def later(self, job: Callable[[], Any]) -> None:
        """Run `job` in the writer thread (one per process, shared: entries never race)."""
        if self.background:
            self.held.append(job)
        else:
            self._submit(job)

    def _submit(self, job: Callable[[], Any]) -> None:
        with Writes._lock:
            if Writes._pool is None:
                Writes._pool = ThreadPoolExecutor(1, thread_name_prefix="workbench-sidecars")
            future = Writes._pool.submit(job)
            self.pending.append(future)
            Writes._pending.append(future)

    @classmethod
    def settle(cls) -> None:
        """Wait for every entry still being written (by any load of this process)."""
        with cls._lock:
            pending, cls._pending = cls._pending, []
        for future in pending:
            future.result()

    def __enter__(self) -> Writes:
        return self

    def __exit__(self, *exc: object) -> None:
        held, self.held = self.held, []
        for job in held:
            self._submit(job)
        if not self.background:
            for future in self.pending:
                future.result()


def location(path: Path) -> Path | None:
    """Where `path`'s entry lives, or None when it is not a dated session file."""
    day, month, year = path.parent, path.parent.parent, path.parent.parent.parent
    dated = (len(year.name), len(month.name), len(day.name)) == (4, 2, 2)
    if not dated or not (year.name + month.name + day.name).isdigit():
        return None
    return folder_for(year.parent) / year.name / month.name / day.name / f"{path.name}.arrow"


def folder_for(root: Path) -> Path:
    """The cache folder of the lab notebook at `root` (delete it to start cold)."""
    return cache_home() / "frames" / _root_key(str(root))


@functools.lru_cache(maxsize=64)
def _root_key(root: str) -> str:
    """A name for the lab notebook at `root` (resolved once per process: loads ask per file)."""
    return hashlib.sha256(str(Path(root).resolve()).encode()).hexdigest()[:24]


Parse = Callable[[Path, bytes, int], pa.Table]
"""`parse(path, lines, first)`: the table of complete lines (`first` numbers the first)."""
ParseMany = Callable[[Sequence[Path], dict[Path, Key]], dict[Path, pa.Table]]
"""The tables of the files it read exactly, each up to its key's `end` (the others are left)."""


def tables(
    paths: Sequence[Path],
    parse: Parse,
    parse_many: ParseMany,
    schema: pa.Schema,
    writes: Writes | None = None,
    hashed: Sequence[Key] | None = None,
) -> tuple[list[pa.Table], list[Key]]:
    """Each file's table, from its entry where the file's bytes still hash the same.

    Files without a usable entry are read together by `parse_many` (the fast path), and
    whatever it leaves out by `parse`; new or extended entries are written back. `hashed`:
    the files' keys, when the caller has just made them (`key_of`).
    """
    found: dict[Path, pa.Table] = {}
    keys: dict[Path, Key] = {}
    cold: list[Path] = []
    for i, path in enumerate(paths):
        where = location(path)
        entry = _load(where, schema) if where is not None else None
        key = hashed[i] if hashed is not None else key_of(path)
        keys[path] = key
        if entry is not None and key == entry.key:
            found[path] = entry.table
        elif entry is not None and _grew(path, entry.key, key):
            with open(path, "rb") as handle:
                handle.seek(entry.key.end)
                new = handle.read(key.end - entry.key.end)
            table = pa.concat_tables([entry.table, parse(path, new, entry.table.num_rows + 1)])
            found[path] = _keep(writes, where, key, table)
        else:
            cold.append(path)
    fast = parse_many(cold, keys) if cold else {}
    for path in cold:
        table = fast.get(path)
        if table is None:
            with open(path, "rb") as handle:
                table = parse(path, handle.read(keys[path].end), 1)
        found[path] = _keep(writes, location(path), keys[path], table)
    return [found[path] for path in paths], [keys[path] for path in paths]


def _keep(writes: Writes | None, where: Path | None, key: Key, table: pa.Table) -> pa.Table:
    """Save the entry now, or in the background with `writes`; the table either way."""
    if writes is None or where is None:
        return _save(where, key, table)
    writes.later(functools.partial(_save, where, key, table))
    return table


Extend = Callable[[pa.Table, list[tuple[int, int, pa.Table]], list[int]], "pa.Table | None"]
"""`extend(base, new, counts)`: the sorted table `base` with the rows `new` added, each part
(file index, rows it had, its new rows), now that the files hold `counts` rows; None when the
new rows do not simply go after the old ones."""


def combined(
    paths: Sequence[Path],
    keys: Sequence[Key],
    tables: Sequence[pa.Table],
    build: Callable[[], pa.Table],
    extend: Extend,
    schema: pa.Schema,
    writes: Writes | None = None,
) -> pa.Table:
    """The table `build()` makes of these files, kept while every file hashes the same.

    Loading the files' tables and sorting them costs seconds for a million records (the sort
    copies every text); the sorted table of the last `KEEP` sets of files read is kept
    whole, memory-mapped when read back. When files only grew since a kept table was made
    (the session being recorded), that table and the new rows are used as they are, without
    writing it all again, while the new rows are fewer than a quarter of it.
    """
    folder = _folder(paths)
    if folder is None:
        return build()
    where = _sorted_place(folder, paths, keys)
    entry = _load(where, schema)
    if entry is not None:
        os.utime(where)  # recently used: kept
        return entry.table
    grown = _grown(folder, paths, keys, tables, extend, schema)
    if grown is not None:
        return grown
    listed = [
        [str(p), k.end, k.digest, t.num_rows] for p, k, t in zip(paths, keys, tables, strict=True)
    ]
    table = build()
    job = functools.partial(_save_sorted, folder, where, table, {"files": json.dumps(listed)})
    if writes is not None:
        writes.later(job)
        return table
    job()
    reread = _load(where, schema)  # mapped: its pages are the file's, not the heap's
    return reread.table if reread is not None else table


def _save_sorted(folder: Path, where: Path, table: pa.Table, extra: dict[str, str]) -> None:
    """Save a sorted table, keeping the `KEEP` most recently used."""
    _save(where, Key(0, ""), table, extra)
    kept = sorted(folder.glob("sorted-*.arrow"), key=_mtime, reverse=True)
    for old in kept[KEEP:]:
        old.unlink(missing_ok=True)


def kept(paths: Sequence[Path], keys: Sequence[Key], schema: pa.Schema) -> pa.Table | None:
    """The kept sorted table of these files as they are (`keys`), or None."""
    folder = _folder(paths)
    if folder is None:
        return None
    where = _sorted_place(folder, paths, keys)
    entry = _load(where, schema)
    if entry is None:
        return None
    os.utime(where)  # recently used: kept
    return entry.table


def likely(paths: Sequence[Path], schema: pa.Schema) -> tuple[pa.Table, list[Key]] | None:
    """The kept sorted table that lists these files at their present sizes, and its keys.

    Only a guess, made before the files are hashed (so the frame can be built while they
    are): it is used only when the files then hash to exactly these keys.
    """
    folder = _folder(paths)
    found = _listing(folder, paths, schema) if folder is not None else None
    if found is None:
        return None
    where, entry, listed = found
    try:
        sizes = [path.stat().st_size for path in paths]
    except OSError:
        return None
    if [item[1] for item in listed] != sizes:
        return None  # a file grew (or has a torn tail): the keys decide
    os.utime(where)  # recently used (as `kept` marks it): kept
    return entry.table, [Key(item[1], item[2]) for item in listed]


def _listing(
    folder: Path, paths: Sequence[Path], schema: pa.Schema
) -> tuple[Path, Entry, Any] | None:
    """The most recently used kept sorted table of these very files, or None.

    Its place, its entry and its listing: per file, its path, end, digest and rows when the
    table was made.
    """
    names = [str(path) for path in paths]
    for where in sorted(folder.glob("sorted-*.arrow"), key=_mtime, reverse=True):
        entry = _load(where, schema)
        if entry is None:
            continue
        try:
            listed = json.loads(entry.meta.get(b"files", b"[]"))
        except ValueError:
            continue
        if [item[0] for item in listed] == names:
            return where, entry, listed
    return None


def _folder(paths: Sequence[Path]) -> Path | None:
    """The one cache folder of these files, or None (no files, undated ones, several roots)."""
    places = {location(path) for path in paths}
    if not paths or None in places:
        return None
    folders = {place.parents[3] for place in places if place is not None}
    return folders.pop() if len(folders) == 1 else None


def _sorted_place(folder: Path, paths: Sequence[Path], keys: Sequence[Key]) -> Path:
    hasher = xxhash.xxh3_128(FORMAT.encode())
    for path, key in zip(paths, keys, strict=True):
        hasher.update(f"\n{path}\t{key.end}\t{key.digest}".encode())
    return folder / f"sorted-{hasher.hexdigest()}.arrow"


def _grown(
    folder: Path,
    paths: Sequence[Path],
    keys: Sequence[Key],
    tables: Sequence[pa.Table],
    extend: Extend,
    schema: pa.Schema,
) -> pa.Table | None:
    """A kept sorted table of these very files, extended by what they gained since; or None."""
    found = _listing(folder, paths, schema)
    if found is None:
        return None
    _, base, listed = found
    new: list[tuple[int, int, pa.Table]] = []
    for i, (path, key, table, item) in enumerate(zip(paths, keys, tables, listed, strict=True)):
        _, end, digest, rows = item
        if (key.end, key.digest) == (end, digest):
            continue
        if not (end < key.end and table.num_rows > rows and prefix_of(path, end) == digest):
            return None  # changed, not grown: sorted again
        new.append((i, rows, table.slice(rows)))
    added = sum(part.num_rows for _, _, part in new)
    if added * 4 > base.table.num_rows:
        return None  # written again, sorted, so the next loads start from it
    return extend(base.table, new, [t.num_rows for t in tables])


KEEP = 2
"""Sorted tables kept per lab notebook (each is about the size of the files it holds)."""


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _grew(path: Path, old: Key, new: Key) -> bool:
    """Whether the file holds what `old` was made of, then more (append-only growth)."""
    return 0 < old.end < new.end and prefix_of(path, old.end) == old.digest
