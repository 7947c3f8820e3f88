"""Decisions on a column's answer: pick it, reject it with a reason, note it, tag it.

Each is recorded in the lab notebook, linked to the call records it judges, and committed;
`record` does that for code and for the buttons alike.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from workbench.errors import InvalidOption, NotRecorded

if TYPE_CHECKING:
    from workbench.comparison import Comparison

ACTIONS = ("pick", "reject", "note")


def parse_tags(text: str | Iterable[str]) -> list[str]:
    """Tags from "a, b c" (commas or spaces) or a list; empty ones dropped."""
    items = text.replace(",", " ").split() if isinstance(text, str) else list(text)
    return [t.strip() for t in items if t and t.strip()]


def record(
    comparison: Comparison,
    model: str,
    action: str,
    text: str | None = None,
    tags: Iterable[str] = (),
    sample: int = 0,
) -> dict[str, Any]:
    """Record one decision on `model`'s answer (its `sample`-th); the record as written.

    A pick judges every answer of the comparison and chooses one; a reject or a note is
    about the one answer.
    """
    text = (text or "").strip() or None
    tags = list(tags)
    if action not in ACTIONS:
        raise InvalidOption(f"unknown decision {action!r}: use one of {', '.join(ACTIONS)}")
    if not 0 <= sample < comparison.samples:
        raise InvalidOption(f"sample must be from 1 to {comparison.samples}, not {sample + 1}")
    if action == "pick":
        return comparison.pick(model, text, sample=sample, tags=tags)
    if action == "reject":
        if text is None:
            raise InvalidOption(f"say why you reject {model}'s answer: type a reason first")
        return comparison.reject(model, text, sample=sample, tags=tags)
    book = comparison.labbook
    if book is None:
        raise NotRecorded("this comparison was not recorded: no lab notebook is open")
    about = comparison.record_id(model, 0, sample)
    if text is None and not tags:
        raise InvalidOption("a note needs some text or a tag: type it first")
    note = book.note(text or f"tagged {', '.join(tags)}", on=[about], tags=tags)
    book.commit(f"note on {model}")
    return note


Decide = Callable[[str, str, str, list[str], int], None]
"""What the bar calls on a click: (model, action, text, tags, sample)."""


class DecisionBar:
    """A column's decision controls: pick, reject, a reason/note box, tags, note."""

    def __init__(self, model: str, decide: Decide) -> None:
        import ipywidgets as w

        self.model = model
        self._decide = decide
        self.pick = w.Button(description="pick", tooltip=f"{model}'s answer is the best one")
        self.pick.add_class("wb-pick")
        self.reject = w.Button(description="reject", tooltip="wrong or unwanted: give a reason")
        self.reject.add_class("wb-reject")
        self.note = w.Button(description="note", tooltip="record the text and tags as a note")
        self.note.add_class("wb-note")
        self.text = w.Text(placeholder="reason or note", layout=w.Layout(width="auto"))
        self.text.add_class("wb-reason")
        self.tags = w.Text(placeholder="tags, comma-separated", layout=w.Layout(width="auto"))
        self.tags.add_class("wb-tags")
        for button in (self.pick, self.reject, self.note):
            button.layout = w.Layout(width="auto")
            button.on_click(self._clicked)
        self.sample = w.Dropdown(
            options=[("sample 1", 0)], value=0, layout=w.Layout(width="auto", display="none")
        )
        self.sample.add_class("wb-sample-choice")
        self.said = w.HTML("")
        self.said.add_class("wb-decided")
        self.box: Any = w.VBox(
            [
                w.HBox([self.pick, self.reject, self.note, self.sample]),
                self.text,
                self.tags,
                self.said,
            ]
        )
        self.box.add_class("wb-decisions")
        self.enable(False)

    def enable(self, on: bool, *, answered: bool = True) -> None:
        """Allow decisions once the answer is recorded (pick only if it is an answer)."""
        self.pick.disabled = not (on and answered)
        self.reject.disabled = self.note.disabled = not on

    def show(self, text: str) -> None:
        """Say under the buttons what was last recorded about this answer."""
        self.said.value = html.escape(text, quote=False)

    def set_samples(self, samples: int) -> None:
        """Offer a choice of sample when a model answered more than once."""
        self.sample.options = [(f"sample {i + 1}", i) for i in range(samples)]
        self.sample.value = 0
        self.sample.layout.display = None if samples > 1 else "none"

    def _clicked(self, button: Any) -> None:
        tags = parse_tags(self.tags.value)
        self._decide(self.model, button.description, self.text.value, tags, self.sample.value)
