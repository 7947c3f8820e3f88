"""Records to columns, and columns to the lab notebook's tidy DataFrame (see `query`).

`_row` picks one record's values for every column; `_Columns` gathers them a batch (or one
cached file's worth) at a time and `frame()` makes the typed frame: timestamps, categories,
nullable ints, floats and booleans, `str` strings.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import CorruptLine

COLUMNS = (
    "id", "ts", "day", "kind", "session", "seq", "author", "source", "repo_head",
    "model", "resolved", "request_hash", "parent", "prompt", "prompt_name", "prompt_version",
    "system", "params", "files",
    "text", "data", "thinking", "ok", "error_type", "error",
    "input_tokens", "output_tokens", "reasoning_tokens", "cached_input_tokens",
    "cache_write_tokens", "usage_source", "cost_usd", "latency_s", "first_token_s",
    "queued_s", "wall_s", "finish_reason", "model_version", "attempts", "links", "tags",
    "verdict", "choice", "score", "supersedes", "reason", "note", "hash", "file", "line",
)  # fmt: skip
"""The frame's columns. Of a call: `parent` is the record it follows up (its thread's
previous turn); `prompt_name` and `prompt_version` the prompt file it was made from (prompts/
NAME.md) and its git blob hash, cut to 12 characters, with "-dirty" when the text sent was not
the committed one; `files` what was sent with it (name, media_type, size, sha256 of each, in
order; stored under `files/` in the lab notebook); `data` the structured answer (the JSON
value, with a schema); `thinking` the model's thinking where the provider returned it;
the token counts' parts (reasoning, cached, cache writes) and who counted (`usage_source`).
Of a decision: `verdict` (pick, reject, better, tie, both-bad, rating), `choice` (the call
chosen: the winner, the one rejected or rated), `score` (a rating, 1 to 5), `supersedes` (the
earlier decision this one replaces)."""

_ROW = COLUMNS[:2] + COLUMNS[3:-2]
"""The columns `_row` reads from a record (`day` is derived, `file` and `line` are known)."""
_CATEGORIES = ("kind", "session", "model", "resolved")
_INTS = (
    "seq", "input_tokens", "output_tokens", "reasoning_tokens", "cached_input_tokens",
    "cache_write_tokens", "attempts", "score",
)  # fmt: skip
_FLOATS = ("cost_usd", "latency_s", "first_token_s", "queued_s", "wall_s")
_OTHERS = ("ts", "day", "params", "files", "data", "ok", "links", "tags", "file", "line")
_STRINGS = tuple(c for c in COLUMNS if c not in (*_CATEGORIES, *_INTS, *_FLOATS, *_OTHERS))
_EMPTY: dict[str, Any] = {}
_REASONED = ("decision", "pause")


def _row(r: dict[str, Any]) -> tuple[Any, ...]:
    """The `_ROW` values of one record."""
    kind = r.get("kind")
    prompt = r.get("prompt") or _EMPTY
    reply = r.get("reply") or _EMPTY
    data = r.get("data") or _EMPTY
    usage = reply.get("usage") or _EMPTY
    error = reply.get("error") or _EMPTY
    author = r.get("author")
    m: Sequence[dict[str, Any]] = prompt.get("messages") or ()
    system = m and m[0].get("role") == "system"
    call, decision, note = kind == "call", kind == "decision", kind == "note"
    return (
        r.get("id"), r.get("ts"), kind, r.get("session"), r.get("seq"),
        author.get("name") if type(author) is dict else author,
        r.get("source"), r.get("repo_head"), r.get("model"), r.get("resolved"),
        r.get("request_hash"), r.get("parent"),
        m[-1].get("content") if m and m[-1].get("role") == "user" else _last_user(m),
        *_origin(prompt.get("origin")),
        (m[0].get("content") if len(m) < 3 else _system(m)) if system else None,
        prompt.get("params") if call else None,
        _files(m) if call else [],
        reply.get("text"), reply.get("data"), reply.get("thinking"),
        (not error) if call else None, error.get("type"), error.get("message"),
        usage.get("input_tokens"), usage.get("output_tokens"), usage.get("reasoning_tokens"),
        usage.get("cached_input_tokens"), usage.get("cache_write_tokens"), usage.get("source"),
        reply.get("cost_usd"), reply.get("latency_s"), reply.get("first_token_s"),
        reply.get("queued_s"), reply.get("wall_s"),
        reply.get("finish_reason"), reply.get("model_version"), reply.get("attempts"),
        r.get("links") or [], r.get("tags") or [],
        data.get("verdict") if decision else None, data.get("choice") if decision else None,
        data.get("score") if decision else None, data.get("supersedes") if decision else None,
        data.get("reason") if kind in _REASONED else None, data.get("text") if note else None,
        r.get("hash"),
    )  # fmt: skip


def _origin(origin: Any) -> tuple[str | None, str | None]:
    """(prompt_name, prompt_version) of a call made from a prompt file."""
    if type(origin) is not dict:
        return None, None
    blob = str(origin.get("blob") or "")[:12]
    return origin.get("name"), (blob + "-dirty" if origin.get("dirty") else blob) or None


def _files(messages: Sequence[dict[str, Any]]) -> list[Any]:
    """Every file named in the messages, in order."""
    return [f for m in messages if "files" in m for f in m["files"] or ()]


def _last_user(messages: Sequence[dict[str, Any]]) -> str | None:
    return next((m.get("content") for m in reversed(messages) if m.get("role") == "user"), None)


def _system(messages: Sequence[dict[str, Any]]) -> str | None:
    parts = [m.get("content") or "" for m in messages if m.get("role") == "system"]
    return "\n\n".join(parts) if parts else None


class _Columns:
    """Column lists filled a batch of records at a time, then made into one frame."""

    def __init__(self) -> None:
        self.lists: list[list[Any]] = [[] for _ in _ROW]
        self.parts: list[list[Any]] = [[] for _ in _ROW]
        """Per column, arrays already converted (from `merge`), joined by `frame`."""
        self.files: list[str | None] = []
        self.lines: list[int | None] = []
        self.count = 0

    def add(
        self, recs: list[dict[str, Any]], files: Sequence[str | None], lines: Iterable[int | None]
    ) -> None:
        rows = list(map(_row, recs))
        for target, values in zip(self.lists, zip(*rows, strict=True), strict=True) if rows else ():
            target.extend(values)
        self.files.extend(files)
        self.lines.extend(lines)
        self.count += len(rows)

    def merge(self, chunk: list[Any], path: str) -> None:
        """Add one file's `_ROW` columns from `_parse_rows` (its lines are numbered from 1)."""
        count = len(chunk[0])
        for target, part, values in zip(self.lists, self.parts, chunk, strict=True):
            if type(values) is list:
                target.extend(values)
            else:
                part.append(values)
        self.files.extend([path] * count)
        self.lines.extend(range(1, count + 1))
        self.count += count

    def frame(self, index: np.ndarray[Any, Any]) -> pd.DataFrame:
        v = dict(zip(_ROW, self.lists, strict=True))
        p = dict(zip(_ROW, self.parts, strict=True))
        ts = pd.DatetimeIndex(np.concatenate(p["ts"])).tz_localize(UTC) if p["ts"] else None
        ts = _times(v["ts"]) if ts is None else ts
        uniq, codes = np.unique(
            ts.to_numpy(dtype="datetime64[us]").astype("datetime64[D]"), return_inverse=True
        )
        named = ~np.isnat(uniq)  # NaT sorts last: a record without a time has no day
        days = pd.Index([d.item() for d in uniq[named]], dtype=object)
        columns: dict[str, Any] = {
            name: _joined(p[name]) if p[name] else _str(v[name]) for name in _STRINGS
        }
        columns |= {name: _category(v[name]) for name in _CATEGORIES}
        for name in _INTS:
            try:
                columns[name] = _joined(p[name]) if p[name] else _ints(v[name], name)
            except NotWhole as e:
                raise not_whole(e, self.files[e.at], self.lines[e.at]) from None
        columns |= {name: _joined(p[name]) if p[name] else _floats(v[name]) for name in _FLOATS}
        columns |= {
            "ts": ts,
            "day": pd.Categorical.from_codes(np.where(named[codes], codes, -1), days, ordered=True),
            "params": v["params"],
            "files": v["files"],
            "data": v["data"],
            "ok": _joined(p["ok"]) if p["ok"] else pd.array(v["ok"], dtype="boolean"),
            "links": v["links"],
            "tags": v["tags"],
            "file": _category(self.files),
            "line": _ints(self.lines),
        }
        frame = pd.DataFrame(columns, columns=list(COLUMNS), copy=False)
        frame.index = pd.Index(index)
        return frame


def _joined(parts: list[Any]) -> Any:
    """Arrays of one extension type as one (no per-value checks: each part had them)."""
    return type(parts[0])._concat_same_type(parts)


def _times(values: list[Any]) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(pd.to_datetime(values, utc=True, format="ISO8601", errors="coerce"))


def _category(values: list[Any]) -> Any:
    """A categorical with sorted categories (factorized through numpy, much faster)."""
    try:
        codes, uniques = pd.factorize(np.array(values, dtype=object), sort=True)
    except TypeError:  # values that do not sort together
        return pd.Categorical(values)
    return pd.Categorical.from_codes(codes, pd.Index(uniques, dtype="str"))


def _str(values: list[Any]) -> Any:
    return pd.array(values, dtype="str")


class NotWhole(ValueError):
    """A count that is not a whole number (a hand-edited or damaged record): where, and what."""

    def __init__(self, name: str, at: int, value: Any) -> None:
        super().__init__(f"{name} is {value!r}, not a whole number")
        self.name, self.at, self.value = name, at, value


def _ints(values: list[Any], name: str = "") -> Any:
    """Int64 (missing as NA), converted through numpy when the values allow it.

    A number that is not whole (2.5, Infinity) raises `NotWhole` for the column `name`: the
    caller names its line (`not_whole`).
    """
    try:
        floats = np.array(values, dtype=float)
    except (TypeError, ValueError, OverflowError):  # past a float's range, say: exactly
        return pd.array(values, dtype="Int64")
    missing = np.isnan(floats)
    finite = np.isfinite(floats)
    fraction = np.mod(floats, 1, where=finite, out=np.zeros_like(floats)) != 0
    bad = ~missing & (~finite | fraction)
    if bad.any():
        at = int(np.argmax(bad))
        raise NotWhole(name, at, values[at])
    known = floats[~missing]
    if len(known) and np.abs(known).max() >= 2**53:  # exact past 2**53: as Python ints
        return pd.array(values, dtype="Int64")
    return pd.arrays.IntegerArray(np.where(missing, 0, floats).astype(np.int64), missing)


def not_whole(error: NotWhole, path: object, line: int | None) -> CorruptLine:
    """The error for the record `error` found, at `path`:`line` (unknown: "a record")."""
    return CorruptLine(path if path is not None else "a record", line or 0, str(error))


def _floats(values: list[Any]) -> Any:
    """Float64 (missing as NA), converted through numpy when the values allow it."""
    try:
        floats = np.array(values, dtype=float)
    except (TypeError, ValueError):
        return pd.array(values, dtype="Float64")
    return pd.arrays.FloatingArray(floats, np.isnan(floats))
