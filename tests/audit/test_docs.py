"""Every example in docs/audit.md (and the README's audit section) runs as written.

The page's YAML is the exercise (capitals.yaml), its Python runs in one namespace, and each
line of its shell blocks runs through the real CLI. `gpt` and `claude` are the wire servers
(priced like paid models), `local` is the embedded model. Run names on the page are
placeholders (`1a2b3c4d`, `2026-11-26-capitals-1a2b3c4d`): each new one stands for the
newest run not yet named, as a reader would use the name the last command printed. The
error shown for a bad exercise is the error the page's exercise gives with the two edits
the page describes.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.audit.helpers import prompts_sent, script_answers, write_wire_config
from workbench.audit import runs
from workbench.cli import main

pytestmark = pytest.mark.local_model

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "audit.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
RUN_NAME = re.compile(r"\b(?:\d{4}-\d{2}-\d{2}-[\w-]+?-)?([0-9a-f]{8})\b")
README_RUN = re.compile(r"\b(RUN)\b")
ANSWERS = {
    "gpt": {"France": "Paris.", "Italy": "Rome", "Spain": "Madrid"},
    "claude": {"France": "paris", "Italy": "Milan", "Spain": "Madrid"},
}
BAD_EDITS = (("scorer: normalised", "scorer: fuzzy"), ("country: Spain", "land: Spain"))


def blocks(language: str, text: str | None = None) -> list[str]:
    """The page's (or `text`'s) code blocks in one language, in order."""
    found = BLOCK.findall(DOC.read_text() if text is None else text)
    return [code for lang, code in found if lang == language]


def readme_audit_section() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("\n## Audit runs\n")
    return text[start : text.index("\n## ", start + 1)]


def exercise() -> str:
    [found] = [code for code in blocks("yaml") if code.startswith("name: capitals")]
    return found


class Shell:
    """Runs the page's shell lines through the CLI, naming placeholder runs as they come."""

    def __init__(self, wire: dict[str, Any], placeholders: re.Pattern[str] = RUN_NAME) -> None:
        self.wire = wire
        self.placeholders = placeholders
        self.names: dict[str, str] = {}

    def sent(self) -> int:
        return sum(len(prompts_sent(s)) for s in self.wire.values())

    def name(self, match: re.Match[str]) -> str:
        placeholder = match.group(1)
        if placeholder not in self.names:
            taken = set(self.names.values())
            free = [run.name for run in runs() if run.name not in taken]
            assert free, f"{placeholder} names no run made so far: {match.group(0)}"
            self.names[placeholder] = free[-1]
        real = self.names[placeholder]
        return real if match.group(0) != placeholder else real.rsplit("-", 1)[-1]

    def run(self, line: str) -> str:
        words = shlex.split(line, comments=True)
        assert words[0] == "workbench", line
        args = [self.placeholders.sub(self.name, word) for word in words[1:]]
        before, made = self.sent(), len(runs())
        result = CliRunner().invoke(main, args, input="s\n" * 10)
        assert result.exit_code == 0, f"{line}\n{result.output}"
        assert "Traceback" not in result.output
        if args[:2] == ["audit", "rerun"]:  # replayed unless --live, as the page says
            newest = runs()[-1]
            assert len(runs()) == made + 1
            live = "--live" in args
            assert (newest.manifest["replay_of"] is None) == live
            assert (self.sent() > before) == live
        return str(result.output)


@pytest.fixture
def work(isolated: Path, wire: dict[str, Any]) -> Path:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.skip("the local extra (llama-cpp-python) is not installed")
    toml = write_wire_config(isolated, wire)
    # priced like real models ($2 in, $10 out per million tokens): the pages' budgets fit
    prices = toml.read_text().replace("input = 1000.0, output = 1000.0", "input = 2, output = 10")
    toml.write_text(prices)
    script_answers(wire, ANSWERS)
    (isolated / "capitals.yaml").write_text(exercise())
    return isolated


def test_the_exercise_error_shown_is_the_error_given(isolated: Path) -> None:
    bad = exercise()
    for old, new in BAD_EDITS:
        assert old in bad, f"the page's exercise no longer has {old!r}: update BAD_EDITS"
        bad = bad.replace(old, new)
    (isolated / "capitals.yaml").write_text(bad)
    result = CliRunner().invoke(main, ["audit", "run", "capitals.yaml", "--no-progress"])
    assert result.exit_code == 1
    [shown] = blocks("text")
    got = result.output.splitlines()
    assert len(got) == len(shown.splitlines()), result.output
    for want, line in zip(shown.splitlines(), got, strict=True):
        pattern = ".*".join(re.escape(part) for part in want.split("..."))
        assert re.fullmatch(pattern, line), (want, line)


def test_the_python_example_runs(work: Path) -> None:
    [code] = blocks("python")
    namespace: dict[str, Any] = {}
    exec(compile(code, str(DOC), "exec"), namespace)
    run = namespace["run"]
    assert run.status == "complete", run.summary()
    assert set(run.outcomes().index) == {"fr", "it", "es"}
    assert run.reviews()["it"]["data"]["reason"] == "Rome is right"


def test_the_shell_examples_run(work: Path, wire: dict[str, Any]) -> None:
    shell = Shell(wire)
    lines = [line for code in blocks("bash") for line in code.splitlines() if line.strip()]
    assert lines and all(line.startswith("workbench audit ") for line in lines)
    outputs = [shell.run(line) for line in lines]
    commands = {shlex.split(line)[2] for line in lines}
    assert commands == {
        "run", "list", "review", "resume", "rerun", "diff", "plan", "judges", "combine",
    }  # fmt: skip
    listed = next(out for line, out in zip(lines, outputs, strict=True) if " list" in line)
    assert len(listed.splitlines()) == 1  # the one run made so far, one line
    combined = runs()[-1]
    assert combined.manifest["combined_from"] and combined.status == "complete"


def test_the_readme_audit_examples_run(work: Path, wire: dict[str, Any]) -> None:
    section = readme_audit_section()
    [exercise_text] = blocks("yaml", section)
    (work / "capitals.yaml").write_text(exercise_text)
    [commands] = blocks("bash", section)
    shell = Shell(wire, README_RUN)
    for line in commands.splitlines():
        shell.run(line)
    [python] = re.findall(r"`(wb\.audit\.run_audit\(.*?\))`", section)
    namespace: dict[str, Any] = {}
    exec(f"import workbench as wb\nrun = {python}", namespace)
    assert namespace["run"].status == "complete"
