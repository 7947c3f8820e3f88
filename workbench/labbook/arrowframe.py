"""The files' Arrow tables (`columnar.SCHEMA`) -> one table in the frame's order -> the frame.

`combine` sorts the files' rows as `query._select` sorts the frame (time, then `seq`, then as
given) and notes each row's file, line and position (`combined_frame` also makes the frame,
decoding the JSON values while the texts are sorted); `extend` adds rows that sort after a
kept table without sorting it again; `frame` makes the very DataFrame `columns._Columns.frame`
makes: text columns wrap the Arrow buffers (pandas' `str` dtype is Arrow-backed), categories
come from Arrow's dictionary encoding, masked numbers from the buffers, and the JSON columns
are decoded once per distinct text (a fresh object per row all the same).
"""

from __future__ import annotations

import functools
import itertools
import json
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench.labbook.columnar import _EMPTY_LIST, _OBJECTS, _TEXT, SCHEMA
from workbench.labbook.columns import _CATEGORIES, _FLOATS, _INTS, _ROW, _STRINGS, COLUMNS, _times

_EXTRA = pa.schema([("_file", pa.int32()), ("_line", pa.int64()), ("_position", pa.int64())])
_LABEL = pa.dictionary(pa.int32(), pa.large_string())
_ENCODED = (*_CATEGORIES, *_OBJECTS)
SORTED = pa.schema(
    [pa.field(f.name, _LABEL) if f.name in _ENCODED else f for f in SCHEMA] + list(_EXTRA)
)
"""The rows of many files in the frame's order, each with its file (an index into the files
given), its line there and its position among all rows as given (the frame's index). The
frame's categories (kind, session, model, resolved) and JSON values (params, files, data,
links, tags: a few texts repeated) are dictionary-encoded: a load maps their codes instead
of hashing a million strings, and the sort moves codes, not texts."""


def _labels(table: pa.Table) -> list[Any]:
    """The table's columns (`SCHEMA`), dictionary-encoded where `SORTED` has them so.

    Arrow encodes without the GIL: a long table's columns are encoded a column per thread.
    """
    names = [name for name in table.column_names if name in _ENCODED]

    def encode(name: str) -> Any:
        return pc.dictionary_encode(table.column(name).combine_chunks())

    threads = min(os.cpu_count() or 1, len(names))
    if threads < 2 or table.num_rows < PARALLEL_ROWS:
        encoded = dict(zip(names, map(encode, names), strict=True))
    else:
        with ThreadPoolExecutor(threads, thread_name_prefix="workbench-encode") as pool:
            encoded = dict(zip(names, pool.map(encode, names), strict=True))
    pairs = zip(table.column_names, table.columns, strict=True)
    return [encoded.get(name, column) for name, column in pairs]


PARALLEL_ROWS = 10_000
"""Tables this long are sorted a column per thread (shorter ones: the threads cost more)."""


def combine(tables: Sequence[pa.Table]) -> pa.Table:
    """The files' rows as one `SORTED` table: by time, then `seq`, then as given (as `_select`)."""
    table, order = _ordered(tables)
    return table if order is None else take(table, order)


def combined_frame(
    tables: Sequence[pa.Table], files: Sequence[str]
) -> tuple[pa.Table, pd.DataFrame]:
    """`combine(tables)` and its `frame`, the JSON values decoded while the rows are sorted.

    The sort copies every text without the GIL, on the other threads; meanwhile this thread
    decodes the JSON columns (Python objects: all GIL) straight in the sorted order (their
    dictionary codes sorted, a few MB, not their texts).
    """
    table, order = _ordered(tables)
    threads = min(os.cpu_count() or 1, table.num_columns)
    if order is None or threads < 2 or table.num_rows < PARALLEL_ROWS:
        table = table if order is None else take(table, order)
        return table, frame(table, files)
    indices = pa.array(order)
    with ThreadPoolExecutor(threads, thread_name_prefix="workbench-take") as pool:
        sorted_table = _taking(table, indices, pool)
        objects = {
            name: _decoded(_codes_taken(table.column(name), indices), name) for name in _OBJECTS
        }
        table = sorted_table()
    return table, frame(table, files, objects)


def _codes_taken(column: pa.ChunkedArray, indices: pa.Array) -> pa.ChunkedArray:
    """A column in the order of `indices`, dictionary-encoded: its codes moved, not its texts."""
    encoded = _encoded(column)
    taken = pc.take(encoded.indices, indices)
    return pa.chunked_array([pa.DictionaryArray.from_arrays(taken, encoded.dictionary)])


def _ordered(tables: Sequence[pa.Table]) -> tuple[pa.Table, np.ndarray[Any, Any] | None]:
    """The files' rows as one `SORTED` table as given, and the order that sorts it (None: it is)."""
    rows = [t.num_rows for t in tables]
    table = pa.concat_tables(tables) if tables else SCHEMA.empty_table()
    count = table.num_rows
    lines = np.concatenate([np.arange(1, n + 1) for n in rows]) if rows else np.arange(0)
    extra = [
        pa.array(np.repeat(np.arange(len(tables), dtype=np.int32), rows)),
        pa.array(lines.astype(np.int64)),
        pa.array(np.arange(count, dtype=np.int64)),
    ]
    table = pa.Table.from_arrays(_labels(table) + extra, schema=SORTED)
    stamps = table.column("ts").to_numpy().astype("datetime64[us]")
    order = np.lexsort((table.column("seq").fill_null(-1).to_numpy(), stamps))
    return table, order if (np.diff(order) != 1).any() else None


@functools.cache
def memory_pool() -> pa.MemoryPool:
    """Where the sorted copies are made: jemalloc where pyarrow has it, else its default pool.

    Measured on a million records (1.3 GB of text sorted on two cores): pyarrow's default
    pool (mimalloc) spent 3.0 s of system time and 1.8 s of wall
    time on the copy, jemalloc 0.8 s and 0.8 s, the system's malloc 1.1 s and 0.9 s.
    """
    try:
        return pa.jemalloc_memory_pool()
    except NotImplementedError:  # a pyarrow built without it (Windows)
        return pa.default_memory_pool()


def take(table: pa.Table, order: np.ndarray[Any, Any]) -> pa.Table:
    """`table.take(order)`, a column per thread (in `memory_pool()`).

    Arrow copies without the GIL, and one thread copying a million rows of text spends most
    of its time on fresh pages: two cores halve it.
    """
    threads = min(os.cpu_count() or 1, table.num_columns)
    if threads < 2 or table.num_rows < PARALLEL_ROWS:
        return _taken(table, pa.array(order))
    with ThreadPoolExecutor(threads, thread_name_prefix="workbench-take") as pool:
        return _taking(table, pa.array(order), pool)()


def _taking(table: pa.Table, indices: pa.Array, pool: ThreadPoolExecutor) -> Callable[[], pa.Table]:
    """Start taking each column in `pool` (biggest first); the returned call waits for them."""
    biggest = sorted(range(table.num_columns), key=lambda i: -table.column(i).nbytes)
    jobs = {i: pool.submit(_column_taken, table.column(i), indices) for i in biggest}

    def result() -> pa.Table:
        columns = [jobs[i].result() for i in range(table.num_columns)]
        return pa.Table.from_arrays(columns, schema=table.schema)

    return result


def _taken(table: pa.Table, indices: pa.Array) -> pa.Table:
    columns = [_column_taken(column, indices) for column in table.columns]
    return pa.Table.from_arrays(columns, schema=table.schema)


def _column_taken(column: pa.ChunkedArray, indices: pa.Array) -> pa.ChunkedArray:
    return pc.take(column, indices, memory_pool=memory_pool())


def extend(
    base: pa.Table, new: list[tuple[int, int, pa.Table]], counts: list[int]
) -> pa.Table | None:
    """`base` (a `SORTED` table) then the new rows, sorted, when they all come after it.

    `new` holds, per grown file, its index, the rows it had and its new rows; `counts` the
    rows each file holds now. None when a new row does not sort after every old one (then
    the whole is sorted again).
    """
    if not new:
        return None
    last = base.column("ts")[-1] if base.num_rows else None
    if last is None or not last.is_valid:
        return None
    parts = []
    for index, before, rows in new:
        lines = np.arange(before + 1, before + rows.num_rows + 1, dtype=np.int64)
        extra = [
            pa.array(np.full(rows.num_rows, index, dtype=np.int32)),
            pa.array(lines),
            pa.array(np.zeros(rows.num_rows, dtype=np.int64)),
        ]
        parts.append(pa.Table.from_arrays(_labels(rows) + extra, schema=SORTED))
    delta = pa.concat_tables(parts)
    stamps = delta.column("ts")
    if stamps.null_count or pc.less_equal(pc.min(stamps), last).as_py():
        return None
    order = np.lexsort(
        (delta.column("seq").fill_null(-1).to_numpy(), stamps.to_numpy().astype("datetime64[us]"))
    )
    table = pa.concat_tables([base, delta.take(order)])
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    at = table.column("_file").to_numpy()
    position = offsets[at] + table.column("_line").to_numpy() - 1
    return table.set_column(SORTED.get_field_index("_position"), "_position", pa.array(position))


def frame(
    table: pa.Table, files: Sequence[str], objects: dict[str, Any] | None = None
) -> pd.DataFrame:
    """The frame `_Columns.frame` makes of these rows (a `SORTED` table of `files`).

    `objects`: the JSON columns already decoded, in the table's order (`combined_frame`).
    """
    ts = pd.DatetimeIndex(table.column("ts").to_numpy()).tz_localize(None).tz_localize(UTC)
    if not len(ts):
        ts = _times([])  # the unit pandas gives no values
    uniq, codes = _days(ts.to_numpy(dtype="datetime64[us]").astype("datetime64[D]"))
    named = ~np.isnat(uniq)
    days = pd.Index([d.item() for d in uniq[named]], dtype=object)
    columns: dict[str, Any] = {"ts": ts}
    for name in _ROW:
        column = table.column(name)
        if name in _STRINGS:
            columns[name] = pd.array(column, dtype="str")
        elif name in _CATEGORIES:
            columns[name] = _arrow_category(column)
        elif name in _INTS:
            columns[name] = pd.arrays.IntegerArray(*_masked(column, 0))
        elif name in _FLOATS:
            columns[name] = pd.arrays.FloatingArray(*_masked(column, 0.0))
        elif name == "ok":
            columns[name] = pd.arrays.BooleanArray(*_masked(column, False))
        elif name in _OBJECTS:
            columns[name] = objects[name] if objects is not None else _decoded(column, name)
    names = np.array(list(files), dtype=object)
    at = table.column("_file").to_numpy()
    present = np.unique(at)  # as `_category` of each row's file: only files with rows
    uniques, inverse = np.unique(names[present], return_inverse=True)
    mapping = np.full(len(names), -1, dtype=np.int64)
    mapping[present] = inverse
    columns["file"] = pd.Categorical.from_codes(mapping[at], pd.Index(uniques, dtype="str"))
    columns["day"] = pd.Categorical.from_codes(
        np.where(named[codes], codes, -1), days, ordered=True
    )
    lines = table.column("_line").to_numpy()
    columns["line"] = pd.arrays.IntegerArray(lines, np.zeros(len(lines), dtype=bool))
    out = pd.DataFrame(columns, columns=list(COLUMNS), copy=False)
    out.index = pd.Index(table.column("_position").to_numpy())
    return out


def _days(days: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """`np.unique(days, return_inverse=True)`, in one pass when they are in order (they are)."""
    stamps = days.view(np.int64)
    known = ~np.isnat(days)
    order = known.all() or not known[np.argmin(known) :].any()  # NaT only at the end
    if not len(days) or not order or (np.diff(stamps[known]) < 0).any():
        uniq, codes = np.unique(days, return_inverse=True)
        return uniq, codes
    new = np.r_[True, stamps[1:] != stamps[:-1]]  # NaT == NaT as int64: one group at the end
    codes = np.cumsum(new) - 1
    return days[new], codes


def _encoded(column: pa.ChunkedArray) -> pa.DictionaryArray:
    """The column as one dictionary array (encoded here unless it already is)."""
    if not pa.types.is_dictionary(column.type):
        column = pc.dictionary_encode(column)
    if not column.num_chunks:
        return pa.DictionaryArray.from_arrays(pa.array([], pa.int32()), pa.array([], _TEXT))
    return column.unify_dictionaries().combine_chunks()


def _arrow_category(column: pa.ChunkedArray) -> pd.Categorical:
    """`_category` of a dictionary-encoded column (no Python strings): sorted categories.

    Each value of the dictionary occurs in the column, once in the dictionary, as pandas
    has them: `dictionary_encode` makes it so, and unifying such chunks keeps it so.
    """
    encoded = _encoded(column)
    uniques = encoded.dictionary.to_numpy(zero_copy_only=False)
    order = np.argsort(uniques, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    codes, valid = _codes(encoded.indices)
    codes = np.where(valid, rank[codes] if len(rank) else -1, -1)
    return pd.Categorical.from_codes(codes, pd.Index(uniques[order], dtype="str"))


def _masked(column: pa.ChunkedArray, fill: Any) -> tuple[np.ndarray[Any, Any], Any]:
    """A numpy array of the values (`fill` where null) and the null mask, for masked arrays."""
    mask = column.is_null().to_numpy(zero_copy_only=False)
    values = column.fill_null(fill).to_numpy(zero_copy_only=False)
    if values.dtype == np.float64:
        mask = mask | np.isnan(values)  # as `_floats` reads NaN: missing
    return np.ascontiguousarray(values), np.ascontiguousarray(mask)


def _codes(indices: pa.Array) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """Dictionary indices as int64 (0 where null) and where they are valid."""
    valid = pc.is_valid(indices).to_numpy(zero_copy_only=False)
    codes = indices.fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, valid


_MANY = 32
"""Rows sharing a text at least this often get copies of one parse; the others a parse each."""


def _decoded(column: pa.ChunkedArray, name: str) -> Any:
    """`decode` of one of the JSON columns: null is None, or [] for lists."""
    return decode(column, list if name in _EMPTY_LIST else None)


def decode(column: pa.ChunkedArray, empty: type[list[Any]] | None) -> Any:
    """JSON text to Python values (an object array), a fresh object per row.

    A null is None, or a new empty list with `empty=list`. A text many rows share (the same
    params on every call) is parsed once and copied per row (flat containers, copied in C by
    `map(dict.copy, ...)`) or parsed per row (nested ones); the other rows are parsed each
    (orjson, in one pass). So no two rows share a mutable value, as when each record was
    parsed.
    """
    n = len(column)
    if not n:
        return []  # as a list of no values becomes a column: float64, as before
    out = np.empty(n, dtype=object)  # None throughout
    valid = pc.is_valid(column).to_numpy(zero_copy_only=False)
    if empty is not None:
        missing = np.flatnonzero(~valid)
        out[missing] = _array(map(list.copy, itertools.repeat([], len(missing))), len(missing))
    if column.null_count == n:
        return out
    encoded = _encoded(column)
    codes, _ = _codes(encoded.indices)
    texts = encoded.dictionary.to_pylist()
    rows = np.flatnonzero(valid)
    picked = codes[rows]
    counts = np.bincount(picked, minlength=len(texts))
    shared = counts[picked] >= _MANY
    few = picked[~shared].tolist()
    out[rows[~shared]] = _array(map(_loads, map(texts.__getitem__, few)), len(few))
    if not shared.any():
        return out
    many, codes_many = rows[shared], picked[shared]
    small = np.uint16 if len(texts) <= 2**16 else np.int64  # a radix sort for small codes
    order = np.argsort(codes_many.astype(small), kind="stable")
    many, codes_many = many[order], codes_many[order]
    starts = np.flatnonzero(np.r_[True, codes_many[1:] != codes_many[:-1]])
    for begin, end in itertools.pairwise([*starts.tolist(), len(many)]):
        copies = _copies(texts[int(codes_many[begin])], end - begin)
        out[many[begin:end]] = _array(copies, end - begin)
    return out


def _array(values: Iterator[Any], count: int) -> np.ndarray[Any, Any]:
    """`count` values as an object array (a list value stays one object, never a row of it)."""
    return np.fromiter(values, dtype=object, count=count)


def _copies(text: str, count: int) -> Iterator[Any]:
    """`count` fresh copies of the value of `text`, made in C where the value is flat."""
    value = _loads(text)
    if isinstance(value, dict):
        if all(not isinstance(v, (dict, list)) for v in value.values()):
            return map(dict.copy, itertools.repeat(value, count))
    elif isinstance(value, list):
        if all(not isinstance(v, (dict, list)) for v in value):
            return map(list.copy, itertools.repeat(value, count))
    else:
        return itertools.repeat(value, count)  # immutable
    return map(_loads, itertools.repeat(text, count))


_ZEROS = bytes.maketrans(b"123456789", b"000000000")


def _loads(text: str) -> Any:
    """Orjson where it is exact; json for NaN/Infinity and integers of 19 digits or more."""
    raw = text.encode()
    if b"0" * 19 in raw.translate(_ZEROS):
        return json.loads(text)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return json.loads(text)
