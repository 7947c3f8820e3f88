"""The CLI through click's runner, and once end to end as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from tests.conftest import wire_config
from workbench.cli import main
from workbench.session import Session, reset_session


def invoke(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_models_lists_aliases_and_missing_keys() -> None:
    result = invoke("models", "--json")
    assert result.exit_code == 0
    rows = {r["name"]: r for r in map(json.loads, result.output.splitlines())}
    assert rows["gpt"]["ready"] is False and rows["gpt"]["key"] == "OPENAI_API_KEY"
    assert rows["terse"]["model"] == "local:smollm2"
    table = CliRunner().invoke(main, ["models"], env={"COLUMNS": "200"})
    assert "no: set OPENAI_API_KEY" in table.output


def test_an_unknown_model_is_one_line_without_traceback() -> None:
    result = invoke("compare", "hi", "-m", "gtp")
    assert result.exit_code == 1
    assert "Error: unknown model 'gtp'" in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_bad_parameters_and_empty_prompts_are_one_line_errors() -> None:
    for args, message in [
        (("compare", "hi", "-m", "local", "-t", "5"), "temperature must be a number from 0 to 2"),
        (("compare", "  ", "-m", "local"), "the prompt is empty"),
        (("compare", "hi", "-m", "local", "-n", "0"), "samples must be a whole number"),
        (("compare", "hi", "-m", "local", "-m", "local"), "a model is named twice"),
    ]:
        result = invoke(*args)
        assert result.exit_code == 1, args
        assert message in result.output and "Traceback" not in result.output


def test_compare_prints_answers_side_by_side_and_exits_1_when_one_fails(
    wire: dict[str, Any], monkeypatch: Any
) -> None:
    reset_session(Session(wire_config(wire)))  # type: ignore[arg-type]
    monkeypatch.delenv("GEMINI_API_KEY")
    try:
        result = CliRunner().invoke(
            main,
            [
                "compare",
                "hello",
                "-m",
                "openai:gpt-test",
                "-m",
                "anthropic:claude-test",
                "-m",
                "gemini:gemini-test",
            ],
        )
    finally:
        reset_session()
    assert result.exit_code == 1
    assert result.output.count("echo: hello") == 2
    assert "MissingKey" in result.output and "GEMINI_API_KEY" in result.output
    assert "1 of 3 calls failed (gemini:gemini-test)" in result.output


def test_compare_json_gives_one_reply_per_line(wire: dict[str, Any]) -> None:
    reset_session(Session(wire_config(wire)))  # type: ignore[arg-type]
    try:
        result = invoke("compare", "hello", "-m", "openai:gpt-test", "--json", "-t", "0")
    finally:
        reset_session()
    lines = [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]
    assert result.exit_code == 0
    assert lines[0]["text"] == "echo: hello" and lines[0]["resolved"] == "openai:gpt-test"
    assert lines[0]["error"] is None and lines[0]["attempts"] == 1


def test_quickstart_end_to_end_on_the_local_model(isolated: Path) -> None:
    exe = Path(sys.executable).with_name("workbench")
    done = subprocess.run([str(exe), "quickstart"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    for label in ("local", "terse", "teacher"):
        assert label in done.stdout
    assert "jupyter lab notebooks/quickstart.ipynb" in done.stdout.replace("\n", " ")
    assert "Traceback" not in done.stderr
