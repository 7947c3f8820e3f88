"""`wb.log`: the lab notebook from Python, as DataFrames, pivots, an export and a verify report.

    import workbench as wb
    wb.log.to_frame(model="local", since="2026-11-01")   # one row per record
    wb.log.answers()                                     # prompt x model
    wb.log.cost_by_model_by_day()
    wb.log.thread(cmp.record_ids[0])                     # a follow-up's whole conversation
    wb.log.export("md", "record.md", since="2026-11-01")
    wb.log.commit()                                      # commit now (else within seconds)
    wb.log.brief(model="claude", since="2026-11-01")     # what claude did here, for a prompt
    wb.log.sql("select model, avg(latency_s) from records group by model")   # DuckDB SQL

Every function reads the session's lab notebook (see `workbench.labbook.locate`); each call
re-reads the files, so the frames include what other processes appended.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from workbench.labbook.git import GitSync
    from workbench.labbook.leaderboard import Leaderboard
    from workbench.labbook.query import RecordList
    from workbench.labbook.verify import VerifyReport

__all__ = [
    "answers",
    "brief",
    "commit",
    "cost_by_model_by_day",
    "decisions",
    "export",
    "first_commits",
    "history",
    "leaderboard",
    "root",
    "sql",
    "thread",
    "to_frame",
    "verify",
]


def root() -> Path:
    """The folder of the current session's lab notebook."""
    from workbench.labbook import locate
    from workbench.sessions import session

    book = session().labbook
    return book.root if book is not None else locate(session().config)


def commit(message: str | None = None) -> str | None:
    """Commit the session's records now; the commit's id (None: nothing new, or no git).

    Without it they are committed in the background within seconds, and at exit.
    """
    from workbench.sessions import session

    book = session().labbook
    return None if book is None else book.commit(message)


def to_frame(**filters: Any) -> pd.DataFrame:
    """One row per record; filters: since, until, model, tag, session, kind (one or a list)."""
    from workbench.labbook.book import files_between
    from workbench.labbook.query import read_frame
    from workbench.labbook.when import day

    days = day(filters.get("since")), day(filters.get("until"))
    return read_frame(files_between(root(), *days), **filters)


def sql(query: str) -> pd.DataFrame:
    """Run a DuckDB SQL query over the lab notebook: one row per record in the table `records`.

    `wb.log.sql("select model, avg(latency_s) from records where kind = 'call' group by model")`
    """
    from workbench.labbook.book import files
    from workbench.labbook.sql import sql as run

    return run(query, files(root()))


def brief(
    model: str,
    since: str | None = None,
    *,
    roles: Sequence[str] = (),
    limit: int | None = None,
) -> str:
    """What `model` did in this repository, as a short memo to paste into a prompt.

    Its calls, the workflow steps they made, decisions and notes on its answers (from the lab
    notebook, `since` a day or time), and from the desk what it holds, what waits for it (or
    for its `roles`) and what it finished. See `workbench.brief`.
    """
    from workbench.brief import LIMIT
    from workbench.brief import brief as write

    return write(model, since=since, roles=roles, labbook=root(), limit=limit or LIMIT)


def answers(**filters: Any) -> pd.DataFrame:
    """Prompt x model: the latest successful answer of each model to each prompt."""
    from workbench.labbook import query

    return query.answers(to_frame(**filters))


def cost_by_model_by_day(**filters: Any) -> pd.DataFrame:
    """Day x model: the summed cost in USD."""
    from workbench.labbook import query

    return query.cost_by_model_by_day(to_frame(**filters))


def decisions(**filters: Any) -> pd.DataFrame:
    """One row per decision and the call it judged, with whether that call was chosen."""
    from workbench.labbook import query

    return query.decisions(to_frame(**filters))


def leaderboard(
    *,
    tag: str | Sequence[str] | None = None,
    since: str | None = None,
    until: str | None = None,
    by: str | None = None,
) -> Leaderboard:
    """Your preferences as a Bradley-Terry leaderboard: `.table` (a DataFrame), `.plot()`.

    Every pick, reject, better, tie and rating in the lab notebook (filtered by the
    decisions' `tag` and the time they were made) compares the models whose answers it
    judged; `by="tag"`, `"month"` or `"week"` fits one table per group. What each verdict
    counts as, and what the strengths mean: `workbench.labbook.leaderboard`.
    """
    from workbench.labbook.book import files
    from workbench.labbook.leaderboard import leaderboard as board
    from workbench.labbook.query import read_frame

    frame = read_frame(files(root()), kind=["decision", "call"])
    return board(frame, tag=tag, since=since, until=until, by=by)


def thread(record_id: str) -> pd.DataFrame:
    """The conversation ending at `record_id` (an id or its last characters), first turn first.

    Each follow-up's record names the one it follows (`parent`); the frame has one row per
    turn, as `to_frame` has them.
    """
    from workbench.labbook import query
    from workbench.labbook.book import files
    from workbench.labbook.query import read_frame

    return query.thread(read_frame(files(root()), kind="call"), record_id)


def export(
    fmt: str = "md",
    path: str | Path | None = None,
    *,
    since: str | None = None,
    until: str | None = None,
    model: Sequence[str] | None = None,
    tag: Sequence[str] | None = None,
    folder: Path | None = None,
) -> str:
    """The dated record as md, html, jsonl or csv text; also written to `path` when given.

    `folder` is the lab notebook to export (default: the current session's). Files sent
    with prompts are linked relative to `path` (else to the working directory).
    """
    import os

    from workbench.export import export as render
    from workbench.labbook.book import files_between
    from workbench.labbook.filestore import FOLDER
    from workbench.labbook.query import load_records
    from workbench.labbook.when import day

    folder = folder or root()
    seen_from = Path(path).parent if path is not None else Path.cwd()
    files_href = os.path.relpath((folder / FOLDER).resolve(), seen_from.resolve())
    records = load_records(files_between(folder, day(since), day(until)))
    text = render(
        records,
        fmt,
        since=since,
        until=until,
        model=list(model) if model else None,
        tag=list(tag) if tag else None,
        first_commits=first_commits(records, folder),
        files_href=Path(files_href).as_posix(),
    )
    if path is not None:
        Path(path).write_text(text, encoding="utf-8")
    return text


def verify(folder: Path | None = None) -> VerifyReport:
    """Re-check every chain (and what git committed); `.ok`, `.summary()`, `.problems`.

    `folder` is the lab notebook to check (default: the current session's).
    """
    from workbench.labbook.book import files
    from workbench.labbook.verify import verify as check

    folder = folder or root()
    git = history(folder)
    try:
        return check(files(folder), git)
    finally:
        if git is not None:
            git.close()


def history(folder: Path) -> GitSync | None:
    """The git side of a lab notebook folder (close it after use), or None without git."""
    from workbench.labbook import git_toplevel

    if not folder.is_dir() or git_toplevel(folder) is None:
        return None
    from workbench.labbook.git import GitSync

    return GitSync.open(folder, research_repo=None)


def first_commits(records: RecordList, folder: Path) -> dict[str, tuple[str, str]]:
    """Each record's hash -> the first commit (id, date) that held it; empty without git."""
    from workbench.export import commit_index

    git = history(folder)
    if git is None:
        return {}
    try:
        return commit_index(records, git)
    finally:
        git.close()
