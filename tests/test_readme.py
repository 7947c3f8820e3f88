"""Every example in the README runs as written (the audit section: tests/audit/test_docs.py).

The Python blocks run, in order, as the cells of one notebook on a real kernel (magics and
top-level `async for` included) in a git repository; `gpt`, `claude` and `gemini` are the wire
servers behind the real SDKs, `local` and its variants the embedded model. Then the shell
blocks run through the real `workbench` command in the same repository, on what the notebook
recorded. The TOML blocks are loaded as configuration (tests/test_config.py). The install
commands are what CI and the fresh-clone check run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.test_magics import execute, text_of

pytestmark = pytest.mark.local_model

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
WIRE_MODELS = {
    "openai": "gpt-5.4",
    "anthropic": "claude-opus-4-6",
    "gemini": "gemini-3-pro-preview",
}
ABSTRACT = 'abstract = "We measure how often three language models agree on capitals."'
RECORD_ID = "7F3K2Q9A"  # the README's placeholder for a record id


def readme_blocks(language: str) -> list[str]:
    """The README's code blocks in `language` ("" for plain blocks), outside its audit section."""
    text = (ROOT / "README.md").read_text()
    start = text.index("\n## Audit runs\n")
    text = text[:start] + text[text.index("\n## ", start + 1) :]
    return [code for lang, code in BLOCK.findall(text) if lang == language]


def notebook_cells() -> list[str]:
    """The Python blocks and the magic's cell, in the README's order.

    Not those of the audit section, nor of the workflows section (tests/workflows/test_docs.py
    runs it, in a repository of its own).
    """
    text = (ROOT / "README.md").read_text()
    start, end = text.index("\n## Audit runs\n"), text.index("\n## What each dependency is for\n")
    text = text[:start] + text[end:]
    cells = []
    for lang, code in BLOCK.findall(text):
        if lang == "python":
            cells.append(code)
        elif lang == "" and code.startswith("%%compare"):
            cells += [ABSTRACT, code]  # the magic takes {abstract} from the notebook
    return cells


@pytest.fixture
def repo(isolated: Path, wire: dict[str, Any]) -> Path:
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=isolated, check=True)
    for key, value in (("user.name", "Ada"), ("user.email", "ada@example.org")):
        subprocess.run(["git", "config", key, value], cwd=isolated, check=True)
    lines = ["[run]", "backoff_s = 0.01", "retries = 1"]
    for provider, server in wire.items():
        lines += [f"[providers.{provider}]", f'base_url = "{server.base_url}"']
    (isolated / "workbench.toml").write_text("\n".join(lines) + "\n")
    (isolated / "prompt.txt").write_text("What is 2+2?\n")
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64  # the files the examples attach
    for name in ("fig.png", "fig2.png"):
        (isolated / name).write_bytes(png)
    (isolated / "paper.pdf").write_bytes(b"%PDF-1.4\n% a stand-in paper\n%%EOF\n")
    return isolated


def test_the_python_examples_run_in_a_notebook_and_the_shell_examples_after_them(
    repo: Path, wire: dict[str, Any]
) -> None:
    cells = notebook_cells()
    assert any("%%compare" in c for c in cells) and any("async for" in c for c in cells)
    outputs = execute(repo, *cells)
    for source, out in zip(cells, outputs, strict=True):
        errors = [o for o in out if o.output_type == "error"]
        assert not errors, f"{source}\n-> {text_of(out)}"
    for provider, model in WIRE_MODELS.items():  # the aliases reached the wire servers
        assert any(r.body.get("model") == model or model in r.path for r in wire[provider].requests)
    assert (repo / "record.html").is_file()
    records = sorted((repo / "labbook").glob("*/*/*/*.jsonl"))
    assert records, "nothing was recorded in the repository's lab notebook"

    record_id = _a_call_id(records[0])
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    for block in readme_blocks("bash"):
        for line in block.splitlines():
            line = line.split("  #", 1)[0].strip()
            if not line.startswith("workbench ") or line.startswith("workbench audit"):
                continue  # install commands (CI runs them) and audits (their own test)
            line = line.replace(RECORD_ID, record_id[-8:])
            done = subprocess.run(
                ["bash", "-c", line], cwd=repo, env=env, capture_output=True, text=True
            )
            assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
            assert "Traceback" not in done.stderr, line
    assert (repo / "november.md").is_file()
    log = subprocess.run(["git", "log", "--format=%s"], cwd=repo, capture_output=True, text=True)
    assert "compare" in log.stdout and "note" in log.stdout


def _a_call_id(path: Path) -> str:
    import json

    for line in path.read_text().splitlines():
        record = json.loads(line)
        if record["kind"] == "call":
            return str(record["id"])
    raise AssertionError(f"no call record in {path}")
