"""Terminal views: a live side-by-side table that fills as answers stream in."""

from __future__ import annotations

import threading
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table

from workbench.comparison import Comparison
from workbench.errors import ProviderError
from workbench.options import PLAN
from workbench.providers.base import Reply
from workbench.render import reply_panel
from workbench.run import Job, Listener
from workbench.sessions import session

TAIL_CHARS = 3000
"""While answers stream in, each column shows at most this much of its end."""


class LiveColumns(Listener):
    """Keeps each job's text so far and draws one column per model.

    Pieces are kept in a list (joining on every piece would copy the text so far each
    time: quadratic in the answer's length), and the table is drawn only when the `Live`
    display refreshes (a few times a second), showing the tail of each text, so streaming
    costs the same per piece however long the answer grows.
    """

    def __init__(self, labels: list[str]) -> None:
        self.labels = labels
        self.pieces: dict[Job, list[str]] = {}
        self.done: dict[Job, Reply] = {}
        self.status: dict[Job, str] = {}
        self._lock = threading.Lock()  # Live draws from its own thread

    def started(self, job: Job) -> None:
        """Show the job as waiting."""
        with self._lock:
            self.pieces[job] = []
            self.status[job] = "waiting…"

    def text(self, job: Job, piece: str) -> None:
        """Add a piece to the job's column."""
        with self._lock:
            self.pieces.setdefault(job, []).append(piece)

    def retrying(self, job: Job, error: ProviderError, wait_s: float) -> None:
        """Clear the job's text and say why it waits."""
        with self._lock:
            self.pieces[job] = []
            self.status[job] = f"{type(error).__name__}; retrying in {wait_s:.1f} s"

    def finished(self, job: Job, reply: Reply) -> None:
        """Show the final reply."""
        with self._lock:
            self.done[job] = reply

    def so_far(self, job: Job) -> str:
        """The job's text as it has streamed in."""
        with self._lock:
            return "".join(self.pieces.get(job, ()))

    def render(self, tail: int | None = None) -> RenderableType:
        """The table of columns as it stands; `tail` cuts texts still streaming to their end."""
        rows: list[tuple[Job, Reply | None, str | None]] = []
        with self._lock:  # only the tails are read here: no copy of whole texts per draw
            for job, pieces in self.pieces.items():
                done = self.done.get(job)
                rows.append((job, done, None if done else _tail(pieces, tail) or self.status[job]))
        table = Table.grid(expand=True, padding=(0, 1))
        for _ in self.labels:
            table.add_column(ratio=1)
        cells: list[list[RenderableType]] = [[] for _ in self.labels]
        for job, done, so_far in rows:
            column = self.labels.index(job.spec.label)
            reply = done or Reply(job.spec.label, job.spec.full_name)
            cells[column].append(reply_panel(reply, so_far))
        table.add_row(*(Group(*c) for c in cells))
        return table

    def __rich__(self) -> RenderableType:
        """What `Live` draws at each refresh."""
        return self.render(tail=TAIL_CHARS)


def _tail(pieces: list[str], limit: int | None) -> str:
    """The pieces joined, or only their last `limit` characters (from the end: no full join)."""
    if limit is None:
        return "".join(pieces)
    kept: list[str] = []
    size = 0
    for piece in reversed(pieces):
        if size >= limit:
            return "…" + "".join(reversed(kept))[-limit:]
        kept.append(piece)
        size += len(piece)
    return "".join(reversed(kept))


def run_compare(
    prompt: str,
    models: list[str] | None,
    *,
    live: bool,
    show: bool = True,
    max_calls: int | None = None,
    after: Comparison | None = None,
    **options: Any,
) -> Comparison:
    """Compare in the terminal: streamed into a live table on a tty, printed once otherwise.

    With `show=False` nothing is printed (the CLI's --json keeps stdout for JSON); with
    `after`, each model of that comparison continues its own conversation with `prompt`.
    """
    wb = session()
    if after is not None:  # a follow-up: each model's own conversation, one turn longer
        _, labels, _ = wb.plan_follow_up(after, prompt, files=options.get("files"))

        # The conversation keeps its own settings: only files and how to run are given.
        kept = {k: v for k, v in options.items() if k == "files" or k not in PLAN}
        follow = {k: v for k, v in kept.items() if v is not None}

        def send(view: LiveColumns) -> Comparison:
            return wb.follow_up(after, prompt, listener=view, **follow)

    else:
        names = models or wb.default_models()
        options["max_calls"] = max_calls  # checked by plan before any job is built
        samples = options.get("samples", 1)
        _, labels, _ = wb.plan(
            prompt, names, system=options.get("system"), samples=samples, max_calls=max_calls
        )

        def send(view: LiveColumns) -> Comparison:
            return wb.compare(prompt, labels, listener=view, **options)

    view = LiveColumns(labels)
    if not show:
        return send(view)
    console = Console()
    if live:
        with Live(view, console=console, refresh_per_second=8) as display:
            comparison = send(view)
            display.update(view.render())  # the whole answers, once
    else:
        comparison = send(view)
        console.print(view.render())
    return comparison


def models_table(rows: list[dict[str, Any]]) -> None:
    """Print aliases and providers with their key status."""
    table = Table(title="Models (aliases, then providers: use provider:model)")
    for col in ("name", "model", "key", "ready"):
        table.add_column(col)
    for row in rows:
        ready = "[green]yes[/]" if row["ready"] else f"[red]no: set {row['key']}[/]"
        table.add_row(row["name"], row["model"], row["key"], ready)
    Console().print(table)
