"""Terminal views: a live side-by-side table that fills as answers stream in."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table

from workbench.comparison import Comparison
from workbench.errors import ProviderError, RunTooLarge
from workbench.models.base import Reply
from workbench.render import reply_panel
from workbench.run import Job, Listener
from workbench.session import session


class LiveColumns(Listener):
    """Keeps each job's text so far and redraws one column per model."""

    def __init__(self, labels: list[str]) -> None:
        self.labels = labels
        self.so_far: dict[Job, str] = {}
        self.done: dict[Job, Reply] = {}
        self.status: dict[Job, str] = {}
        self.live: Live | None = None

    def started(self, job: Job) -> None:
        """Show the job as waiting."""
        self.so_far[job] = ""
        self.status[job] = "waiting…"
        self._refresh()

    def text(self, job: Job, piece: str) -> None:
        """Add a piece to the job's column."""
        self.so_far[job] = self.so_far.get(job, "") + piece
        self._refresh()

    def retrying(self, job: Job, error: ProviderError, wait_s: float) -> None:
        """Clear the job's text and say why it waits."""
        self.so_far[job] = ""
        self.status[job] = f"{type(error).__name__}; retrying in {wait_s:.1f} s"
        self._refresh()

    def finished(self, job: Job, reply: Reply) -> None:
        """Show the final reply."""
        self.done[job] = reply
        self._refresh()

    def render(self) -> RenderableType:
        """The table of columns as it stands."""
        table = Table.grid(expand=True, padding=(0, 1))
        for _ in self.labels:
            table.add_column(ratio=1)
        cells: list[list[RenderableType]] = [[] for _ in self.labels]
        for job in self.so_far:
            column = self.labels.index(job.spec.label)
            reply = self.done.get(job) or Reply(job.spec.label, job.spec.full_name)
            shown = None if job in self.done else (self.so_far[job] or self.status[job])
            cells[column].append(reply_panel(reply, shown))
        table.add_row(*(Group(*c) for c in cells))
        return table

    def _refresh(self) -> None:
        if self.live is not None:
            self.live.update(self.render())


def run_compare(
    prompt: str,
    models: list[str] | None,
    *,
    live: bool,
    show: bool = True,
    max_calls: int | None = None,
    **options: Any,
) -> Comparison:
    """Compare in the terminal: streamed into a live table on a tty, printed once otherwise.

    With `show=False` nothing is printed (the CLI's --json keeps stdout for JSON).
    """
    wb = session()
    names = models or wb.default_models()
    # The bound, checked before any job is built: a million jobs would fill the memory.
    # TODO(lead): once Session.plan takes max_calls, pass it to plan/compare instead.
    limit = max_calls if max_calls is not None else wb.config.run.max_calls
    calls = len(names) * options.get("samples", 1)
    if calls > limit:
        raise RunTooLarge(calls, limit)
    _, labels, _ = wb.plan(prompt, names, system=options.get("system"))
    view = LiveColumns(labels)
    if not show:
        return wb.compare(prompt, labels, listener=view, **options)
    console = Console()
    if live:
        with Live(view.render(), console=console, refresh_per_second=8) as display:
            view.live = display
            comparison = wb.compare(prompt, labels, listener=view, **options)
            view.live = None
            display.update(view.render())
    else:
        comparison = wb.compare(prompt, labels, listener=view, **options)
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
