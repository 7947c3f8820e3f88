"""One model's column in the panel: its name, the answer as it streams, figures, decisions."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from workbench.render import error_html, meta_html, meta_line, thinking_html
from workbench.widgets.markup import answer_html, verbatim

if TYPE_CHECKING:
    from workbench.providers.base import Reply
    from workbench.widgets.decisions import DecisionBar
    from workbench.widgets.live import ColumnState


def body_html(state: ColumnState) -> str:
    """A column's answers (one per sample): Markdown so far, final answer, or error."""
    parts = []
    for i, (reply, text, status) in enumerate(
        zip(state.replies, state.texts, state.statuses, strict=True)
    ):
        head = f'<div class="wb-sample">sample {i + 1}</div>' if state.samples > 1 else ""
        if reply is None:
            shown = (
                answer_html(text)
                if text
                else f'<div class="wb-waiting">{html.escape(status)}</div>'
            )
        else:
            shown = reply_body(reply)
        parts.append(head + shown)
    return "".join(parts)


def reply_body(reply: Reply) -> str:
    """A finished reply: its error (and any text it got before failing), or its answer."""
    thinking = thinking_html(reply.thinking)
    if reply.error is None:
        return thinking + answer_html(reply.text)
    return error_html(reply) + thinking + (answer_html(reply.text) if reply.text else "")


def stats_text(state: ColumnState) -> str:
    """Tokens, cost, latency and time to first token of each finished sample."""
    lines = [meta_line(r) for r in state.replies if r is not None]
    return " | ".join(line for line in lines if line)


def stats_html(state: ColumnState) -> str:
    """`stats_text` as HTML, each figure kept whole on its line, each sample on its own."""
    lines = [meta_html(r) for r in state.replies if r is not None]
    return "<br>".join(line for line in lines if line)


class Column:
    """The widgets of one column; `show(state)` redraws it from a ColumnState."""

    def __init__(self, index: int, label: str, resolved: str, decisions: DecisionBar) -> None:
        import ipywidgets as w

        self.label = label
        self.resolved = resolved
        self.head = w.HTML("")
        self.head.add_class("wb-head")
        self.mark_recorded(None)
        self.thread = w.HTML("")
        self.thread.add_class("wb-thread-box")
        self.answer = w.HTML("")
        self.answer.add_class("wb-answer")
        self.stats = w.HTML("")
        self.stats.add_class("wb-stats")
        self.decisions = decisions
        self.box: Any = w.VBox([self.head, self.thread, self.answer, self.stats, decisions.box])
        self.box.add_class("wb-column")
        self.box.add_class(f"wb-column-{index}")

    def show(self, state: ColumnState) -> None:
        """Redraw the answer and figures (safe to call from the loop thread: sets traits)."""
        self.answer.value = verbatim(body_html(state))
        self.stats.value = verbatim(stats_html(state))

    def mark_recorded(self, when: str | None) -> None:
        """Say in the heading that the answer is a recorded one (`when`), or not (None)."""
        sub = "" if self.resolved == self.label else self.resolved
        badge = f'<span class="wb-badge">recorded {html.escape(when)}</span>' if when else ""
        self.head.value = verbatim(
            f"<b>{html.escape(self.label)}</b>"
            + (f' <span class="wb-sub">{html.escape(sub)}</span>' if sub else "")
            + badge
        )

    def current(self, on: bool) -> None:
        """Mark this column as the one the keyboard acts on."""
        (self.box.add_class if on else self.box.remove_class)("wb-current")
