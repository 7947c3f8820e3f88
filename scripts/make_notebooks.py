"""Write the example notebooks from this source, so they stay reviewable as code."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent


def quickstart() -> nbformat.NotebookNode:
    """The no-key tour: compare local variants, tables, then how to add real providers."""
    cells = [
        new_markdown_cell(
            "# Quickstart: several models side by side\n\n"
            "This notebook runs with **no API key and no network**: it compares variants of "
            "the embedded local model (SmolLM2-135M-Instruct). An alias such as `terse` bundles "
            "a model with a system prompt and parameters, so variants compare like different "
            "models. Set `OPENAI_API_KEY`, `ANTHROPIC_API_KEY` or `GEMINI_API_KEY` and the same "
            "cells work with `gpt`, `claude` and `gemini`."
        ),
        new_code_cell("import workbench as wb\n\nwb.models()"),
        new_markdown_cell("## One prompt, three models, side by side"),
        new_code_cell(
            'cmp = wb.compare(\n    "Why is the sky blue? One sentence.",\n'
            '    models=["local", "terse", "teacher"],\n)\ncmp'
        ),
        new_markdown_cell("Every comparison is a pandas DataFrame too: one row per answer."),
        new_code_cell(
            'cmp.to_frame()[["model", "text", "output_tokens", "latency_s", "first_token_s", '
            '"cost_usd"]]'
        ),
        new_markdown_cell("## Several prompts: a prompt x model table"),
        new_code_cell(
            "many = wb.compare(\n"
            '    ["What is 2+2?", "Name a primary colour.", "What is the capital of France?"],\n'
            '    models=["local", "terse"],\n    max_tokens=32,\n)\nmany.pivot()'
        ),
        new_markdown_cell(
            "## With your own keys\n\n"
            "```python\n"
            'wb.compare("Draft a title for my paper on ...", models=["gpt", "claude", "gemini", '
            '"local"])\n'
            "```\n\n"
            "Spending caps: `wb.compare(..., budget_usd=0.50)` refuses any call that could cross "
            "the cap before it is sent; `[budget] session_usd` in `workbench.toml` caps the "
            "session."
        ),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    return nb


if __name__ == "__main__":
    target = ROOT / "notebooks" / "quickstart.ipynb"
    nbformat.write(quickstart(), target)
    print(f"wrote {target.relative_to(ROOT)}")
