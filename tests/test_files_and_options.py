"""Files, schemas and reasoning reach every entry point, and a model that cannot take them says so
in its own column before anything is sent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.conftest import wire_config
from workbench.cli import main
from workbench.errors import Unsupported
from workbench.providers.content import File, Schema
from workbench.sessions import Session

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def test_a_model_that_cannot_read_a_file_kind_says_so_and_is_not_called(
    isolated: Path, wire: dict[str, Any]
) -> None:
    (isolated / "fig.png").write_bytes(PNG)
    with Session(wire_config(wire), labbook=False) as session:  # type: ignore[arg-type]
        comparison = session.compare(
            "What does it show?", ["local", "openai:gpt-test"], files=["fig.png"]
        )
    local = comparison["local"]
    assert local.error is not None and local.error.is_a(Unsupported), local
    assert "cannot read fig.png (image/png)" in local.error.message
    assert local.attempts == 0 and local.cost_usd == 0.0


def test_files_are_read_once_named_by_hash_and_hashed_with_the_request(isolated: Path) -> None:
    (isolated / "a.txt").write_text("alpha")
    (isolated / "b.txt").write_text("beta")
    with Session(labbook=False) as session:
        _, _, jobs = session.plan(["one", "two"], ["local"], files=["a.txt"])
        _, _, other = session.plan(["one"], ["local"], files=["b.txt"])
    assert jobs[0].prompt.files[0] is jobs[1].prompt.files[0]  # read once for every prompt
    sent = jobs[0].prompt.to_dict()["messages"][-1]["files"][0]
    assert sent == {
        "name": "a.txt",
        "media_type": "text/plain",
        "size": 5,
        "sha256": File.of(b"alpha", "a.txt").sha256,
    }
    from workbench.labbook.chain import prompt_hash

    assert prompt_hash("local:smollm2", jobs[0].prompt) != prompt_hash(
        "local:smollm2", other[0].prompt
    )


def test_bad_files_and_schemas_are_one_line_errors_before_anything_is_sent(isolated: Path) -> None:
    from workbench.errors import InvalidOption, InvalidPrompt

    with Session(labbook=False) as session:
        with pytest.raises(InvalidPrompt, match="cannot read the file"):
            session.compare("x", ["local"], files=["missing.png"])
        (isolated / "blob").write_bytes(b"\x00\x01\x02")
        with pytest.raises(InvalidPrompt, match=r"cannot tell what kind of file blob is"):
            session.compare("x", ["local"], files=["blob"])
        with pytest.raises(InvalidOption, match="not a valid JSON Schema"):
            session.compare("x", ["local"], schema={"type": "nonsense"})
        with pytest.raises(InvalidOption, match="schema must be a JSON Schema"):
            session.compare("x", ["local"], schema=42)  # type: ignore[arg-type]


def test_the_cli_sends_files_schemas_and_reasoning_and_refuses_bad_ones(isolated: Path) -> None:
    (isolated / "fig.png").write_bytes(PNG)
    runner = CliRunner()
    result = runner.invoke(
        main, ["compare", "What is it?", "-m", "local", "-f", "fig.png", "--json"]
    )
    assert result.exit_code == 1
    reply = json.loads(result.stdout.splitlines()[0])
    assert reply["error"]["type"] == "Unsupported" and reply["attempts"] == 0
    (isolated / "schema.json").write_text("{not json")
    result = runner.invoke(main, ["compare", "x", "-m", "local", "--schema", "schema.json"])
    assert result.exit_code == 1 and "--schema schema.json: not JSON" in result.output
    result = runner.invoke(main, ["compare", "x", "-m", "local", "-r", "extreme"])
    assert result.exit_code == 1 and "reasoning must be low, medium, high" in result.output
    result = runner.invoke(main, ["compare", "x", "-m", "local", "-r", "high", "--json"])
    reply = json.loads(result.stdout.splitlines()[0])
    assert reply["error"]["type"] == "Unsupported" and "reasoning" in reply["error"]["message"]


def test_a_schema_from_a_pydantic_model_parses_into_the_model() -> None:
    from pydantic import BaseModel

    class Paper(BaseModel):
        title: str
        year: int

    schema = Schema.of(Paper)
    assert schema.name == "Paper" and schema.json_schema["required"] == ["title", "year"]
    value = schema.parse('```json\n{"title": "On LLMs", "year": 2026}\n```')
    assert isinstance(value, Paper) and value.year == 2026
    from workbench.errors import InvalidOutput

    with pytest.raises(InvalidOutput, match="at year") as caught:
        schema.parse('{"title": "x", "year": "soon"}')
    assert caught.value.raw == '{"title": "x", "year": "soon"}'
