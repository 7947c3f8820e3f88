"""The decision controls: per column and between two columns.

Per column: pick, reject, note and a 1-5 rating; between two columns: "A is better",
"B is better", "tie", "both bad".

The widgets only say what was clicked; the panel records it through its `Ballot`
(`workbench.widgets.ballot`), so code (`panel.pick(...)`) and clicks take one path.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

from workbench.widgets.ballot import parse_tags

Decide = Callable[[str, str, str, list[str], int], None]
"""What a column's bar calls on a click: (model, action, text, tags, sample); action is
"pick", "reject", "note" or "rate N"."""

Compare = Callable[[str], None]
"""What the arena bar calls on a click: the verdict ("a", "b", "tie", "both-bad")."""

SCORES = range(1, 6)


def _button(description: str, tooltip: str, css: str) -> Any:
    import ipywidgets as w

    button = w.Button(description=description, tooltip=tooltip, layout=w.Layout(width="auto"))
    button.add_class(css)
    return button


class DecisionBar:
    """A column's decision controls: pick, reject, note, rate 1-5, a reason/note box, tags."""

    def __init__(self, model: str, decide: Decide) -> None:
        import ipywidgets as w

        self.model = model
        self._decide = decide
        self.pick = _button("pick", f"{model}'s answer is the best one (key p)", "wb-pick")
        self.reject = _button("reject", "wrong or unwanted: give a reason", "wb-reject")
        self.note = _button("note", "record the text and tags as a note", "wb-note")
        for button in (self.pick, self.reject, self.note):
            button.on_click(self._clicked)
        self.ratings = [
            _button(str(n), f"rate this answer {n} of 5 (key {n})", f"wb-rate-{n}") for n in SCORES
        ]
        for n, button in zip(SCORES, self.ratings, strict=True):
            button.add_class("wb-rate")
            button.on_click(lambda _b, n=n: self._rated(n))
        self.text = w.Text(placeholder="reason or note")
        self.text.add_class("wb-reason")
        self.tags = w.Text(placeholder="tags, comma-separated")
        self.tags.add_class("wb-tags")
        self.sample = w.Dropdown(options=[("sample 1", 0)], value=0)
        self.sample.add_class("wb-sample-choice")
        self.sample.layout.display = "none"
        self.said = w.HTML("")
        self.said.add_class("wb-decided")
        rate = w.HBox([w.HTML('<span class="wb-rate-label">rate</span>'), *self.ratings])
        rate.add_class("wb-rating")
        actions = w.HBox([self.pick, self.reject, self.note, self.sample])
        actions.add_class("wb-actions")
        self.box: Any = w.VBox([actions, rate, self.text, self.tags, self.said])
        self.box.add_class("wb-decisions")
        self.enable(False)

    def enable(self, on: bool, *, answered: bool = True) -> None:
        """Allow decisions once the answer is recorded (pick and rate only if it answered)."""
        self.pick.disabled = not (on and answered)
        for button in self.ratings:
            button.disabled = not (on and answered)
        self.reject.disabled = self.note.disabled = not on

    def show(self, marks: Sequence[str]) -> None:
        """Say under the buttons what currently stands about this answer."""
        self.said.value = "<br>".join(html.escape(m, quote=False) for m in marks)
        rated = next((m for m in marks if m.startswith("★")), "")
        for n, button in zip(SCORES, self.ratings, strict=True):
            button.button_style = "info" if rated.startswith(f"★ {n}/") else ""
        self.pick.button_style = "success" if any(m.startswith("✓") for m in marks) else ""

    def set_samples(self, samples: int) -> None:
        """Offer a choice of sample when a model answered more than once."""
        self.sample.options = [(f"sample {i + 1}", i) for i in range(samples)]
        self.sample.value = 0
        self.sample.layout.display = None if samples > 1 else "none"

    def _clicked(self, button: Any) -> None:
        tags = parse_tags(self.tags.value)
        self._decide(self.model, button.description, self.text.value, tags, self.sample.value)

    def _rated(self, score: int) -> None:
        tags = parse_tags(self.tags.value)
        self._decide(self.model, f"rate {score}", self.text.value, tags, self.sample.value)


class ArenaBar:
    """Two columns side by side, A and B, and the verdicts between them."""

    def __init__(self, compare: Compare) -> None:
        import ipywidgets as w

        self.a = w.Dropdown(description="A", options=[], style={"description_width": "1.5em"})
        self.a.add_class("wb-pair-a")
        self.b = w.Dropdown(description="B", options=[], style={"description_width": "1.5em"})
        self.b.add_class("wb-pair-b")
        self.buttons = {
            "a": _button("A is better", "the answer in A is better (key a)", "wb-better-a"),
            "b": _button("B is better", "the answer in B is better (key b)", "wb-better-b"),
            "tie": _button("tie", "as good as each other (key t)", "wb-tie"),
            "both-bad": _button("both bad", "neither is acceptable (key x)", "wb-both-bad"),
        }
        for verdict, button in self.buttons.items():
            button.on_click(lambda _b, v=verdict: compare(v))
        self.keys = w.HTML(
            '<span class="wb-keys-help">keys, with the panel focused: ←/→ column · p pick · '
            "1–5 rate · a / b better · t tie · x both bad</span>"
        )
        pair = w.HBox([self.a, self.b])
        pair.add_class("wb-pair")
        verdicts = w.HBox(list(self.buttons.values()))
        verdicts.add_class("wb-verdicts")
        self.box: Any = w.HBox([pair, verdicts, self.keys])
        self.box.add_class("wb-arena")
        self.enable(False)

    def set_columns(self, names: Sequence[str]) -> None:
        """Offer these columns; A and B default to the first two."""
        options = list(names)
        self.a.options, self.b.options = options, options
        if len(options) >= 2:
            self.a.value, self.b.value = options[0], options[1]
        self.box.layout.display = None if len(options) >= 2 else "none"

    def enable(self, on: bool) -> None:
        """Allow verdicts once both chosen answers are recorded answers."""
        for button in self.buttons.values():
            button.disabled = not on
