"""A panel notebook on the wire servers, and what the browser tests measure on it.

The test process runs the wire servers (so it can script them and count their requests);
the notebook's kernel points a Session at them, in a fresh git repository (its lab notebook
is `<repo>/labbook`). Four models: OpenAI, Anthropic, Gemini and an OpenAI-compatible one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nbformat

from tests.conftest import start_server

if TYPE_CHECKING:
    from playwright.sync_api import Locator

MODELS = ["openai:gpt-test", "anthropic:claude-test", "gemini:gemini-test", "lab:llama-test"]
ANSWER = (
    "Rayleigh scattering: shorter wavelengths scatter more, so the sky looks **blue**. "
    "In code, `intensity ∝ 1/λ⁴`:\n\n```python\ndef intensity(wavelength):\n"
    "    return 1 / wavelength**4\n```\n\nAt sunset the light crosses more air, so reds win."
)

SETUP = """\
import os
from workbench.config import Config
from workbench.sessions import Session, reset_session
from workbench.widgets.panel import panel

for name, key in {keys}.items():
    os.environ[name] = key
config = Config.load({config})
session = reset_session(Session(config))
"""
PANEL = "p = panel({models}, session=session)\np"


@contextmanager
def wire_servers() -> Iterator[dict[str, Any]]:
    """The three vendor servers and an OpenAI-compatible one ("lab"), answering ANSWER."""
    servers: dict[str, Any] = {p: start_server(p) for p in ("openai", "anthropic", "gemini")}
    servers["lab"] = start_server("openai", require_auth=False)
    for server in servers.values():
        server.responder = lambda request: ANSWER
    try:
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def requests(servers: dict[str, Any]) -> int:
    """How many requests the servers have received."""
    return sum(len(s.requests) for s in servers.values())


def panel_notebook(path: Path, servers: dict[str, Any], models: list[str] = MODELS) -> Path:
    """A notebook: cell 0 points a Session at the servers, cell 1 shows the panel."""
    providers: dict[str, Any] = {
        p: {"base_url": servers[p].base_url} for p in ("openai", "anthropic", "gemini")
    }
    providers["lab"] = {"type": "compat", "base_url": servers["lab"].base_url}
    config = {
        "providers": providers,
        "run": {"backoff_s": 0.01, "backoff_max_s": 0.05},
        "prices": {
            "openai:gpt-test": {"input": 1.0, "output": 2.0},
            "anthropic:claude-test": {"input": 3.0, "output": 15.0},
            "gemini:gemini-test": {"input": 0.5, "output": 1.5},
        },
    }
    keys = {
        "OPENAI_API_KEY": servers["openai"].api_key,
        "ANTHROPIC_API_KEY": servers["anthropic"].api_key,
        "GEMINI_API_KEY": servers["gemini"].api_key,
    }
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3", "display_name": "Python 3", "language": "python",
    }  # fmt: skip
    nb.cells = [
        nbformat.v4.new_code_cell(SETUP.format(keys=repr(keys), config=repr(config))),
        nbformat.v4.new_code_cell(PANEL.format(models=json.dumps(models))),
    ]
    nbformat.write(nb, path)
    return path


def records(repo: Path, kind: str) -> list[dict[str, Any]]:
    """Every record of `kind` in the repository's lab notebook, in file order."""
    out = []
    for path in sorted((repo / "labbook").rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and (record := json.loads(line))["kind"] == kind:
                out.append(record)
    return out


LAYOUT_PROBLEMS = """
(panel) => {
  const bad = [];
  const shown = (el) => el.getClientRects().length > 0;
  const box = panel.getBoundingClientRect();
  for (const b of panel.querySelectorAll('button')) {
    if (shown(b) && b.scrollWidth > b.clientWidth + 1)
      bad.push(`clipped button "${b.textContent.trim()}": ${b.scrollWidth} > ${b.clientWidth}`);
  }
  const scrollers = [panel, ...panel.querySelectorAll('*')];
  const output = panel.closest('.jp-OutputArea-output');
  if (output) scrollers.push(output);
  for (const el of scrollers) {
    if (!shown(el) || el.closest('pre')) continue;  // a long line of code may scroll
    const s = getComputedStyle(el);
    if (['auto', 'scroll'].includes(s.overflowX) && el.scrollWidth > el.clientWidth + 1)
      bad.push(`horizontal scrollbar on ${el.className}: ${el.scrollWidth} > ${el.clientWidth}`);
  }
  for (const el of panel.querySelectorAll('button, input, textarea, select')) {
    const r = el.getBoundingClientRect();
    if (shown(el) && (r.right > box.right + 1 || r.left < box.left - 1))
      bad.push(`${el.tagName} "${el.textContent.trim() || el.className}" outside the panel`);
  }
  return bad;
}
"""


def layout_problems(panel: Locator) -> list[str]:
    """Clipped buttons, horizontal scrollbars, controls outside the panel: each in words."""
    found: list[str] = panel.evaluate(LAYOUT_PROBLEMS)
    return found


def width(element: Locator) -> float:
    """The element's rendered width in CSS pixels."""
    box = element.bounding_box()
    assert box is not None, "the element is not rendered"
    return float(box["width"])
