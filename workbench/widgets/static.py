"""The panel as plain HTML, for places where widgets cannot render (GitHub, papermill output)."""

from __future__ import annotations

import html
from collections.abc import Sequence

from workbench import render
from workbench.widgets.columns import body_html, stats_html
from workbench.widgets.live import ColumnState
from workbench.widgets.markup import css

_GRID_CSS = """<style>
.wb-static .wb-prompt-text{margin:8px 0 6px;padding:6px 8px;background:#f3f4f6;border-radius:4px;
 white-space:pre-wrap;color:#111}
.wb-static .wb-grid{display:grid;gap:8px}
.wb-static .wb-col{border:1px solid #d1d5db;border-radius:6px;padding:8px;min-width:0;
 background:#fff;color:#111}
.wb-static .wb-head{font-weight:600;margin-bottom:4px}
.wb-static .wb-sub{color:#6b7280;font-weight:400;font-size:11px;margin-left:4px}
.wb-static .wb-meta{color:#4b5563;font-size:11px;margin-top:6px;border-top:1px solid #e5e7eb;
 padding-top:4px}
</style>"""


def panel_html(
    *,
    prompt: str,
    system: str | None,
    models: Sequence[str],
    columns: Sequence[ColumnState],
    status: str,
    spend: str,
    summary: str = "",
) -> str:
    """A readable snapshot: the prompt, each model's answer so far or final, figures, status.

    The notebook's MathJax is kept out of all of it: "$0.00000 · budget $5" stays text.
    """
    out = [css(), _GRID_CSS, '<div class="wb-panel wb-static tex2jax_ignore mathjax_ignore">']
    out.append(f"<div><b>workbench panel</b> · models: {html.escape(', '.join(models))}</div>")
    if system:
        out.append(f'<div class="wb-stats">system: {html.escape(system)}</div>')
    if prompt:
        out.append(f'<div class="wb-prompt-text">{html.escape(prompt)}</div>')
    if columns:
        out.append(grid_html(columns))
    else:
        out.append(
            '<div class="wb-waiting">nothing run yet: open this notebook in JupyterLab or '
            "Notebook 7 to use the panel's controls</div>"
        )
    out.append(summary)
    if status:
        out.append(f'<div class="wb-status">{html.escape(status)}</div>')
    out.append(f'<div class="wb-spend">{html.escape(spend)}</div></div>')
    return "".join(out)


def grid_html(columns: Sequence[ColumnState]) -> str:
    """One column per model, as the panel shows them: answer so far or final, figures."""
    return render.grid_html(
        [
            f'<div class="wb-col">{render.column_head(c.label, c.resolved)}'
            f'<div class="wb-answer">{body_html(c)}</div>'
            f'<div class="wb-meta">{stats_html(c)}</div></div>'
            for c in columns
        ]
    )
