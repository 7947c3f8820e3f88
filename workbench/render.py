"""Side-by-side views of replies: self-contained HTML for notebooks, rich tables for terminals."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from workbench.providers.base import Reply, Usage

if TYPE_CHECKING:
    from markdown_it import MarkdownIt
    from rich.console import RenderableType

    from workbench.comparison import Comparison

_CSS = """
<style>
.wb-cmp{font-family:system-ui,-apple-system,sans-serif;font-size:13px;line-height:1.45}
.wb-prompt{margin:8px 0 6px;padding:6px 8px;background:#f3f4f6;border-radius:4px;
 white-space:pre-wrap;color:#111}
.wb-grid{display:grid;gap:8px}
.wb-col{border:1px solid #d1d5db;border-radius:6px;padding:8px;min-width:0;background:#fff;
 color:#111}
.wb-head{font-weight:600;margin-bottom:4px}
.wb-sub{color:#6b7280;font-weight:400;font-size:11px;margin-left:4px}
.wb-answer{overflow-wrap:anywhere}
.wb-thinking{color:#4b5563;font-size:12px;margin:2px 0 4px}
.wb-thinking summary{cursor:pointer}
.wb-answer pre{background:#f8f8f8;padding:6px;overflow-x:auto;border-radius:4px}
.wb-meta{color:#4b5563;font-size:11px;margin-top:6px;border-top:1px solid #e5e7eb;padding-top:4px}
.wb-error{color:#991b1b;background:#fef2f2;border:1px solid #fecaca;border-radius:4px;
 padding:6px;white-space:pre-wrap}
.wb-sample{border-top:1px dashed #e5e7eb;margin-top:6px;padding-top:6px}
@media print{.wb-col{break-inside:avoid}}
</style>
"""


@lru_cache(maxsize=4)
def markdown_parser(highlight: Callable[[str, str, str], str] | None = None) -> MarkdownIt:
    """The Markdown parser for answers; `highlight(code, lang, attrs)` renders fenced code."""
    from markdown_it import MarkdownIt

    # Raw HTML in an answer is shown as text, never injected into the page.
    options: dict[str, Any] = {"html": False, "highlight": highlight}
    return MarkdownIt("commonmark", options).enable("table")


def clip(text: str, width: int) -> str:
    """`text` on one line (runs of whitespace as one space), cut to `width` with an ellipsis."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def markdown_html(text: str) -> str:
    """An answer's Markdown as safe HTML."""
    return str(markdown_parser().render(text))


def usage_text(usage: Usage) -> str:
    """Token counts as known: "12 in / 30 out tok", "? in / ? out tok (not reported)".

    The parts are said where reported: "12 in (8 cached) / 30 out (20 reasoning) tok".
    """
    parts = (
        (usage.input_tokens, "in", usage.cached_input_tokens, "cached"),
        (usage.output_tokens, "out", usage.reasoning_tokens, "reasoning"),
    )
    counts = " / ".join(
        f"{'?' if n is None else n} {side}" + (f" ({part} {what})" if part else "")
        for n, side, part, what in parts
    )
    if usage.source is None:
        return f"{counts} tok (not reported)"
    return f"{counts} tok" + ("" if usage.source == "provider" else f" ({usage.source})")


def total_cost_text(known_usd: float, unknown: int) -> str:
    """A total that says when it is partial: "$0.00013", "$0.00013 + 1 reply of unknown cost"."""
    if not unknown:
        return f"${known_usd:.5f}"
    return f"${known_usd:.5f} + {unknown} repl{'ies' if unknown != 1 else 'y'} of unknown cost"


def meta_line(reply: Reply) -> str:
    """Tokens, cost, latency and time to first token in one short line."""
    parts = []
    if reply.ok:
        parts.append(usage_text(reply.usage))
    if reply.cost_usd is not None:
        parts.append(f"${reply.cost_usd:.5f}")
    elif reply.ok:
        parts.append("cost unknown")
    if reply.latency_s is not None:
        parts.append(f"{reply.latency_s:.2f} s")
    if reply.first_token_s is not None:
        parts.append(f"first token {reply.first_token_s:.2f} s")
    if reply.finish_reason and reply.finish_reason != "stop":
        parts.append(f"finish: {reply.finish_reason}")
    if reply.attempts > 1:
        parts.append(f"{reply.attempts} attempts")
    return " · ".join(parts)


def error_html(reply: Reply) -> str:
    """A failed reply's error type and message (empty for a reply that did not fail)."""
    if reply.error is None:
        return ""
    return (
        f'<div class="wb-error"><b>{html.escape(reply.error.type)}</b>: '
        f"{html.escape(reply.error.message)}</div>"
    )


def thinking_html(thinking: str | None) -> str:
    """The model's thinking, collapsed under the answer's heading (empty when there is none)."""
    if not thinking:
        return ""
    return (
        '<details class="wb-thinking"><summary>thinking</summary>'
        f"<div>{markdown_html(thinking)}</div></details>"
    )


def reply_html(reply: Reply) -> str:
    """One reply's answer (or error) with its thinking collapsed and its figures underneath."""
    body = error_html(reply) + thinking_html(reply.thinking)
    if reply.error is None or reply.text:
        body += f'<div class="wb-answer">{markdown_html(reply.text)}</div>'
    return f'{body}<div class="wb-meta">{html.escape(meta_line(reply))}</div>'


def column_head(model: str, resolved: str) -> str:
    """A column's heading: the model's label, and the full name when it differs."""
    sub = "" if resolved == model else resolved
    return (
        f'<div class="wb-head">{html.escape(model)}'
        f'<span class="wb-sub">{html.escape(sub)}</span></div>'
    )


def grid_html(columns: Sequence[str]) -> str:
    """Columns (each a `wb-col` div) side by side in equal widths."""
    style = f"grid-template-columns:repeat({max(1, len(columns))},minmax(0,1fr))"
    return f'<div class="wb-grid" style="{style}">{"".join(columns)}</div>'


def columns_html(replies: Sequence[Sequence[Reply]]) -> str:
    """One column per model; each inner sequence holds a model's samples."""
    cols = []
    for samples in replies:
        head = column_head(samples[0].model, samples[0].resolved)
        bodies = "".join(
            reply_html(r) if i == 0 else f'<div class="wb-sample">{reply_html(r)}</div>'
            for i, r in enumerate(samples)
        )
        cols.append(f'<div class="wb-col">{head}{bodies}</div>')
    return grid_html(cols)


def comparison_html(comparison: Comparison) -> str:
    """The whole comparison: for each prompt, its text then the models side by side."""
    # "tex2jax_ignore": the notebook would typeset the "$" of costs as LaTeX
    out = [_CSS, '<div class="wb-cmp tex2jax_ignore mathjax_ignore">']
    for p, prompt in enumerate(comparison.prompts):
        out.append(f'<div class="wb-prompt">{html.escape(prompt.text)}</div>')
        grid = [
            [comparison.reply(m, p, s) for s in range(comparison.samples)]
            for m in comparison.models
        ]
        out.append(columns_html(grid))
    total = f"total {comparison.cost_text} · {len(comparison.errors)} error(s)"
    out.append(f'<div class="wb-meta">{total}</div></div>')
    return "".join(out)


def reply_panel(reply: Reply, text: str | None = None) -> RenderableType:
    """A terminal panel for one model: its answer so far (or error) and its figures."""
    from rich.console import Group
    from rich.markdown import Markdown
    from rich.panel import Panel
    from rich.text import Text

    body: RenderableType
    if reply.error is not None:
        body = Text(f"{reply.error.type}: {reply.error.message}", style="bold red")
    else:
        body = Markdown(text if text is not None else reply.text)
    title = reply.model if reply.resolved == reply.model else f"{reply.model} ({reply.resolved})"
    meta = meta_line(reply)
    content = Group(body, Text(meta, style="dim")) if meta else body
    return Panel(content, title=title, border_style="red" if reply.error else "cyan")
