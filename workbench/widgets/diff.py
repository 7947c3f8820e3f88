"""A word-level diff of two answers (difflib), as HTML, and the panel's widget to choose them."""

from __future__ import annotations

import difflib
import html
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.comparison import Comparison

_TOKENS = re.compile(r"\s+|\w+|[^\w\s]")


def tokens(text: str) -> list[str]:
    """Words, runs of spaces and single punctuation marks; joined they give `text` back."""
    return _TOKENS.findall(text)


def word_diff(a: str, b: str) -> list[tuple[str, str]]:
    """(op, text) pieces: "=" in both, "-" only in `a`, "+" only in `b`.

    A lone space kept between two changes is folded into them, so that "because of" ->
    "due to" reads as one change rather than two.
    """
    left, right = tokens(a), tokens(b)
    ops = difflib.SequenceMatcher(None, left, right, autojunk=False).get_opcodes()
    out: list[tuple[str, str]] = []
    removed: list[str] = []
    added: list[str] = []

    def flush() -> None:
        if removed:
            out.append(("-", "".join(removed)))
        if added:
            out.append(("+", "".join(added)))
        removed.clear()
        added.clear()

    for n, (op, i1, i2, j1, j2) in enumerate(ops):
        same = "".join(left[i1:i2])
        between = (removed or added) and n + 1 < len(ops) and ops[n + 1][0] != "equal"
        if op == "equal" and between and not same.strip():
            removed.append(same)
            added.append(same)
        elif op == "equal":
            flush()
            out.append(("=", same))
        else:
            removed.extend(left[i1:i2])
            added.extend(right[j1:j2])
    flush()
    return out


def word_diff_html(a: str, b: str) -> str:
    """What changes from `a` to `b`: removed words struck out, added words marked."""
    tags = {"=": ("", ""), "-": ("<del>", "</del>"), "+": ("<ins>", "</ins>")}
    body = "".join(f"{tags[op][0]}{html.escape(text)}{tags[op][1]}" for op, text in word_diff(a, b))
    ratio = difflib.SequenceMatcher(None, tokens(a), tokens(b), autojunk=False).ratio()
    return f'<div class="wb-diff">{body}</div><div class="wb-stats">{ratio:.0%} the same</div>'


def answers(comparison: Comparison) -> dict[str, str]:
    """Each answer of a comparison by a name to choose it by ("local", "local #2", ...)."""
    out = {}
    for job, reply in comparison.pairs():
        if job.prompt_index == 0:
            name = reply.model if job.sample == 0 else f"{reply.model} #{job.sample + 1}"
            out[name] = reply.text
    return out


class DiffView:
    """Two pickers and the word diff of the answers they name."""

    def __init__(self) -> None:
        import ipywidgets as w

        self.texts: dict[str, str] = {}
        self.left = w.Dropdown(description="diff", options=[], layout=w.Layout(width="auto"))
        self.right = w.Dropdown(description="against", options=[], layout=w.Layout(width="auto"))
        self.view = w.HTML("")
        self.view.add_class("wb-diff-view")
        for picker in (self.left, self.right):
            picker.observe(self._redraw, names="value")
        self.box: Any = w.VBox([w.HBox([self.left, self.right]), self.view])
        self.box.add_class("wb-diff-box")

    def show(self, comparison: Comparison) -> None:
        """Offer the answers of a finished comparison; diff the first two."""
        self.texts = answers(comparison)
        names = list(self.texts)
        with self.view.hold_trait_notifications():
            self.left.options = names
            self.right.options = names
            if len(names) >= 2:
                self.left.value, self.right.value = names[0], names[1]
        self._redraw()

    def _redraw(self, _change: Any = None) -> None:
        a, b = self.left.value, self.right.value
        if a is None or b is None or a == b:
            self.view.value = '<div class="wb-waiting">choose two different answers</div>'
        else:
            self.view.value = word_diff_html(self.texts.get(a, ""), self.texts.get(b, ""))
