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
.wb-panel{font-family:system-ui,-apple-system,sans-serif;font-size:13px}
.wb-panel .wb-columns{display:flex;gap:8px;align-items:stretch;width:100%}
.wb-panel .wb-column{flex:1 1 0;min-width:0;border:1px solid #d1d5db;border-radius:6px;
 padding:6px;background:#fff}
.wb-panel .wb-answer{overflow-wrap:anywhere;min-height:2em}
.wb-panel .wb-sub{color:#6b7280;font-size:11px;margin-left:4px}
.wb-panel .wb-sample{color:#6b7280;font-size:11px;border-top:1px dashed #e5e7eb;margin-top:6px}
.wb-panel .wb-decided{color:#166534;font-size:12px}
.wb-panel .wb-stats{color:#4b5563;font-size:11px}
.wb-code{background:#f8f8f8;padding:6px;overflow-x:auto;border-radius:4px}
.wb-error{color:#991b1b;background:#fef2f2;border:1px solid #fecaca;border-radius:4px;
 padding:6px;white-space:pre-wrap}
.wb-waiting{color:#6b7280;font-style:italic}
.wb-diff{white-space:pre-wrap;overflow-wrap:anywhere;line-height:1.5}
.wb-diff del{background:#fee2e2;color:#991b1b}
.wb-diff ins{background:#dcfce7;color:#166534;text-decoration:none}
.wb-static .wb-status,.wb-static .wb-spend{color:#4b5563;font-size:11px;margin-top:4px}
"""
