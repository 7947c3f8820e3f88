"""Jupyter widgets: the side-by-side panel (`wb.panel`), its columns, decisions, diff, history.

Modules: `panel` (the panel: its actions), `panel_view` (its widgets and the CSS classes the
browser test relies on), `controls` (inputs),
`live` (a comparison running in the background), `columns` (one model's column),
`decisions` (pick, reject, note, tag), `diff` (word-level diff), `history` (earlier
prompts), `static` (the HTML fallback), `markup` (Markdown with highlighted code, CSS).
Importing this package does not import ipywidgets; building a panel does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.widgets.panel import Panel

__all__ = ["panel"]


def panel(models: Any = None, **params: Any) -> Panel:
    """A side-by-side panel for `models` (see `workbench.widgets.panel.Panel`)."""
    from workbench.widgets.panel import panel as build

    return build(models, **params)
