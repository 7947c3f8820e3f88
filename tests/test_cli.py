"""The CLI through click's runner, and once end to end as a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.conftest import wire_config
from tests.labbook.helpers import calls
from workbench.cli import main
from workbench.config import Config
from workbench.labbook import locate
from workbench.sessions import Session, reset_session

WORKBENCH = str(Path(sys.executable).with_name("workbench"))


def invoke(*args: str, input: bytes | str | None = None) -> Any:
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def one_line_error(result: Any, message: str) -> None:
    """Exit status 1 and one line, `Error: ...message...`, with no traceback."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert message in result.output, result.output


def recorded_calls() -> list[dict[str, Any]]:
    return calls(locate(Config.load()))


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
        (("compare", "hi", "-m", "local", "-n", "-1"), "samples must be a whole number"),
        (("compare", "hi", "-m", "local", "-m", "local"), "a model is named twice"),
        (("compare", "hi", "-m", "local", "-m", " local"), "a model is named twice"),
        (("compare", "hi", "-m", "local", "--seed", "-1"), "--seed must be a whole number from 0"),
        (("compare", "hi", "-m", "local", "--seed", str(2**32)), "--seed must be a whole number"),
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
    done = subprocess.run([WORKBENCH, "quickstart"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    for label in ("local", "terse", "teacher"):
        assert label in done.stdout
    assert "jupyter lab notebooks/quickstart.ipynb" in done.stdout.replace("\n", " ")
    assert "Traceback" not in done.stderr


# -- machine output, stdin, and options checked before anything is sent ---------------------


def test_json_is_only_json_lines_on_stdout(isolated: Path) -> None:
    done = subprocess.run(
        [WORKBENCH, "compare", "-", "-m", "local", "-m", "terse", "--max-tokens", "8", "--json"],
        input=b"Name a colour.\n",
        capture_output=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.decode().splitlines()
    replies = [json.loads(line) for line in lines]  # every line of stdout is JSON
    assert [r["model"] for r in replies] == ["local", "terse"]
    assert all(r["error"] is None and r["text"] for r in replies)
    assert "recorded 2 calls" in done.stderr.decode()


def test_stdin_and_an_argument_send_the_same_request(isolated: Path) -> None:
    reset_session()  # this test's lab notebook
    base = ("-m", "local", "--max-tokens", "1")
    assert invoke("compare", "Say X.", *base).exit_code == 0
    assert invoke("compare", "-", *base, input=b"Say X.\n").exit_code == 0
    assert invoke("compare", "-", *base, input=b"Say X.\r\n\n").exit_code == 0
    assert invoke("compare", "-", *base, input="\ufeffSay X.".encode()).exit_code == 0
    records = recorded_calls()
    assert len(records) == 4
    assert {r["prompt"]["messages"][-1]["content"] for r in records} == {"Say X."}
    assert len({r["request_hash"] for r in records}) == 1


def test_stdin_that_is_not_utf8_is_one_line(isolated: Path) -> None:
    reset_session()
    one_line_error(
        invoke("compare", "-", "-m", "local", input=b"caf\xe9 au lait\n"),
        "the prompt must be UTF-8 text",
    )
    assert recorded_calls() == []


def test_an_argument_that_is_not_utf8_is_one_line(isolated: Path) -> None:
    for args in ([b"caf\xe9"], [b"hi", b"-s", b"caf\xe9"], [b"hi", b"-m", b"loc\xe9"]):
        done = subprocess.run(
            [WORKBENCH, "compare", *args, "-m", "local"], capture_output=True, timeout=120
        )
        assert done.returncode == 1, done.stderr
        err = done.stderr.decode()
        assert "must be UTF-8 text" in err and "Traceback" not in err, err
        assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("value", ["nan", "NaN", "-1", "inf", "-inf", "-0.01", "lots"])
def test_a_budget_that_is_no_amount_is_refused(value: str) -> None:
    result = CliRunner().invoke(main, ["compare", "hi", "-m", "local", "--budget", value])
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "--budget" in result.output
    if value != "lots":  # click's own message for text that is no number at all
        one_line_error(result, "--budget must be a number of USD >= 0")


def test_a_budget_of_zero_allows_free_models(isolated: Path) -> None:
    reset_session()
    result = invoke("compare", "hi", "-m", "local", "--max-tokens", "1", "--budget", "0")
    assert result.exit_code == 0, result.output


def test_max_calls_bounds_a_run_before_anything_is_built(isolated: Path) -> None:
    reset_session()
    one_line_error(
        invoke("compare", "hi", "-m", "local", "-m", "terse", "-n", "3", "--max-calls", "5"),
        "this run would make 6 calls",
    )
    one_line_error(invoke("compare", "hi", "-m", "local", "-n", "1000000"), "above the bound")
    one_line_error(invoke("compare", "hi", "-m", "local", "-n", "6000"), "of 5,000")
    for bad in ("0", "-3"):
        one_line_error(
            invoke("compare", "hi", "-m", "local", "--max-calls", bad),
            "--max-calls must be a whole number of at least 1",
        )
    assert recorded_calls() == []
    result = invoke(
        "compare", "hi", "-m", "local", "-n", "2", "--max-calls", "2", "--max-tokens", "1"
    )
    assert result.exit_code == 0, result.output
    assert len(recorded_calls()) == 2


def test_a_lab_notebook_path_in_the_way_is_one_line(isolated: Path) -> None:
    (isolated / "blocker").write_text("a file, not a folder")
    env = {**os.environ, "WORKBENCH_LABBOOK": str(isolated / "blocker" / "labbook")}
    done = subprocess.run(
        [WORKBENCH, "compare", "hi", "-m", "local", "--max-tokens", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert str(isolated / "blocker") in done.stderr


def test_a_model_name_with_spaces_around_it_is_that_model(isolated: Path) -> None:
    reset_session()
    result = invoke("compare", "hi", "-m", " local ", "--max-tokens", "1", "--seed", str(2**31 - 1))
    assert result.exit_code == 0, result.output
    assert [r["model"] for r in recorded_calls()] == ["local"]


def test_no_stream_asks_for_whole_answers(wire: dict[str, Any]) -> None:
    reset_session(Session(wire_config(wire)))  # type: ignore[arg-type]
    try:
        for flag in ((), ("--no-stream",)):
            result = invoke("compare", "hello", "-m", "openai:gpt-test", *flag)
            assert result.exit_code == 0 and "echo: hello" in result.output, result.output
    finally:
        reset_session()
    asked = [bool(r.body.get("stream")) for r in wire["openai"].requests]
    assert asked == [True, False]
