"""The panel's widgets laid out with their CSS classes, and the views it redraws; no actions."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from workbench.widgets.columns import Column
from workbench.widgets.decisions import DecisionBar
from workbench.widgets.diff import DiffView
from workbench.widgets.history import Earlier, HistoryView, thread_html
from workbench.widgets.judge import Judge
from workbench.widgets.live import ColumnState, LiveRun
from workbench.widgets.markup import answer_html, css, verbatim

if TYPE_CHECKING:
    from pathlib import Path

    from workbench.comparison import Comparison
    from workbench.sessions import Session
    from workbench.widgets.controls import Controls


class PanelView:
    """The widgets of `Panel` (classes as its docstring's contract says) and what they show.

    Buttons are left unwired: `Panel` connects them to its actions.
    """

    def __init__(
        self, session: Session, controls: Controls, load: Callable[[Earlier], None]
    ) -> None:
        """Build and lay out the widgets; `load` brings back a comparison picked in the history."""
        import ipywidgets as w

        from workbench.widgets.keys import Shortcuts

        self.session = session
        self.controls = c = controls
        self.run_button = w.Button(description="Run", button_style="primary", icon="play")
        self.run_button.add_class("wb-run")
        self.stop_button = w.Button(description="Stop", icon="stop", disabled=True)
        self.stop_button.add_class("wb-stop")
        # HTML, not Label: a Label typesets "$1 ... $2" as LaTeX in the browser.
        self.status = w.HTML("")
        self.status.add_class("wb-status")
        self.status_text = ""
        """What the status line says, as plain text."""
        self.spend = w.HTML("")
        self.spend.add_class("wb-spend")
        self.spend_text = ""
        self.columns_box = w.HBox([])
        self.columns_box.add_class("wb-columns")
        self.summary = w.HTML("")
        self.summary.add_class("wb-summary-box")
        self.columns: list[Column] = []
        self.judge = Judge(lambda: self.columns, self._say)
        self.keys = Shortcuts(self.judge.key)
        self.recalled_text = w.HTML("")
        self.rerun_button = w.Button(
            description="rerun on these models", icon="refresh", tooltip="send it again (paid)"
        )
        self.rerun_button.add_class("wb-rerun")
        self.recalled_bar = w.HBox([self.recalled_text, self.rerun_button])
        self.recalled_bar.add_class("wb-recalled")
        self.recalled_bar.layout.display = "none"
        self.diff = DiffView()
        self.history = HistoryView(self._labbook_root, load, session.config)
        extras = w.Accordion(children=[self.history.box, self.diff.box])
        extras.set_title(0, "history: earlier comparisons")
        extras.set_title(1, "compare two answers word by word")
        ask = w.VBox([c.prompt, c.system])
        ask.add_class("wb-ask")
        top = w.HBox([ask, c.models, c.params_box])
        top.add_class("wb-top")
        buttons = w.HBox([self.run_button, self.stop_button, self.status])
        buttons.add_class("wb-bar")
        self.follow_text = w.Text(
            placeholder="follow up: each model continues its own conversation…", disabled=True
        )
        self.follow_text.add_class("wb-follow-text")
        self.follow_button = w.Button(description="Follow up", icon="reply", disabled=True)
        self.follow_button.add_class("wb-follow")
        follow = w.HBox([self.follow_text, self.follow_button])
        follow.add_class("wb-follow-bar")
        self.box: Any = w.VBox(
            [
                w.HTML(css()),
                self.keys,
                top,
                buttons,
                self.recalled_bar,
                self.columns_box,
                self.judge.arena.box,
                self.summary,
                follow,
                self.spend,
                extras,
            ]
        )
        self.box.add_class("wb-panel")
        self.live: LiveRun | None = None
        """The run shown (None: nothing run yet, or a comparison brought back)."""

    def _say(self, text: str) -> None:
        """Show `text` in the status line (safe from the loop thread: sets a trait)."""
        self.status_text = text
        self.status.value = verbatim(html.escape(text, quote=False))

    def _labbook_root(self) -> Path | None:
        book = self.session.labbook
        return book.root if book is not None else None

    def _show_columns(
        self,
        labels: list[str],
        live: LiveRun | None = None,
        states: dict[str, ColumnState] | None = None,
    ) -> None:
        """One column per model (rebuilt when the models change)."""
        states = states or (live.columns if live is not None else None)
        if [c.label for c in self.columns] != labels:
            self.columns = []
            for i, label in enumerate(labels):
                resolved = states[label].resolved if states else self._resolved(label)
                bar = DecisionBar(label, self.judge.clicked)
                self.columns.append(Column(i, label, resolved, bar))
            self.columns_box.children = [c.box for c in self.columns]
        for column in self.columns:
            column.mark_recorded(None)
            column.thread.value = ""
            if states is not None:
                column.decisions.set_samples(states[column.label].samples)
                column.show(states[column.label])
        if live is not None and live.after is not None:
            self._thread_of(live)

    def _thread_of(self, live: LiveRun) -> None:
        for column in self.columns:
            job = next((j for j in live.jobs if j.spec.label == column.label), None)
            if job is not None:
                column.thread.value = verbatim(thread_html(job.prompt.messages, answer_html))

    def _thread(self, cmp: Comparison) -> None:
        for column in self.columns:
            job = next((j for j in cmp.jobs if j.spec.label == column.label), None)
            column.thread.value = (
                "" if job is None else verbatim(thread_html(job.prompt.messages, answer_html))
            )

    def _resolved(self, name: str) -> str:
        from workbench.errors import ConfigError
        from workbench.providers.registry import resolve

        try:
            return resolve(name, self.session.config).full_name
        except ConfigError:
            return name

    def _show_spend(self) -> None:
        budget = self.session.budget
        left = "no cap" if budget.left_usd is None else f"${budget.left_usd:.4f} left"
        run = ""
        if self.live is not None and self.live.comparison is not None:
            run = f" · last run {self.live.comparison.cost_text}"
        self.spend_text = f"session spend {budget.spent_text} · budget: {left}{run}"
        self.spend.value = verbatim(html.escape(self.spend_text, quote=False))


def by_model(cmp: Comparison) -> list[tuple[str, list[Any]]]:
    """The first prompt's replies of each model (every sample), in column order."""
    return [(m, [cmp.reply(m, 0, s) for s in range(cmp.samples)]) for m in cmp.models]


def column_states(cmp: Comparison) -> dict[str, ColumnState]:
    """A finished comparison as the columns show it (first prompt)."""
    states: dict[str, ColumnState] = {}
    for job, reply, rid in zip(cmp.jobs, cmp.replies, cmp.record_ids, strict=True):
        if job.prompt_index:
            continue
        state = states.get(job.spec.label)
        if state is None:
            state = states[job.spec.label] = ColumnState(
                job.spec.label, job.spec.full_name, cmp.samples
            )
        state.replies[job.sample], state.statuses[job.sample] = reply, ""
        state.texts[job.sample], state.record_ids[job.sample] = reply.text, rid
    return states


def close_all(widget: Any) -> None:
    """Close `widget` and everything inside it."""
    for child in getattr(widget, "children", ()):
        close_all(child)
    widget.close()
