"""The lab notebook as a pandas DataFrame: one tidy row per record, with filters and pivots.

`load_records(files)` reads session files fast (one `json.loads` per file, no per-row pandas
work) and remembers where each record came from; `to_frame(records, ...)` turns records (or
`LabBook.lines()` output) into one row per record, sorted by time. The frame's index is each
record's position in what was passed in, so `records[i]` is the raw record behind row `i`.
`read_frame(files, ...)` does both without keeping the records (less memory). Loading is
read-only: an unterminated last line (a torn tail) is skipped, never moved.

Pivots: `answers` (prompt × model), `cost_by_model_by_day` (day × model), `decisions` (each
verdict joined to the calls it judged).
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from workbench.labbook.store import CorruptLine, Line

COLUMNS = (
    "id", "ts", "day", "kind", "session", "seq", "author", "source", "repo_head",
    "model", "resolved", "request_hash", "prompt", "system", "params", "text", "ok",
    "error_type", "error", "input_tokens", "output_tokens", "cost_usd", "latency_s",
    "first_token_s", "finish_reason", "model_version", "attempts", "links", "tags",
    "verdict", "choice", "reason", "note", "hash", "file", "line",
)  # fmt: skip

When = str | date | datetime
Choice = str | Sequence[str]

_ROW = COLUMNS[:2] + COLUMNS[3:-2]
"""The columns `_row` reads from a record (`day` is derived, `file` and `line` are known)."""
_CATEGORIES = ("kind", "session", "model", "resolved")
_INTS = ("seq", "input_tokens", "output_tokens", "attempts")
_FLOATS = ("cost_usd", "latency_s", "first_token_s")
_OTHERS = ("ts", "day", "params", "ok", "links", "tags", "file", "line")
_STRINGS = tuple(c for c in COLUMNS if c not in (*_CATEGORIES, *_INTS, *_FLOATS, *_OTHERS))
_EMPTY: dict[str, Any] = {}
_REASONED = ("decision", "pause")


class RecordList(list[dict[str, Any]]):
    """Records as `load_records` read them, with the file and line number of each."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []
        self.numbers: list[int] = []


def load_records(files: Iterable[Path]) -> RecordList:
    """Every record of every file, in file order, remembering each one's file and line."""
    out = RecordList()
    with _gc_paused():
        for path in files:
            batch = _read(path)
            out.extend(batch)
            out.paths.extend([str(path)] * len(batch))
            out.numbers.extend(range(1, len(batch) + 1))
    return out


def read_frame(
    files: Iterable[Path],
    *,
    since: When | None = None,
    until: When | None = None,
    model: Choice | None = None,
    tag: Choice | None = None,
    session: Choice | None = None,
    kind: Choice | None = None,
) -> pd.DataFrame:
    """`to_frame(load_records(files), ...)` in less memory: the records are not kept.

    The rows are taken from each file's records while they are fresh, then let go.
    """
    columns = _Columns()
    with _gc_paused():
        for path in files:
            batch = _read(path)
            columns.add(batch, [str(path)] * len(batch), range(1, len(batch) + 1))
        frame = columns.frame(np.arange(columns.count))
    return _select(
        frame, since=since, until=until, model=model, tag=tag, session=session, kind=kind
    )


def _read(path: Path) -> list[dict[str, Any]]:
    """One file's records; an unterminated last line (a torn tail) is not data.

    The lines are parsed by one `json.loads` of them joined into an array (far faster than a
    call per line, since keys are shared); a file that fails is parsed again line by line to
    name the bad line in a `CorruptLine`.
    """
    data = path.read_bytes()
    end = data.rfind(b"\n")
    if end < 0:
        return []
    body = data[:end]
    try:
        batch = json.loads(b"[" + body.replace(b"\n", b",") + b"]")
    except ValueError:
        batch = None
    if (
        type(batch) is not list
        or len(batch) != body.count(b"\n") + 1
        or not all(type(r) is dict for r in batch)
    ):
        return _parse_lines(path, body)
    return cast(list[dict[str, Any]], batch)


def _parse_lines(path: Path, body: bytes) -> list[dict[str, Any]]:
    records = []
    for number, raw in enumerate(body.split(b"\n"), start=1):
        try:
            record = json.loads(raw)
        except ValueError as e:
            raise CorruptLine(path, number, f"not JSON ({e})") from None
        if not isinstance(record, dict):
            raise CorruptLine(path, number, "not a JSON object")
        records.append(record)
    return records


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC: it would rescan millions of fresh dicts, none of them garbage."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def to_frame(
    records: Iterable[dict[str, Any] | Line],
    *,
    since: When | None = None,
    until: When | None = None,
    model: Choice | None = None,
    tag: Choice | None = None,
    session: Choice | None = None,
    kind: Choice | None = None,
) -> pd.DataFrame:
    """One row per record, in time order, optionally filtered; indexed by position in `records`.

    `since`/`until` take a date (the whole day counts), a datetime (naive means UTC) or an
    ISO string of either; both ends are inclusive. `model`, `tag`, `session` and `kind` take
    one value or a list. `model` matches the name asked for or the resolved one, and keeps
    the decisions and notes about the matching calls; `tag` keeps the tagged records and the
    records a tagged decision or note is about.
    """
    recs, paths, numbers = _unpack(records)
    positions = np.arange(len(recs))
    with _gc_paused():
        if since is not None or until is not None:  # skip building rows that are not wanted
            ts = _times([r.get("ts") for r in recs]).to_numpy(dtype="datetime64[us]")
            positions = positions[_within(ts, since, until)]
            recs = [recs[i] for i in positions]
            paths = [paths[i] for i in positions]
            numbers = [numbers[i] for i in positions]
        columns = _Columns()
        for at in range(0, len(recs), 4096):
            columns.add(recs[at : at + 4096], paths[at : at + 4096], numbers[at : at + 4096])
        frame = columns.frame(positions)
    return _select(
        frame, since=since, until=until, model=model, tag=tag, session=session, kind=kind
    )


def _unpack(
    records: Iterable[dict[str, Any] | Line],
) -> tuple[list[dict[str, Any]], list[str | None], list[int | None]]:
    if isinstance(records, RecordList):
        return records, list(records.paths), list(records.numbers)
    recs: list[dict[str, Any]] = []
    paths: list[str | None] = []
    numbers: list[int | None] = []
    for item in records:
        if isinstance(item, Line):
            recs.append(item.record)
            paths.append(str(item.path))
            numbers.append(item.number)
        else:
            recs.append(item)
            paths.append(None)
            numbers.append(None)
    return recs, paths, numbers


def _select(
    frame: pd.DataFrame,
    *,
    since: When | None = None,
    until: When | None = None,
    model: Choice | None = None,
    tag: Choice | None = None,
    session: Choice | None = None,
    kind: Choice | None = None,
) -> pd.DataFrame:
    """The frame in time order, then filtered.

    Ties are broken by `seq` (a session record shares its first record's time), then kept in
    the order given.
    """
    stamps = frame["ts"].to_numpy(dtype="datetime64[us]")
    order = np.lexsort((frame["seq"].to_numpy(dtype="int64", na_value=-1), stamps))
    if (np.diff(order) != 1).any():
        frame, stamps = frame.take(order), stamps[order]
    mask = _within(stamps, since, until)
    if session is not None:
        mask &= frame["session"].isin(_many(session)).to_numpy()
    if model is not None:
        names = _many(model)
        direct = (frame["model"].isin(names) | frame["resolved"].isin(names)).to_numpy()
        mask &= direct | _about(frame, set(frame["id"][direct]))
    if tag is not None:
        tags = set(_many(tag))
        tagged = np.array([bool(t) and not tags.isdisjoint(t) for t in frame["tags"]], dtype=bool)
        judged = {i for links in frame["links"][tagged] for i in links}
        mask &= tagged | frame["id"].isin(judged).to_numpy()
    if kind is not None:
        mask &= frame["kind"].isin(_many(kind)).to_numpy()
    return frame if mask.all() else frame[mask]


def _within(
    ts: np.ndarray[Any, Any], since: When | None, until: When | None
) -> np.ndarray[Any, np.dtype[np.bool_]]:
    keep = np.ones(len(ts), dtype=bool)
    if since is not None:
        keep &= ts >= _bound(since, end=False)
    if until is not None:
        keep &= ts <= _bound(until, end=True)
    return keep


def _many(value: Choice) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _bound(value: When, *, end: bool) -> np.datetime64:
    """A since/until bound as naive UTC microseconds; a date means the whole day."""
    if isinstance(value, str):
        text = value.strip()
        value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
    if not isinstance(value, datetime):
        value = datetime.combine(value, time.min) + timedelta(days=1, microseconds=-1) * end
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return np.datetime64(value, "us")


def _about(frame: pd.DataFrame, ids: set[str]) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Which rows link to any of `ids` (the decisions and notes about those records)."""
    links = frame["links"]
    return np.array([bool(on) and not ids.isdisjoint(on) for on in links], dtype=bool)


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
        r.get("request_hash"),
        m[-1].get("content") if m and m[-1].get("role") == "user" else _last_user(m),
        (m[0].get("content") if len(m) < 3 else _system(m)) if system else None,
        prompt.get("params") if call else None,
        reply.get("text"), (not error) if call else None, error.get("type"), error.get("message"),
        usage.get("input_tokens"), usage.get("output_tokens"),
        reply.get("cost_usd"), reply.get("latency_s"), reply.get("first_token_s"),
        reply.get("finish_reason"), reply.get("model_version"), reply.get("attempts"),
        r.get("links") or [], r.get("tags") or [],
        data.get("verdict") if decision else None, data.get("choice") if decision else None,
        data.get("reason") if kind in _REASONED else None, data.get("text") if note else None,
        r.get("hash"),
    )  # fmt: skip


def _last_user(messages: Sequence[dict[str, Any]]) -> str | None:
    return next((m.get("content") for m in reversed(messages) if m.get("role") == "user"), None)


def _system(messages: Sequence[dict[str, Any]]) -> str | None:
    parts = [m.get("content") or "" for m in messages if m.get("role") == "system"]
    return "\n\n".join(parts) if parts else None


class _Columns:
    """Column lists filled a batch of records at a time, then made into one frame."""

    def __init__(self) -> None:
        self.lists: list[list[Any]] = [[] for _ in _ROW]
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

    def frame(self, index: np.ndarray[Any, Any]) -> pd.DataFrame:
        v = dict(zip(_ROW, self.lists, strict=True))
        ts = _times(v["ts"])
        uniq, codes = np.unique(
            ts.to_numpy(dtype="datetime64[us]").astype("datetime64[D]"), return_inverse=True
        )
        named = ~np.isnat(uniq)  # NaT sorts last: a record without a time has no day
        days = pd.Index([d.item() for d in uniq[named]], dtype=object)
        columns: dict[str, Any] = {name: _str(v[name]) for name in _STRINGS}
        columns |= {name: _category(v[name]) for name in _CATEGORIES}
        columns |= {name: _ints(v[name]) for name in _INTS}
        columns |= {name: _floats(v[name]) for name in _FLOATS}
        columns |= {
            "ts": ts,
            "day": pd.Categorical.from_codes(np.where(named[codes], codes, -1), days, ordered=True),
            "params": v["params"],
            "ok": pd.array(v["ok"], dtype="boolean"),
            "links": v["links"],
            "tags": v["tags"],
            "file": _category(self.files),
            "line": _ints(self.lines),
        }
        frame = pd.DataFrame(columns, columns=list(COLUMNS), copy=False)
        frame.index = pd.Index(index)
        return frame


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


def _ints(values: list[Any]) -> Any:
    """Int64 (missing as NA), converted through numpy when the values allow it."""
    try:
        floats = np.array(values, dtype=float)
    except (TypeError, ValueError):
        return pd.array(values, dtype="Int64")
    missing = np.isnan(floats)
    known = floats[~missing]
    if len(known) and (np.abs(known).max() >= 2**53 or (known % 1).any()):
        return pd.array(values, dtype="Int64")
    return pd.arrays.IntegerArray(np.where(missing, 0, floats).astype(np.int64), missing)


def _floats(values: list[Any]) -> Any:
    """Float64 (missing as NA), converted through numpy when the values allow it."""
    try:
        floats = np.array(values, dtype=float)
    except (TypeError, ValueError):
        return pd.array(values, dtype="Float64")
    return pd.arrays.FloatingArray(floats, np.isnan(floats))


# -- pivots ------------------------------------------------------------------------------------


def answers(frame: pd.DataFrame) -> pd.DataFrame:
    """Prompt × model: the text of the latest successful reply to each prompt from each model."""
    calls = frame[(frame["kind"] == "call") & frame["ok"].fillna(False).astype(bool)]
    latest = calls.sort_values("ts", kind="stable").drop_duplicates(
        ["prompt", "model"], keep="last"
    )
    latest = latest.assign(model=latest["model"].astype("str"))
    table = latest.pivot(index="prompt", columns="model", values="text")
    table.columns.name = "model"
    return table


def cost_by_model_by_day(frame: pd.DataFrame) -> pd.DataFrame:
    """Day × model: the summed known cost (USD) of the calls; 0 where there were none."""
    calls = frame[frame["kind"] == "call"]
    costs = calls.assign(model=calls["model"].astype("str"), day=calls["day"].astype(object))
    table = costs.groupby(["day", "model"])["cost_usd"].sum().unstack("model", fill_value=0)
    return table.astype("Float64")


def decisions(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per decision and call it judged: the verdict, the call, and whether it was chosen."""
    judged = frame[frame["kind"] == "decision"]
    rows = judged[["id", "ts", "author", "verdict", "choice", "reason", "tags", "links"]]
    rows = rows.rename(columns={"id": "decision", "links": "call"}).explode("call")
    rows = rows.assign(call=rows["call"].astype("str"))
    calls = frame[frame["kind"] == "call"]
    calls = calls[["id", "model", "resolved", "prompt", "text", "ok", "cost_usd", "hash"]].rename(
        columns={"id": "call", "hash": "call_hash"}
    )
    calls = calls.assign(
        model=calls["model"].astype("str"), resolved=calls["resolved"].astype("str")
    )
    out = rows.merge(calls, on="call", how="left").reset_index(drop=True)
    out["chosen"] = (out["call"] == out["choice"]).fillna(False).astype(bool)
    return out
