"""Answers as HTML for the panel: Markdown with code blocks highlighted by Pygments, and CSS."""

from __future__ import annotations

import html
from functools import lru_cache
from typing import Any

from workbench.render import markdown_parser

CODE_CLASS = "wb-code"


def _highlight(code: str, lang: str, attrs: str) -> str:
    """A fenced block as highlighted HTML; plain (escaped) when its language is unknown."""
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        lexer = get_lexer_by_name(lang) if lang else None
    except ClassNotFound:
        lexer = None
    body = highlight(code, lexer, HtmlFormatter(nowrap=True)) if lexer else html.escape(code)
    label = f' class="language-{html.escape(lang)}"' if lang else ""
    return f'<pre class="{CODE_CLASS}"><code{label}>{body}</code></pre>'


def answer_html(text: str) -> str:
    """An answer's Markdown as safe HTML, code blocks highlighted."""
    return str(markdown_parser(_highlight).render(text))


def verbatim(fragment: str) -> str:
    """HTML that the notebook's MathJax leaves alone: "$5 and $10" stays text, not LaTeX.

    JupyterLab typesets every HTML widget's content, and the class must sit inside it.
    """
    return f'<div class="tex2jax_ignore mathjax_ignore">{fragment}</div>'


@lru_cache(maxsize=1)
def css() -> str:
    """The panel's style sheet: layout, columns, errors, diff marks and code colours."""
    from pygments.formatters import HtmlFormatter

    formatter: Any = HtmlFormatter(style="default")
    rules = str(formatter.get_style_defs(f".{CODE_CLASS}"))
    code = "\n".join(line for line in rules.splitlines() if line.startswith(f".{CODE_CLASS}"))
    return f"<style>\n{_PANEL_CSS}\n{code}\n</style>"


_PANEL_CSS = """
.wb-panel{font-family:system-ui,-apple-system,sans-serif;font-size:13px;line-height:1.4;
 max-width:100%;box-sizing:border-box}
.wb-panel:focus{outline:none}
.wb-panel:focus .wb-keys-help{color:#1d4ed8}
.wb-panel .widget-box{overflow:visible}
.wb-panel .widget-html-content{line-height:1.45}
.wb-panel .widget-html,.wb-panel .widget-html-content{height:auto}
.wb-panel .jupyter-button{flex:0 0 auto;width:auto;max-width:100%;padding:0 10px}
.wb-panel .widget-text,.wb-panel .widget-textarea,.wb-panel .widget-dropdown,
.wb-panel .widget-combobox{width:auto;max-width:100%}
.wb-panel .wb-top{flex-wrap:wrap;gap:4px 12px;align-items:flex-start}
.wb-panel .wb-ask{flex:1 1 30em;min-width:min(100%,16em)}
.wb-panel .wb-ask .widget-textarea{width:auto;align-self:stretch}
.wb-panel .wb-ask textarea{resize:vertical}
.wb-panel .wb-models{flex:1 1 16em;min-width:min(100%,14em)}
.wb-panel .wb-chips{flex-wrap:wrap;gap:2px}
.wb-panel .wb-chip.mod-active{background:#2563eb;color:#fff}
.wb-panel .wb-chip.mod-warning{color:#7c2d12}
.wb-panel .wb-chip{font-size:12px;height:auto;min-height:24px;line-height:1.3;padding:2px 8px;
 border-radius:12px;white-space:normal;text-align:left}
.wb-panel .wb-model-warning{color:#92400e;font-size:11px}
.wb-panel .wb-params{flex:0 1 17em;min-width:min(100%,15em)}
.wb-panel .wb-param{width:auto;align-self:stretch}
.wb-panel .wb-param input{min-width:0}
.wb-panel .wb-bar{flex-wrap:wrap;align-items:center;gap:4px}
.wb-panel .wb-status{flex:1 1 14em;min-width:0;color:#374151}
.wb-panel .wb-recalled{flex-wrap:wrap;align-items:center;gap:4px 10px;background:#eff6ff;
 border:1px solid #bfdbfe;border-radius:6px;padding:4px 8px;margin:4px 2px}
.wb-panel .wb-columns{display:flex;flex-wrap:wrap;gap:8px;align-items:stretch}
.wb-panel .wb-column{flex:1 1 19em;min-width:min(100%,19em);max-width:100%;
 border:1px solid #d1d5db;border-radius:6px;padding:6px;background:#fff;box-sizing:border-box}
.wb-panel .wb-column.wb-current{border-color:#2563eb;box-shadow:0 0 0 1px #2563eb}
.wb-panel .wb-answer{overflow-wrap:anywhere;min-height:2em}
.wb-panel .wb-answer p{margin:0 0 6px}
.wb-panel .wb-answer code{font-family:var(--jp-code-font-family,ui-monospace,monospace);
 font-size:90%;background:#f3f4f6;border-radius:3px;padding:0 3px}
.wb-panel .wb-answer pre code{background:none;padding:0;font-size:100%}
.wb-panel .wb-sub{color:#6b7280;font-size:11px;margin-left:4px}
.wb-panel .wb-badge{margin-left:6px;font-size:11px;color:#1d4ed8;background:#dbeafe;
 border-radius:8px;padding:0 6px;white-space:nowrap}
.wb-panel .wb-sample{color:#6b7280;font-size:11px;border-top:1px dashed #e5e7eb;margin-top:6px}
.wb-panel .wb-decided{color:#166534;font-size:12px}
.wb-panel .wb-stats{color:#4b5563;font-size:11px}
.wb-panel .wb-actions,.wb-panel .wb-rating,.wb-panel .wb-arena,.wb-panel .wb-pair,
.wb-panel .wb-verdicts,.wb-panel .wb-history-box{flex-wrap:wrap;align-items:center;gap:2px 4px}
.wb-panel .wb-rate{min-width:2.4em;padding:0 6px}
.wb-panel .wb-rate-label{color:#6b7280;font-size:11px;margin:0 4px}
.wb-panel .wb-reason,.wb-panel .wb-tags{width:auto;align-self:stretch}
.wb-panel .wb-arena{margin-top:6px}
.wb-panel .wb-pair{flex:0 1 auto;flex-wrap:nowrap}
.wb-panel .wb-pair .widget-dropdown{flex:0 1 14em;min-width:8em}
.wb-panel .wb-keys-help{color:#6b7280;font-size:11px}
.wb-panel .wb-follow-bar{flex-wrap:wrap;gap:4px;margin-top:6px}
.wb-panel .wb-follow-text{flex:1 1 16em;min-width:min(100%,12em)}
.wb-panel .wb-history-box .widget-dropdown{flex:1 1 20em;min-width:min(100%,12em)}
.wb-panel .wb-thread{color:#4b5563;font-size:12px;margin-bottom:4px}
.wb-panel .wb-thread summary{cursor:pointer}
.wb-panel .wb-turn{border-left:2px solid #e5e7eb;padding-left:6px;margin:4px 0}
.wb-panel .wb-summary table{border-collapse:collapse;margin-top:6px;font-size:12px}
.wb-panel .wb-summary th,.wb-panel .wb-summary td{padding:2px 8px;text-align:right;
 border-bottom:1px solid #e5e7eb}
.wb-panel .wb-summary th:first-child,.wb-panel .wb-summary td:first-child{text-align:left}
.wb-panel .wb-rank{color:#6b7280;font-size:11px}
.wb-panel .wb-missing{color:#92400e}
.wb-fig{white-space:nowrap}
.wb-code{background:#f8f8f8;padding:6px;overflow-x:auto;border-radius:4px}
.wb-error{color:#991b1b;background:#fef2f2;border:1px solid #fecaca;border-radius:4px;
 padding:6px;white-space:pre-wrap}
.wb-waiting{color:#6b7280;font-style:italic}
.wb-diff{white-space:pre-wrap;overflow-wrap:anywhere;line-height:1.5}
.wb-diff del{background:#fee2e2;color:#991b1b}
.wb-diff ins{background:#dcfce7;color:#166534;text-decoration:none}
.wb-static .wb-status,.wb-static .wb-spend{color:#4b5563;font-size:11px;margin-top:4px}
"""
