"""A session file's key: where its complete lines end and the XXH3-128 of those bytes.

Files are mapped and hashed where they lie (no copy), on every core: XXH3 lets go of the
GIL as it hashes, at several GB/s. `cache` uses a sidecar only while its file has the key
it was made from.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import xxhash


@dataclass(frozen=True)
class Key:
    """What an entry was made from: the bytes up to the last newline, and their hash."""

    end: int
    digest: str


def keys_of(paths: Sequence[Path]) -> list[Key]:
    """Every file's key, in order; hashed on every core (XXH3 lets go of the GIL as it hashes).

    1.6 GB in 168 files: 0.12 s on 2 threads against 0.19 s on one (pages in memory).
    """
    if len(paths) < 2:
        return [key_of(path) for path in paths]
    with ThreadPoolExecutor(min(len(paths), os.cpu_count() or 1)) as pool:
        return list(pool.map(key_of, paths))


def key_of(path: Path) -> Key:
    """The file's key: its complete lines' end and XXH3-128.

    The file is memory-mapped and hashed where it lies (no copy: ~0.2 s for 1.6 GB here).
    """
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            return Key(0, xxhash.xxh3_128().hexdigest())
        with (
            mmap.mmap(handle.fileno(), size, access=mmap.ACCESS_READ) as mapped,
            memoryview(mapped) as view,
        ):
            end = mapped.rfind(b"\n") + 1
            return Key(end, xxhash.xxh3_128(view[:end]).hexdigest())


def prefix_of(path: Path, end: int) -> str:
    """The XXH3-128 of the file's first `end` bytes."""
    with (
        open(path, "rb") as handle,
        mmap.mmap(handle.fileno(), end, access=mmap.ACCESS_READ) as mapped,
        memoryview(mapped) as view,
    ):
        return str(xxhash.xxh3_128(view).hexdigest())
