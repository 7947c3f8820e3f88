"""Hostile-but-fair input to the lab notebook: one clear line, nothing sent, nothing lost."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.conftest import wire_config
from tests.labbook.helpers import MODELS, git
from workbench import notices
from workbench.cli import main
from workbench.config import Config
from workbench.errors import InvalidOption, LabBookUnwritable
from workbench.export import export
from workbench.labbook import store
from workbench.labbook.book import LabBook, files
from workbench.labbook.git import GitSync
from workbench.labbook.query import load_records
from workbench.labbook.verify import verify
from workbench.labbook.when import moment
from workbench.sessions import Session


@pytest.fixture(autouse=True)
def said_afresh() -> None:
    """Each test hears its `once` notices again."""
    notices.forget()


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def assert_one_line_error(result: Result, *parts: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for part in parts:
        assert part in lines[0], (part, lines[0])


# -- a line that is not a record --------------------------------------------------------------


def test_log_show_and_export_name_the_file_and_line_that_is_not_a_record(repo: Path) -> None:
    book = LabBook(repo / "labbook", "s1", git=None)
    ids = [book.append("note", data={"text": str(i)})["id"] for i in range(3)]
    book.close()
    lines = book.path.read_text().splitlines(keepends=True)
    book.path.write_text("".join([*lines[:2], "{this is not json\n", *lines[2:]]))
    where = f"{book.path}:3"
    for args in (
        ["log"],
        ["log", "-n", "1"],
        ["log", "show", ids[0][-8:]],
        ["log", "export"],
        ["log", "export", "--format", "csv"],
    ):
        assert_one_line_error(invoke(*args), where, "not JSON")
    assert invoke("log", "verify").exit_code == 1


# -- text that UTF-8 cannot hold ----------------------------------------------------------------


def test_lone_surrogates_are_recorded_as_replacement_characters(repo: Path) -> None:
    root = repo / "labbook"
    book = LabBook(root, "s1", git=GitSync.open(root, research_repo=repo))
    reply = json.loads('{"text": "half a pair: \\ud800, and the other: \\udfff"}')
    record = book.append(
        "call",
        model="m",
        prompt={"messages": [{"role": "user", "content": "x\ud83dy"}], "params": {}},
        reply=reply,
        tags=["t\udc80"],
    )
    assert record["reply"]["text"] == "half a pair: \ufffd, and the other: \ufffd"
    assert record["prompt"]["messages"][0]["content"] == "x\ufffdy"
    assert record["tags"] == ["t\ufffd"]
    book.compared("what is \ud800?", ["m"])
    assert book.commit() is not None
    assert git(repo, "log", "-1", "--format=%s") == "compare: 'what is \ufffd?' on m (1 record)"
    book.close()
    (line,) = [x for x in store.read(book.path) if x.record["kind"] == "call"]
    assert line.record == record
    assert verify(files(root)).ok
    shown = invoke("log")
    assert shown.exit_code == 0 and "x\ufffdy" in shown.output
    assert "\ufffd" in export(load_records(files(root)), "md")


# -- a lab notebook that cannot be written -----------------------------------------------------


def config_at(wire: dict[str, Any], path: Path, git_on: bool = True) -> Config:
    config: Any = wire_config(wire)
    import dataclasses

    book = dataclasses.replace(config.labbook, path=str(path), git=git_on)
    return dataclasses.replace(config, labbook=book)


@pytest.mark.parametrize("git_on", [True, False])
@pytest.mark.parametrize("where", ["a file", "under a file"])
def test_a_lab_notebook_path_taken_by_a_file_is_refused_at_session_start(
    tmp_path: Path, wire: dict[str, Any], git_on: bool, where: str
) -> None:
    occupied = tmp_path / "occupied"
    occupied.write_text("not a folder\n")
    path = occupied if where == "a file" else occupied / "labbook"
    with pytest.raises(LabBookUnwritable) as caught:
        Session(config_at(wire, path, git_on))
    message = str(caught.value)
    assert str(path) in message and "\n" not in message
    assert "[labbook] path" in message
    assert occupied.read_text() == "not a folder\n"
    assert all(not server.requests for server in wire.values())  # type: ignore[attr-defined]


def test_the_shell_says_so_in_one_line_and_sends_nothing(
    tmp_path: Path, wire: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    occupied = tmp_path / "occupied"
    occupied.write_text("")
    monkeypatch.setenv("WORKBENCH_LABBOOK", str(occupied))
    base_url = wire["openai"].base_url  # type: ignore[attr-defined]
    Path("workbench.toml").write_text(f'[providers.openai]\nbase_url = "{base_url}"\n')
    exe = Path(sys.executable).with_name("workbench")  # a fresh process: a fresh session
    command = [str(exe), "compare", "hello", "-m", "openai:gpt-test"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith(f"Error: the lab notebook at {occupied} cannot be written")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert not wire["openai"].requests  # type: ignore[attr-defined]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through any permission bits")
def test_a_read_only_folder_is_refused_at_session_start(
    tmp_path: Path, wire: dict[str, Any]
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        for path in (locked, locked / "labbook"):
            with pytest.raises(LabBookUnwritable, match="cannot be written"):
                Session(config_at(wire, path, git_on=False))
    finally:
        locked.chmod(0o700)


def test_a_first_write_that_fails_is_a_lab_notebook_error(tmp_path: Path) -> None:
    (tmp_path / "occupied").write_text("")
    book = LabBook(tmp_path / "occupied", "s1", git=None)
    with pytest.raises(LabBookUnwritable, match="occupied"):
        book.append("note", data={"text": "nowhere to go"})
    book.close()


# -- arguments of the wrong kind ---------------------------------------------------------------


def test_bad_arguments_are_invalid_options(tmp_path: Path) -> None:
    book = LabBook(tmp_path / "labbook", "s1", git=None)
    call = book.append("call", model="m")
    with pytest.raises(InvalidOption, match=r"verdict must be one of .* not 'maybe'"):
        book.decide("maybe", [call["id"]])
    with pytest.raises(InvalidOption, match="not among the records judged"):
        book.decide("pick", [call["id"]], choice="someone else")
    with pytest.raises(InvalidOption, match="a note needs some text"):
        book.note("  ")
    book.close()
    with pytest.raises(InvalidOption, match="format must be one of"):
        export([], "pdf")
    with pytest.raises(InvalidOption, match="is not a date or time"):
        moment("yesterday")


def test_init_prints_a_snippet_that_is_valid_toml(repo: Path, tmp_path: Path) -> None:
    target = tmp_path / 'odd "folder" \\ name' / "lab"
    result = invoke("init", str(target))
    assert result.exit_code == 0, result.output
    snippet = result.output.split("add to workbench.toml:", 1)[1]
    assert tomllib.loads(snippet) == {"labbook": {"path": str(target)}}


# -- where the records go ----------------------------------------------------------------------


def test_outside_a_git_repository_the_user_data_folder_is_named_once(
    wire: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    git(Path.cwd(), "config", "--global", "user.email", "ada@example.org")  # HOME is tmp_path's
    git(Path.cwd(), "config", "--global", "user.name", "Ada")
    session = Session(wire_config(wire))  # type: ignore[arg-type]
    assert capsys.readouterr().err == ""  # nothing said before anything is recorded
    session.compare("hi", MODELS[0])
    assert session.labbook is not None
    folder = Path(os.environ["XDG_DATA_HOME"]) / "workbench" / "labbook"
    assert session.labbook.root == folder
    session.labbook.close()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("workbench: "), err
    assert str(folder) in err and "[labbook] path" in err and "WORKBENCH_LABBOOK" in err
    session.compare("again", MODELS[0])
    session.labbook.close()
    assert capsys.readouterr().err == ""  # said once
    session.close()
