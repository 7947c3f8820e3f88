"""Keyboard shortcuts for the panel: a small anywidget that listens on the panel's element.

ipywidgets has no key events, so this one widget carries a little JavaScript: it makes the
panel focusable (a click on its background focuses it), keeps JupyterLab's and Notebook 7's
own shortcuts out of it (`data-lm-suppress-shortcuts`: otherwise "1" would turn the cell
into a heading and "a" insert a cell), and sends each key it knows to Python. Keys typed
into a text box are left alone. The Python side is `Shortcuts.press(key)`, which tests call
directly.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import anywidget
import traitlets

KEYS = ("ArrowLeft", "ArrowRight", "p", "1", "2", "3", "4", "5", "a", "b", "t", "x")

_ESM = """
const KEYS = new Set(%s);
function render({ model, el }) {
  el.classList.add("wb-keys");
  let panel = null, tries = 0, timer = null;
  const onKey = (e) => {
    const t = e.target;
    if (e.ctrlKey || e.metaKey || e.altKey || !KEYS.has(e.key)) return;
    if (t.closest && t.closest("input, textarea, select, [contenteditable='true']")) return;
    e.preventDefault();
    e.stopPropagation();
    model.send({ key: e.key });
  };
  const onDown = (e) => {
    // a click on the panel's background (not a control) focuses the panel for its keys
    const t = e.target;
    // (without scrolling: a scroll between mousedown and mouseup would lose the click)
    if (panel.contains(document.activeElement)) return;
    if (!t.closest("input, textarea, select, button, a, summary")) {
      panel.focus({ preventScroll: true });
    }
  };
  const attach = () => {
    panel = el.closest(".wb-panel");
    if (!panel) {
      if (++tries < 200) timer = setTimeout(attach, 50);
      return;
    }
    panel.setAttribute("tabindex", "0");
    panel.setAttribute("data-lm-suppress-shortcuts", "true");
    panel.addEventListener("keydown", onKey);
    panel.addEventListener("mousedown", onDown);
  };
  attach();
  return () => {
    clearTimeout(timer);
    if (panel) {
      panel.removeEventListener("keydown", onKey);
      panel.removeEventListener("mousedown", onDown);
    }
  };
}
export default { render };
"""


class Shortcuts(anywidget.AnyWidget):
    """Sends the panel's shortcut keys to `on_key`."""

    _esm = traitlets.Unicode(_ESM % json.dumps(KEYS)).tag(sync=True)

    def __init__(self, on_key: Callable[[str], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._on_key = on_key
        self.on_msg(self._received)

    def _received(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict) and content.get("key") in KEYS:
            self.press(str(content["key"]))

    def press(self, key: str) -> None:
        """Act on `key` as if it was pressed in the panel."""
        self._on_key(key)
