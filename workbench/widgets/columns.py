"""One model's column in the panel: its name, the answer as it streams, figures, decisions."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from workbench.render import error_html, meta_line, thinking_html
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


class Column:
    """The widgets of one column; `show(state)` redraws it from a ColumnState."""

    def __init__(self, index: int, label: str, resolved: str, decisions: DecisionBar) -> None:
        import ipywidgets as w

        sub = "" if resolved == label else f' <span class="wb-sub">{html.escape(resolved)}</span>'
        self.label = label
        self.head = w.HTML(f"<b>{html.escape(label)}</b>{sub}")
        self.head.add_class("wb-head")
        self.answer = w.HTML("")
        self.answer.add_class("wb-answer")
        self.stats = w.HTML("")
        self.stats.add_class("wb-stats")
        self.decisions = decisions
        self.box: Any = w.VBox(
            [self.head, self.answer, self.stats, decisions.box],
            layout=w.Layout(flex="1 1 0", min_width="0"),
        )
        self.box.add_class("wb-column")
        self.box.add_class(f"wb-column-{index}")

    def show(self, state: ColumnState) -> None:
        """Redraw the answer and figures (safe to call from the loop thread: sets traits)."""
        self.answer.value = verbatim(body_html(state))
        self.stats.value = verbatim(html.escape(stats_text(state)))
