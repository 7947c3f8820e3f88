"""A sidecar on disk: an Arrow IPC file with the key it was made from, in the user's cache.

`load` maps an entry (no copy) when this user wrote it and it has this format and shape;
`save` writes one atomically (a temporary file, then a rename) and first clears what killed
writers left; `cache_home` is where they all live. `cache` decides which entries to use.
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from workbench.labbook.filekey import Key

FORMAT = "11"
"""Bump when what is cached changes shape: older entries are then rebuilt."""


@dataclass
class Entry:
    """One file's cached table and the key of the bytes it holds."""

    key: Key
    table: pa.Table
    meta: dict[bytes, bytes] = field(default_factory=dict)


def cache_home() -> Path:
    """The user's cache folder for the workbench (`$XDG_CACHE_HOME/workbench`)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "workbench"


def load(where: Path, schema: pa.Schema) -> Entry | None:
    """The entry at `where`, mapped; None when missing, partial, foreign or of another shape."""
    try:
        if os.stat(where).st_uid != os.getuid():
            return None  # only what this user wrote
        source = pa.memory_map(str(where), "r")
        table = pa.ipc.open_file(source).read_all()
        meta = table.schema.metadata or {}
        if meta.get(b"format") != FORMAT.encode() or not table.schema.equals(schema):
            return None
        key = Key(int(meta[b"end"]), meta[b"digest"].decode())
    except Exception:  # missing, partial, foreign or of another shape: rebuilt
        return None
    return Entry(key, table.replace_schema_metadata(None), dict(meta))


def save(
    where: Path | None, key: Key, table: pa.Table, extra: dict[str, str] | None = None
) -> pa.Table:
    """Write the entry atomically (a folder that cannot be written is not cached)."""
    if where is None:
        return table
    meta = {"format": FORMAT, "end": str(key.end), "digest": key.digest, **(extra or {})}
    try:
        cache_home().mkdir(mode=0o700, parents=True, exist_ok=True)
        where.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        clear_stale(where.parent)
        fd, temp = tempfile.mkstemp(dir=where.parent, prefix=f".{where.name}.", suffix=".tmp")
        os.close(fd)
        try:
            with (
                pa.OSFile(temp, "wb") as sink,  # native: writes without the GIL
                pa.ipc.new_file(sink, table.schema.with_metadata(meta)) as writer,
            ):
                writer.write_table(table)
            os.replace(temp, where)
        except BaseException:
            os.unlink(temp)
            raise
    except OSError:
        pass
    return table


STALE_S = 3600.0
"""A temporary entry this old was left by a writer that was killed (a write takes seconds)."""


def clear_stale(folder: Path) -> None:
    """Remove the temporary entries killed writers left in `folder` (a sorted one is GBs)."""
    now = time.time()
    for temp in folder.glob(".*.tmp"):
        try:
            if now - temp.stat().st_mtime > STALE_S:
                temp.unlink()
        except OSError:  # gone already (another process cleared it), or not ours to remove
            pass
