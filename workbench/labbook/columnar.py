"""Session files to Arrow tables of the frame's columns, fast: DuckDB parses, Arrow converts.

`read_tables(paths)` parses many session files in one DuckDB query (its JSON reader, on every
core) into one Arrow table per file, already in the frame's columns (`SCHEMA`), in file
order: what `columns._row` takes from each record, computed by SQL over typed columns.
Values that may hold any JSON (params, files, the structured answer, links, tags) are kept
as JSON text and decoded by `arrowframe.frame` into Python objects. A file the fast path
cannot read exactly (a torn tail, a blank or bad line, NaN, an integer past 2**53, DuckDB
refusing it) is parsed by the record-by-record path instead (`from_records`), which names a
bad line as before; `arrowframe` turns the tables into the very frame `columns._Columns.frame`
builds.
"""

from __future__ import annotations

import itertools
import json
import mmap
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from workbench.labbook.columns import (
    _FLOATS,
    _INTS,
    _ROW,
    _floats,
    _ints,
    _origin,
    _row,
    _str,
    _times,
)

OBJECTS = _OBJECTS = ("params", "files", "data", "links", "tags")
"""Columns of Python objects, kept as JSON text; null is None (params, data) or []."""
_EMPTY_LIST = ("files", "links", "tags")
_TEXT = pa.large_string()
SCHEMA = pa.schema(
    [
        (name, pa.timestamp("us", "UTC")) if name == "ts"
        else (name, pa.int64()) if name in _INTS
        else (name, pa.float64()) if name in _FLOATS
        else (name, pa.bool_()) if name == "ok"
        else (name, _TEXT)
        for name in _ROW
    ]
)  # fmt: skip
"""One file's columns as cached: `_ROW` in order, typed; `file` and `line` are added later."""

_SPEC = {
    "id": "VARCHAR", "ts": "VARCHAR", "kind": "VARCHAR", "session": "VARCHAR",
    "seq": "DOUBLE", "author": "JSON", "source": "VARCHAR", "repo_head": "VARCHAR",
    "model": "VARCHAR", "resolved": "VARCHAR", "request_hash": "VARCHAR", "parent": "VARCHAR",
    "prompt": "STRUCT(messages STRUCT(role VARCHAR, content VARCHAR, files JSON)[],"
              " params JSON, origin JSON)",
    "reply": "STRUCT(text VARCHAR, data JSON, thinking VARCHAR, usage STRUCT("
             "input_tokens DOUBLE, output_tokens DOUBLE, reasoning_tokens DOUBLE,"
             " cached_input_tokens DOUBLE, cache_write_tokens DOUBLE, source VARCHAR),"
             " cost_usd DOUBLE, latency_s DOUBLE, first_token_s DOUBLE, queued_s DOUBLE,"
             " wall_s DOUBLE, finish_reason VARCHAR, model_version VARCHAR, error JSON,"
             " attempts DOUBLE)",
    "links": "JSON", "tags": "JSON", "data": "JSON", "hash": "VARCHAR",
}  # fmt: skip
"""The record fields read, typed (integers as DOUBLE, checked to be whole and exact after)."""

_FALSY = "('{}', '[]', '\"\"', '0', '0.0', 'false', 'null')"
_SELECT = f"""
select file_index as _file, id, ts, kind, session, seq,
  case when json_type(author) = 'OBJECT' then author->>'$.name' else author->>'$' end as author,
  source, repo_head, model, resolved, request_hash, parent,
  list_filter(prompt.messages, lambda m: m.role = 'user')[-1].content as prompt,
  prompt.origin as _origin,
  case when prompt.messages[1].role = 'system' then
    case when len(prompt.messages) < 3 then prompt.messages[1].content
    else array_to_string(list_transform(list_filter(prompt.messages, lambda m: m.role = 'system'),
                                        lambda m: coalesce(m.content, '')), chr(10) || chr(10))
    end end as system,
  case when kind = 'call' then prompt.params end as params,
  case when kind = 'call' then list_filter(list_transform(prompt.messages, lambda m: m.files),
                                            lambda f: f is not null) end as _files,
  reply.text as text, reply.data as _answer, reply.thinking as thinking,
  case when kind = 'call' then reply.error is null or reply.error in {_FALSY} end as ok,
  case when json_type(reply.error) = 'OBJECT' then reply.error->>'$.type' end as error_type,
  case when json_type(reply.error) = 'OBJECT' then reply.error->>'$.message' end as error,
  reply.usage.input_tokens as input_tokens, reply.usage.output_tokens as output_tokens,
  reply.usage.reasoning_tokens as reasoning_tokens,
  reply.usage.cached_input_tokens as cached_input_tokens,
  reply.usage.cache_write_tokens as cache_write_tokens, reply.usage.source as usage_source,
  reply.cost_usd as cost_usd, reply.latency_s as latency_s,
  reply.first_token_s as first_token_s, reply.queued_s as queued_s, reply.wall_s as wall_s,
  reply.finish_reason as finish_reason, reply.model_version as model_version,
  reply.attempts as attempts,
  links, tags,
  case when kind = 'decision' then data->>'$.verdict' end as verdict,
  case when kind = 'decision' then data->>'$.choice' end as choice,
  case when kind = 'decision' then try_cast(data->>'$.score' as double) end as score,
  case when kind = 'decision' then data->>'$.supersedes' end as supersedes,
  case when kind in ('decision', 'pause') then data->>'$.reason' end as reason,
  case when kind = 'note' then data->>'$.text' end as note,
  hash
from read_json(?, format = 'newline_delimited', columns = {{{
    ", ".join(f"'{k}': '{v}'" for k, v in _SPEC.items())
}}},
    maximum_object_size = ?)
"""

OBJECT_BYTES = (64 * 2**20, 2**30)
"""The largest record DuckDB is told to expect: the first, then the second for a book that
holds a bigger one. Its read buffers are twice this: at 64 MB they are reused from file to file,
at 128 MB and more each is fresh memory (1.6 GB of page faults for 1.6 GB of JSONL, ~1 s of
system time on two cores)."""


_GLOB = frozenset("*?[{")
"""DuckDB reads a path with these as a pattern: such files go the record-by-record way."""


class Unreadable(Exception):
    """The fast path cannot read this file exactly: the record-by-record path will."""


def read_tables(
    paths: Sequence[Path], ends: dict[Path, int], threads: int | None = None
) -> dict[Path, pa.Table]:
    """Arrow tables (`SCHEMA`) of the files the fast path reads exactly; the rest are left out.

    `ends[path]` is where the file's complete lines end, as hashed: a file that changed
    since (a line appended by a writer, a torn tail) is left to the record-by-record path.
    The files' lines are counted (to see the blank lines DuckDB skips) while DuckDB parses.
    """
    wanted = [p for p in paths if ends[p] > 0 and not _GLOB.intersection(str(p))]
    if not wanted:
        return {}
    with ThreadPoolExecutor(1, thread_name_prefix="workbench-lines") as pool:
        counting = pool.submit(lambda: [_lines(p, ends[p]) for p in wanted])
        try:
            table = _query(wanted, threads)
        except Exception:  # DuckDB refused one of them: try each alone
            table = None
        lines = counting.result()
    if table is None:
        if len(wanted) == 1:
            return {}
        out: dict[Path, pa.Table] = {}
        for path in wanted:
            out |= read_tables([path], ends, threads)
        return out
    return _split(table, wanted, lines)


_CHUNK = 1 << 22


def _lines(path: Path, end: int) -> int | None:
    """The file's line count when its size is still `end` (all lines complete), else None.

    Counted where the file lies (mapped, a few MB at a time: numpy lets go of the GIL).
    """
    with open(path, "rb") as handle:
        if os.fstat(handle.fileno()).st_size != end:
            return None
        with mmap.mmap(handle.fileno(), end, access=mmap.ACCESS_READ) as mapped:
            data = np.frombuffer(mapped, np.uint8)
            count = sum(
                int(np.count_nonzero(data[at : at + _CHUNK] == 10)) for at in range(0, end, _CHUNK)
            )
            del data  # the map closes only when no array holds it
            return count


def _query(paths: Sequence[Path], threads: int | None) -> pa.Table:
    """The query's table, read with the smallest buffers that hold the files' records."""
    import duckdb

    small, large = OBJECT_BYTES
    try:
        return _query_with(paths, threads, small)
    except duckdb.InvalidInputException as e:
        if "maximum_object_size" not in str(e):
            raise
    return _query_with(paths, threads, large)


def _query_with(paths: Sequence[Path], threads: int | None, object_bytes: int) -> pa.Table:
    import duckdb

    config: dict[str, Any] = {"arrow_large_buffer_size": True}  # large_string, as SCHEMA
    if threads:
        config["threads"] = threads
    with duckdb.connect(config=config) as con:
        params = [[str(p) for p in paths], object_bytes]
        return con.sql(_SELECT, params=params).to_arrow_table()


def _split(table: pa.Table, paths: Sequence[Path], lines: list[int | None]) -> dict[Path, pa.Table]:
    """Each file's rows of the query's table, typed once for all: the files read exactly."""
    at = table.column("_file").to_numpy(zero_copy_only=False).astype(np.int64)
    if len(at) and ((np.diff(at) < 0).any() or at[0] < 0 or at[-1] >= len(paths)):
        return {}  # rows not together in the files' order
    counts = np.bincount(at, minlength=len(paths)).tolist()
    bad = {i for i, (n, want) in enumerate(zip(counts, lines, strict=True)) if n != want}
    typed, unreadable = _typed(table, at)
    bad |= unreadable  # a blank line, a changed file, numbers kept as they are
    out: dict[Path, pa.Table] = {}
    start = 0
    for i, (path, count) in enumerate(zip(paths, counts, strict=True)):
        if i not in bad:
            out[path] = typed.slice(start, count)
        start += count
    return out


def _typed(part: pa.Table, at: np.ndarray[Any, Any]) -> tuple[pa.Table, set[int]]:
    """The query's columns as `SCHEMA`, and the files (indices) not read exactly."""
    columns: dict[str, Any] = {}
    unreadable: set[int] = set()
    for name in _ROW:
        if name == "ts":
            columns[name] = _stamps(part.column("ts"), at)
        elif name in _INTS:
            columns[name], inexact = _whole(part.column(name))
            unreadable |= set(np.unique(at[inexact]).tolist())
        elif name in ("prompt_name", "prompt_version"):
            continue
        elif name == "files":
            columns[name] = _files(part.column("_files"))
        elif name == "data":
            columns[name] = _json_text(part.column("_answer"))
        elif name in _OBJECTS:
            columns[name] = _json_text(part.column(name))
        else:
            columns[name] = part.column(name)
    names, versions = _origins(part.column("_origin"))
    columns["prompt_name"], columns["prompt_version"] = names, versions
    typed = pa.table([columns[n] for n in _ROW], schema=SCHEMA)
    return typed, unreadable


def _stamps(column: pa.ChunkedArray, at: np.ndarray[Any, Any]) -> pa.ChunkedArray:
    """ISO 8601 times as UTC microseconds: Arrow's parser, pandas' for a file Arrow refuses.

    Both read what the workbench writes (`...T09:00:00.000001Z`) and offsets alike; pandas
    (as `_times`) also takes a bare date, and makes an unreadable time NaT.
    """
    stamp = pa.timestamp("us", "UTC")
    try:
        return pc.cast(column, stamp)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    parts: list[pa.Array] = []
    for begin, end in itertools.pairwise([*np.flatnonzero(np.r_[True, np.diff(at) != 0]), len(at)]):
        piece = column.slice(int(begin), int(end - begin))
        try:
            parts.append(pc.cast(piece, stamp).combine_chunks())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            parts.append(pa.array(_times(piece.to_pylist())))
    return pa.chunked_array(parts, stamp)


def _whole(column: pa.ChunkedArray) -> tuple[pa.Array, np.ndarray[Any, Any]]:
    """Whole numbers as int64, and where a value is not exact (infinite, a fraction, past 2**53).

    Such values become 0 here (their file goes the record-by-record way, which keeps them).
    """
    values = column.to_numpy(zero_copy_only=False)
    mask = np.isnan(values)
    finite = np.where(np.isfinite(values), values, 0.0)
    inexact = ~mask & (~np.isfinite(values) | (np.abs(finite) >= 2**53) | (finite % 1 != 0))
    whole = np.where(inexact, 0.0, finite).astype(np.int64)
    return pa.array(whole, mask=mask), inexact


def _json_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    return column.cast(_TEXT)


def _files(column: pa.ChunkedArray) -> pa.Array:
    """Each call's files, flattened over its messages, as JSON text (null: none)."""
    out: list[str | None] = [None] * len(column)
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
    for i in np.flatnonzero(np.nan_to_num(lengths.astype(float)) > 0):
        parts = [json.loads(f) for f in column[int(i)].as_py()]
        out[i] = json.dumps([f for part in parts for f in part or ()])
    return pa.array(out, _TEXT)


def _origins(column: pa.ChunkedArray) -> tuple[pa.Array, pa.Array]:
    valid = pc.is_valid(column).to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(valid)
    if not len(rows):
        return pa.nulls(len(column), _TEXT), pa.nulls(len(column), _TEXT)
    names: list[str | None] = [None] * len(column)
    versions: list[str | None] = [None] * len(column)
    for i in rows:
        names[i], versions[i] = _origin(json.loads(column[int(i)].as_py()))
    return _text(names), _text(versions)


def _text(values: list[Any]) -> pa.Array:
    """Strings (None: null) as pandas' `str` would hold them, made straight when all are str."""
    if all(type(v) is str for v in values if v is not None):
        return pa.array(values, _TEXT)
    return _str(values)._pa_array.combine_chunks()


def from_records(records: list[dict[str, Any]]) -> pa.Table:
    """`SCHEMA` columns of parsed records, converted exactly as `columns._Columns` does."""
    lists: list[list[Any]] = [list(v) for v in zip(*map(_row, records), strict=True)]
    lists = lists or [[] for _ in _ROW]
    arrays: list[Any] = []
    for name, values in zip(_ROW, lists, strict=True):
        if name == "ts":
            arrays.append(pa.array(_times(values)))
        elif name in _INTS:
            arrays.append(pa.array(_ints(values, name)))  # NotWhole: the caller names the line
        elif name in _FLOATS:
            arrays.append(pa.array(_floats(values)))
        elif name == "ok":
            arrays.append(pa.array(pd.array(values, dtype="boolean")))
        elif name in _OBJECTS:
            empty = name in _EMPTY_LIST
            arrays.append(pa.array([_dumps(v, empty) for v in values], _TEXT))
        else:  # strings and categories: as pandas would make them strings
            arrays.append(_str(values)._pa_array.combine_chunks())
    return pa.Table.from_arrays(
        [a.cast(f.type) for a, f in zip(arrays, SCHEMA, strict=True)], schema=SCHEMA
    )


def _dumps(value: Any, empty_list: bool) -> str | None:
    if value is None or (empty_list and value == []):
        return None
    return json.dumps(value, ensure_ascii=False)
