"""The lab notebook as a pandas DataFrame: one tidy row per record, with filters and pivots.

`load_records(files)` (from `workbench.labbook.parse`) reads session files fast and remembers
where each record came from; `to_frame(records, ...)` turns records (or
`LabBook.lines()` output) into one row per record, sorted by time. The frame's index is each
record's position in what was passed in, so `records[i]` is the raw record behind row `i`.
`read_frame(files, ...)` does both without keeping the records (less memory), and keeps what
it parsed from each file in the user's cache folder (see `workbench.labbook.cache`), so
the next load parses only what was appended since. Loading is read-only for the session
files: an unterminated last line (a torn tail) is skipped, never moved.

Pivots: `answers` (prompt × model), `cost_by_model_by_day` (day × model), `decisions` (the
verdicts that stand, each with the answer it names). `thread` follows a follow-up's `parent`
links back to the conversation's first turn.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from workbench.errors import InvalidOption, NotRecorded
from workbench.labbook import arrowframe, columnar
from workbench.labbook import cache as cached
from workbench.labbook.columns import COLUMNS as COLUMNS  # re-exported: the frame's columns
from workbench.labbook.columns import (
    NotWhole,
    _Columns,
    _times,
    not_whole,
)
from workbench.labbook.parse import RecordList as RecordList  # re-exported
from workbench.labbook.parse import gc_paused, parse_records, read_records
from workbench.labbook.parse import load_records as load_records  # re-exported
from workbench.labbook.store import Line
from workbench.labbook.when import When, utc

Choice = str | Sequence[str]


BACKGROUND_BYTES = 256 * 2**20
"""Lab notebooks this big (in bytes of JSONL) get the frame before their new sidecars are
written: the writes (about as many bytes again) go on in the background."""


def read_frame(
    files: Iterable[Path],
    *,
    since: When | None = None,
    until: When | None = None,
    model: Choice | None = None,
    tag: Choice | None = None,
    session: Choice | None = None,
    kind: Choice | None = None,
    cache: bool = True,
) -> pd.DataFrame:
    """`to_frame(load_records(files), ...)` in less memory: the records are not kept.

    The rows are taken from each file's records while they are fresh, then let go; with
    `cache`, what each file gave is kept in the user's cache folder for the next load.
    """
    paths = list(files)
    with gc_paused():
        if cache:
            big = sum(path.stat().st_size for path in paths) >= BACKGROUND_BYTES
            with cached.Writes(background=big) as writes:  # sidecars written as the frame is made
                frame = _cached_frame(paths, writes)
        else:
            columns = _Columns()
            for path in paths:
                batch = read_records(path)
                columns.add(batch, [str(path)] * len(batch), range(1, len(batch) + 1))
            frame = columns.frame(np.arange(columns.count))
    return _select(
        frame, since=since, until=until, model=model, tag=tag, session=session, kind=kind,
        ordered=cache,  # sorted with its table (`arrowframe.combine`, `arrowframe.extend`)
    )  # fmt: skip


def _cached_frame(paths: Sequence[Path], writes: cached.Writes) -> pd.DataFrame:
    """The frame of the files' cached table; built while the files are hashed, when it can be.

    The usual load finds the sorted table it kept last time: its frame is made (Python
    objects, on this core) while the files are hashed (on the others), then kept only if
    the files hash as the table says. Otherwise the table is found or made by their keys.
    """
    cached.Writes.settle()  # what an earlier load is still writing is read, not made again
    names = [str(path) for path in paths]
    with ThreadPoolExecutor(1, thread_name_prefix="workbench-hash") as pool:
        hashing = pool.submit(cached.keys_of, paths)
        guess = cached.likely(paths, arrowframe.SORTED)
        frame = arrowframe.frame(guess[0], names) if guess is not None else None
        keys = hashing.result()
    if frame is not None and guess is not None and guess[1] == keys:
        return frame
    made: list[pd.DataFrame] = []  # the frame, when the table is sorted here (made with it)
    table = read_table(paths, writes, keys, made)
    return made[0] if made else arrowframe.frame(table, names)


def read_table(
    paths: Sequence[Path],
    writes: cached.Writes | None = None,
    keys: Sequence[cached.Key] | None = None,
    made: list[pd.DataFrame] | None = None,
) -> pa.Table:
    """The files' records as one Arrow table (`arrowframe.SORTED`), in the frame's order.

    Each file's columns come from its sidecar while the file hashes the same, else from
    DuckDB (or record by record); the sorted whole is kept too (see `workbench.labbook.cache`).
    `keys`: the files' keys, when the caller has just made them. With `made`, a table
    sorted here gets its frame made with it (`arrowframe.combined_frame`), put in `made`.
    """
    cached.Writes.settle()  # what an earlier load is still writing is read, not made again
    keys = list(keys) if keys is not None else cached.keys_of(paths)
    table = cached.kept(paths, keys, arrowframe.SORTED)
    if table is not None:  # the usual case: every file hashed, one sidecar mapped
        return table
    tables, keys = cached.tables(paths, _table, _tables, columnar.SCHEMA, writes, keys)

    def build() -> pa.Table:
        if made is None:
            return arrowframe.combine(tables)
        table, frame = arrowframe.combined_frame(tables, [str(path) for path in paths])
        made.append(frame)
        return table

    return cached.combined(paths, keys, tables, build, arrowframe.extend, arrowframe.SORTED, writes)


def _table(path: Path, lines: bytes, first: int) -> pa.Table:
    """The columnar table of complete lines (each with its newline), parsed record by record."""
    try:
        return columnar.from_records(parse_records(path, lines[:-1], first) if lines else [])
    except NotWhole as e:  # a count that is not a whole number: its line is named
        raise not_whole(e, path, first + e.at) from None


def _tables(paths: Sequence[Path], keys: dict[Path, cached.Key]) -> dict[Path, pa.Table]:
    """The files DuckDB reads exactly, as tables (the others go through `_table`)."""
    return columnar.read_tables(paths, {path: keys[path].end for path in paths})


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
    with gc_paused():
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
    ordered: bool = False,
) -> pd.DataFrame:
    """The frame in time order (unless already `ordered`), then filtered.

    Ties are broken by `seq` (a session record shares its first record's time), then kept in
    the order given.
    """
    stamps = frame["ts"].to_numpy(dtype="datetime64[us]")
    if not ordered:
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
        keep &= ts >= np.datetime64(utc(since), "us")
    if until is not None:
        keep &= ts <= np.datetime64(utc(until, end=True), "us")
    return keep


def _many(value: Choice) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _about(frame: pd.DataFrame, ids: set[str]) -> np.ndarray[Any, np.dtype[np.bool_]]:
    """Which rows link to any of `ids` (the decisions and notes about those records)."""
    links = frame["links"]
    return np.array([bool(on) and not ids.isdisjoint(on) for on in links], dtype=bool)


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


def decisions(frame: pd.DataFrame, *, latest: bool = True) -> pd.DataFrame:
    """One row per decision: the verdict, the answer it names and the answers it judged.

    `model`, `text`, `call`... are of the answer chosen (the pick, the better one, the one
    rejected or rated; none for a tie or both-bad); `judged` lists the models of every answer
    linked, `calls` their records. With `latest` (the default) only the verdicts that stand
    are kept: a decision is dropped when a later one supersedes it (`supersedes`), or when a
    later one of its kind judges the same answers (one pick per comparison, one rating or
    reject per answer, one verdict per pair) as the panel records them.
    """
    judged = frame[frame["kind"] == "decision"]
    rows = judged[
        ["id", "ts", "author", "verdict", "score", "choice", "reason", "tags", "links",
         "supersedes"]
    ].rename(columns={"id": "decision", "links": "calls"})  # fmt: skip
    if latest:
        rows = rows[~rows["decision"].isin(_replaced(rows))]
    calls = frame[frame["kind"] == "call"]
    models = dict(zip(calls["id"], calls["model"].astype(str), strict=True))
    one = [
        c if isinstance(c, str) else (links[0] if len(links) == 1 else None)
        for c, links in zip(rows["choice"], rows["calls"], strict=True)
    ]
    rows = rows.assign(
        call=pd.array(one, dtype="string"),
        judged=pd.Series(
            [[models.get(x, "?") for x in links] for links in rows["calls"]],
            index=rows.index,
            dtype=object,
        ),
    ).drop(columns="choice")
    chosen = calls[["id", "model", "resolved", "prompt", "text", "ok", "cost_usd", "hash"]]
    chosen = chosen.rename(columns={"id": "call", "hash": "call_hash"})
    chosen = chosen.assign(
        model=chosen["model"].astype("str"),
        resolved=chosen["resolved"].astype("str"),
        call=chosen["call"].astype("string"),
    )
    out = rows.merge(chosen, on="call", how="left").reset_index(drop=True)
    order = ["decision", "ts", "author", "verdict", "score", "model", "judged", "reason",
             "tags", "prompt", "text", "ok", "cost_usd", "resolved", "call", "call_hash",
             "calls", "supersedes"]  # fmt: skip
    return out[order]


def _replaced(rows: pd.DataFrame) -> set[str]:
    """The decisions that a later one supersedes, by name or by judging the same answers."""
    gone = {s for s in rows["supersedes"] if isinstance(s, str)}
    standing: dict[tuple[Any, ...], str] = {}
    for rid, verdict, links in zip(rows["decision"], rows["verdict"], rows["calls"], strict=True):
        key: tuple[Any, ...] | None = None
        if verdict == "pick":
            key = ("pick", frozenset(links))
        elif verdict in ("reject", "rating") and len(links) == 1:
            key = (verdict, links[0])
        elif verdict in ("better", "tie", "both-bad") and len(links) == 2:
            key = ("pair", frozenset(links))
        if key is not None:
            if key in standing:
                gone.add(standing[key])
            standing[key] = rid
    return gone


def thread(frame: pd.DataFrame, record_id: str) -> pd.DataFrame:
    """The conversation that ends at `record_id`, first turn first: its `parent` links followed.

    `record_id` is a record's id or its last characters (`workbench log` shows the last 8).
    A parent missing from `frame` ends the walk: the thread starts at the earliest found.
    """
    ids = frame["id"].astype(object).to_numpy()
    wanted = record_id.strip().upper()
    found = [i for i, rid in enumerate(ids) if isinstance(rid, str) and rid.endswith(wanted)]
    if not wanted or not found:
        raise NotRecorded(f"no record {record_id!r} in the lab notebook: `workbench log` lists ids")
    if len(found) > 1:
        raise InvalidOption(f"{record_id!r} matches {len(found)} records: give more characters")
    at = {rid: i for i, rid in enumerate(ids)}
    parents = frame["parent"].astype(object).to_numpy()
    chain = [found[0]]
    while isinstance(parents[chain[-1]], str) and parents[chain[-1]] in at:
        step = at[parents[chain[-1]]]
        if step in chain:  # a loop cannot be made by appending, but records can be edited
            break
        chain.append(step)
    return frame.iloc[chain[::-1]]
