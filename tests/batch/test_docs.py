"""The README's "Big audits: batch runs" section runs as written, against the batch servers.

Its shell lines go through the real CLI in order (`RUN` is the run the first line made) and
its Python calls run after them; `gpt`, `claude` and `gemini` are the batch wire servers
behind the real SDKs.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from tests.audit.helpers import write, write_wire_config
from workbench.audit import runs
from workbench.cli import main

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
EXERCISE = """
name: capitals
template: "What is the capital of {country}?"
scorer: contains
items:
  - {id: fr, country: France, expected: Paris}
  - {id: jp, country: Japan, expected: Tokyo}
"""


def section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("\n## Big audits: batch runs\n")
    return text[start : text.index("\n## ", start + 1)]


def test_the_readme_batch_examples_run(isolated: Path, batch_wire: dict[str, Any]) -> None:
    toml = write_wire_config(isolated, batch_wire)
    # priced like real models ($2 in, $10 out per million tokens): the budget shown fits
    toml.write_text(
        toml.read_text().replace("input = 1000.0, output = 1000.0", "input = 2, output = 10")
    )
    write(isolated, "capitals.yaml", EXERCISE)
    [commands] = [code for lang, code in BLOCK.findall(section()) if lang == "bash"]
    outputs = []
    for line in commands.splitlines():
        words = shlex.split(line, comments=True)
        assert words[:2] == ["workbench", "audit"], line
        args = [runs()[-1].name if w == "RUN" else w for w in words[1:]]
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, f"{line}\n{result.output}"
        outputs.append(result.output)
    submitted, polled, finished = outputs
    assert "calls submitted in batches" in submitted
    assert "in_progress, 2 submitted, 0 completed, 0 failed" in polled
    assert "2 completed, 0 failed" in finished
    (run,) = runs()
    assert run.status == "complete" and len(run.rows) == 2
    for server in batch_wire.values():
        assert len(server.batches.batched) == 2

    [start, finish] = re.findall(r"`(wb\.audit\.(?:run_audit|resume)\(.*?\))`", section())
    for server in batch_wire.values():
        server.batches.in_progress_polls = 0  # ended at the first poll: no 30 s wait here
    namespace: dict[str, Any] = {}
    exec(f"import workbench as wb\nrun = {start}\nname = run.name", namespace)
    assert namespace["run"].status == "batch-submitted"
    exec(f"run = {finish}", namespace)
    assert namespace["run"].status == "complete"
