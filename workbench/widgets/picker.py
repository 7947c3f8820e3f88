"""The model picker: one chip per model, a plain click toggles it, a filter box narrows the list.

(A `SelectMultiple` needed Ctrl-click to choose several: a plain click dropped the others.)
`value` is the chosen names in the order they were chosen; `options` the (label, name) pairs,
the label saying when a key is missing.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import ipywidgets as w
import traitlets


class ModelPicker(w.VBox):  # type: ignore[misc]
    """Chips (toggle buttons) for the models, a filter box, and the chosen names as `value`."""

    value = traitlets.Tuple()
    """The chosen names, in the order chosen."""

    def __init__(self, options: Sequence[tuple[str, str]], value: Sequence[str] = ()) -> None:
        self.filter = w.Text(placeholder="filter models…")
        self.filter.add_class("wb-model-filter")
        self.chips_box = w.HBox([])
        self.chips_box.add_class("wb-chips")
        self.chips: dict[str, Any] = {}
        self._options: list[tuple[str, str]] = []
        self.warning = w.HTML("")
        self.warning.add_class("wb-model-warning")
        super().__init__([self.filter, self.chips_box, self.warning])
        self.add_class("wb-models")
        self.options = list(options)
        self.value = tuple(value)
        self.filter.observe(lambda _c: self._narrow(), "value")
        self.observe(lambda _c: self._mark(), "value")
        self._mark()

    @property
    def options(self) -> list[tuple[str, str]]:
        """(label, name) of every model offered."""
        return list(self._options)

    @options.setter
    def options(self, options: Sequence[tuple[str, str]]) -> None:
        self._options = list(options)
        chips = {}
        for label, name in self._options:
            chip = self.chips.get(name) or self._chip(name)
            chip.tooltip = label
            chip.description = name
            missing = label != name and "—" in label
            chip.button_style = "warning" if missing else ""
            chips[name] = chip
        self.chips = chips
        self.chips_box.children = list(chips.values())
        self._narrow()

    def _chip(self, name: str) -> Any:
        chip = w.ToggleButton(description=name, layout=w.Layout(width="auto"))
        chip.add_class("wb-chip")
        chip.observe(lambda change, name=name: self._toggled(name, change["new"]), "value")
        return chip

    def _toggled(self, name: str, on: bool) -> None:
        chosen = [n for n in self.value if n != name]
        self.value = (*chosen, name) if on else tuple(chosen)

    def _mark(self) -> None:
        for name, chip in self.chips.items():
            chip.value = name in self.value
        labels = dict((name, label) for label, name in self._options)
        problems = [labels[n] for n in self.value if "—" in labels.get(n, "")]
        self.warning.value = "<br>".join(html.escape(p, quote=False) for p in problems)

    def _narrow(self) -> None:
        words = self.filter.value.lower().split()
        for label, name in self._options:
            shown = all(word in label.lower() for word in words) or name in self.value
            self.chips[name].layout.display = None if shown else "none"
