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
.wb-fig{white-space:nowrap}
.wb-summary table{border-collapse:collapse;margin-top:6px;font-size:12px}
.wb-summary th,.wb-summary td{padding:2px 8px;text-align:right;border-bottom:1px solid #e5e7eb}
.wb-summary th:first-child,.wb-summary td:first-child{text-align:left}
.wb-summary .wb-rank{color:#6b7280;font-size:11px}
.wb-summary .wb-missing{color:#92400e}
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
    return " · ".join(meta_parts(reply))


def meta_html(reply: Reply) -> str:
    """`meta_line` as HTML whose parts never break inside ("first token 2.17 s" stays whole)."""
    return " · ".join(f'<span class="wb-fig">{html.escape(p)}</span>' for p in meta_parts(reply))


def meta_parts(reply: Reply) -> list[str]:
    """The figures of `meta_line`, each a phrase of its own."""
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
    return parts


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
    return f'{body}<div class="wb-meta">{meta_html(reply)}</div>'


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


Figure = tuple[str, str, str]
"""(what, heading, fewest-is-best phrase) of a summary column."""
SUMMARY: tuple[Figure, ...] = (
    ("cost", "cost", "cheapest"),
    ("latency", "latency", "fastest"),
    ("tokens", "tokens out", "fewest tokens"),
)


def model_figures(replies: Sequence[Reply]) -> dict[str, float | None]:
    """One model's samples summed up: total cost, mean latency, total output tokens.

    A figure is None (missing) when any sample lacks it, so a total is never partial.
    """
    costs = [r.cost_usd for r in replies]
    latencies = [r.latency_s for r in replies]
    tokens = [r.usage.output_tokens for r in replies]
    return {
        "cost": None if not costs or None in costs else sum(c for c in costs if c is not None),
        "latency": None
        if not latencies or None in latencies
        else sum(x for x in latencies if x is not None) / len(latencies),
        "tokens": None if not tokens or None in tokens else sum(t for t in tokens if t is not None),
    }


def summary_html(models: Sequence[tuple[str, Sequence[Reply]]]) -> str:
    """The models of one comparison ranked by cost, latency and output tokens (1 = least).

    A model whose calls failed is left out of the ranks; a figure that is missing (no price,
    usage not reported) is shown as such and said in the line under the table.
    """
    answered = [(m, rs) for m, rs in models if rs and all(r.ok for r in rs)]
    if not answered:
        return ""
    figures = {m: model_figures(rs) for m, rs in answered}
    ranks: dict[tuple[str, str], int] = {}
    best, missing = [], []
    for what, _, phrase in SUMMARY:
        known = {m: v for m, f in figures.items() if (v := f[what]) is not None}
        for m, v in known.items():  # equal figures share a rank
            ranks[(m, what)] = 1 + sum(1 for other in known.values() if other < v)
        firsts = [m for m in known if ranks[(m, what)] == 1]
        if len(known) > 1 and len(firsts) < len(known):
            best.append(f"{phrase}: {', '.join(firsts)}")
        missing += [f"{what} of {m}" for m, f in figures.items() if f[what] is None]
    head = "".join(f"<th>{html.escape(h)}</th>" for _, h, _ in SUMMARY)
    rows = []
    for m, _ in answered:
        cells = "".join(
            _summary_cell(what, figures[m][what], ranks.get((m, what))) for what, _, _ in SUMMARY
        )
        rows.append(f"<tr><td>{html.escape(m)}</td>{cells}</tr>")
    failed = [m for m, rs in models if not rs or not all(r.ok for r in rs)]
    notes = [" · ".join(best)] if best else []
    if missing:
        unknown = html.escape(", ".join(missing))
        notes.append(f'<span class="wb-missing">not known: {unknown}</span>')
    if failed:
        notes.append(f"not ranked (no answer): {html.escape(', '.join(failed))}")
    line = f'<div class="wb-meta">{html.escape(notes[0]) if best else ""}'
    line += "".join(f"<br>{n}" for n in notes[1 if best else 0 :]) + "</div>"
    return (
        f'<div class="wb-summary"><table><tr><th>model</th>{head}</tr>{"".join(rows)}</table>'
        f"{line}</div>"
    )


def _summary_cell(what: str, value: float | None, rank: int | None) -> str:
    if value is None:
        return '<td class="wb-missing">not known</td>'
    shown = {"cost": f"${value:.5f}", "latency": f"{value:.2f} s", "tokens": f"{value:.0f}"}[what]
    return f'<td>{shown} <span class="wb-rank">#{rank}</span></td>'


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
