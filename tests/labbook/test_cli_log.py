"""`workbench log`, `log show`, `log verify`, `log export`, `note`, `init`: a real lab notebook."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.conftest import wire_config
from tests.labbook.helpers import MODELS, commits, git, recorded, subject
from workbench.cli import main
from workbench.labbook.book import files, records
from workbench.sessions import Session, reset_session


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


@dataclass
class Book:
    root: Path
    ids: dict[str, str]
    """Named record ids."""

    def records(self) -> list[dict[str, Any]]:
        """Every record in time order (as `workbench log` and the exports list them)."""
        return records(self.root)


@pytest.fixture
def book(repo: Path, wire: dict[str, Any]) -> Book:
    """Two comparisons, a pick and a note, recorded and committed in the research repo."""
    with Session(wire_config(wire)) as session:  # type: ignore[arg-type]
        assert session.labbook is not None
        first = session.compare("What is 2+2?", MODELS[:2])
        session.labbook.commit()  # commits run in the background: this one now
        pick = first.pick(MODELS[0], "short", tags=["math"])
        second = session.compare("Name a prime", MODELS[2])
        session.labbook.commit()
        note = second.note("check it", tags=["todo"])
    ids = {
        "gpt": first.record_id(MODELS[0]),
        "claude": first.record_id(MODELS[1]),
        "gemini": second.record_id(MODELS[2]),
        "pick": pick["id"],
        "note": note["id"],
    }
    return Book(repo / "labbook", ids)


def first_commits(repo: Path, path: Path) -> list[str]:
    """The commit that added each line of a file, from `git blame` (append-only files)."""
    out = git(repo, "blame", "-l", "--root", "-s", "--", str(path.relative_to(repo)))
    return [line.split()[0] for line in out.splitlines()]


def commit_of(repo: Path, book: Book) -> dict[str, str]:
    """Each record's hash -> the commit that first held it."""
    out: dict[str, str] = {}
    for path in files(book.root):
        lines = path.read_text().splitlines()
        for line, sha in zip(lines, first_commits(repo, path), strict=True):
            out[json.loads(line)["hash"]] = sha
    return out


# -- workbench log, log show ------------------------------------------------------------------


@pytest.fixture(params=["record by record", "through the frame"])
def search(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Both ways `workbench log` finds records: read one by one, or (a big lab notebook)
    through the frame's sidecars, then parsed from their lines."""
    from workbench.labbook import cache, lookup

    framed = request.param == "through the frame"
    monkeypatch.setattr(lookup, "BIG_BYTES", 0 if framed else 2**62)
    yield str(request.param)
    made = list((cache.cache_home() / "frames").rglob("*.arrow"))  # what a frame leaves
    assert bool(made) == framed, f"the test did not find records {request.param}"


def test_log_lists_recent_entries_one_line_each(book: Book) -> None:
    result = invoke("log")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    expected = book.records()
    assert len(lines) == len(expected) == 6
    for line, record in zip(lines, expected, strict=True):
        assert record["id"][-8:] in line and record["kind"] in line
        assert line.startswith(record["ts"][:19].replace("T", " "))
    gpt = next(line for line in lines if book.ids["gpt"][-8:] in line)
    assert "openai:gpt-test: 'What is 2+2?' -> 'echo: What is 2+2?'" in gpt
    pick = next(line for line in lines if book.ids["pick"][-8:] in line)
    assert f"pick {book.ids['gpt'][-8:]} short" in pick
    assert lines[-1].endswith("check it")
    assert invoke("log", "-n", "2").output.splitlines() == lines[-2:]
    zero = invoke("log", "-n", "0")
    assert zero.exit_code == 2 and "0 is not in the range x>=1" in zero.output


def test_log_filters_by_model_kind_and_tag(book: Book, search: str) -> None:
    def ids(*args: str) -> list[str]:
        result = invoke("log", *args)
        assert result.exit_code == 0, result.output
        return [line.split()[2] for line in result.output.splitlines()]

    short = {name: record_id[-8:] for name, record_id in book.ids.items()}
    assert ids("--model", MODELS[2]) == [short["gemini"]]
    calls = ids("--kind", "call")  # the first comparison's two calls in the order they ended
    assert sorted(calls[:2]) == sorted([short["gpt"], short["claude"]])
    assert calls[2:] == [short["gemini"]]
    assert ids("--kind", "call", "-n", "1") == [short["gemini"]]
    assert ids("--tag", "todo") == [short["note"]]
    assert ids("--tag", "math", "--kind", "decision") == [short["pick"]]
    nothing = invoke("log", "--model", "nobody")
    assert nothing.exit_code == 0 and "no entry matches" in nothing.output
    bad = invoke("log", "--kind", "gossip")
    assert bad.exit_code == 2 and "'gossip' is not one of" in bad.output


def test_log_on_an_empty_lab_notebook_says_what_to_do(repo: Path) -> None:
    result = invoke("log")
    assert result.exit_code == 0
    assert "is empty: run `workbench compare ...` first" in result.output


def test_log_show_prints_one_record_by_its_last_eight_characters(book: Book, search: str) -> None:
    record = next(r for r in book.records() if r["id"] == book.ids["claude"])
    result = invoke("log", "show", book.ids["claude"][-8:].lower())
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == record
    missing = invoke("log", "show", "ZZZZZZZZ")
    assert missing.exit_code == 1 and "no record 'ZZZZZZZZ'" in missing.output
    assert len(missing.output.strip().splitlines()) == 1 and "Traceback" not in missing.output
    many = invoke("log", "show", "")
    assert many.exit_code == 1 and "matches 6 records: give more characters" in many.output


# -- workbench log verify ---------------------------------------------------------------------


def test_log_verify_passes_then_names_the_tampered_line(book: Book, repo: Path) -> None:
    result = invoke("log", "verify")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "ok: 6 records in 1 file, every chain intact"

    (path,) = files(book.root)
    lines = path.read_text().splitlines(keepends=True)
    number = next(i for i, line in enumerate(lines, 1) if book.ids["claude"] in line)
    lines[number - 1] = lines[number - 1].replace("echo: What is 2+2?", "echo: 5")
    path.write_text("".join(lines))
    result = invoke("log", "verify")
    assert result.exit_code == 1
    where = f"{path.relative_to(repo)}:{number}"
    assert f"{where}: record {book.ids['claude']} was edited" in result.output
    assert "FAILED: 1 file with problems" in result.output and "Traceback" not in result.output


# -- workbench log export -----------------------------------------------------------------------


def export(tmp_path: Path, fmt: str, *options: str) -> str:
    out = tmp_path / f"record.{fmt}"
    result = invoke("log", "export", "--format", fmt, "-o", str(out), *options)
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output
    return out.read_text()


def in_order(text: str, needles: list[str]) -> None:
    found = [text.find(n) for n in needles]
    assert -1 not in found, [n for n, at in zip(needles, found, strict=True) if at < 0]
    assert found == sorted(found)


def test_export_md_and_html_hold_every_record_in_order_with_hash_and_first_commit(
    book: Book, repo: Path, tmp_path: Path
) -> None:
    expected = book.records()
    commit = commit_of(repo, book)
    assert len(set(commit.values())) == 4  # two comparisons, a pick and a note
    for fmt in ("md", "html"):
        text = export(tmp_path, fmt)
        in_order(text, [r["hash"] for r in expected])
        blocks = re.split(r"(?=### )|(?=<article )", text)
        for record in expected:  # the commit is given in the record's own entry
            (entry,) = [b for b in blocks if record["hash"] in b]
            assert commit[record["hash"]] in entry, (fmt, record["kind"])
        today = datetime.now(UTC).date().isoformat()
        assert today in text and "workbench log verify" in text
        assert "6 (3 calls, 1 decision, 1 note, 1 session)" in text
        assert "$0.0" in text and "openai:gpt-test (openai:gpt-test) × 1" in text
    html = export(tmp_path, "html")
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html and "src=" not in html


def test_export_jsonl_and_csv_parse_back_to_every_record(
    book: Book, repo: Path, tmp_path: Path
) -> None:
    expected = book.records()
    lines = [json.loads(line) for line in export(tmp_path, "jsonl").splitlines()]
    assert lines == recorded(book.root)  # verbatim, each session's chain in order
    rows = list(csv.DictReader(io.StringIO(export(tmp_path, "csv"))))
    assert [row["hash"] for row in rows] == [r["hash"] for r in expected]
    assert [row["id"] for row in rows] == [r["id"] for r in expected]
    gpt = next(row for row in rows if row["id"] == book.ids["gpt"])
    assert gpt["text"] == "echo: What is 2+2?" and gpt["model"] == MODELS[0]
    assert json.loads(next(row for row in rows if row["id"] == book.ids["pick"])["tags"]) == [
        "math"
    ]


def test_export_filters(book: Book, tmp_path: Path) -> None:
    def exported(*options: str) -> list[str]:
        return [json.loads(line)["id"] for line in export(tmp_path, "jsonl", *options).splitlines()]

    every = [r["id"] for r in recorded(book.root)]
    today = datetime.now(UTC).date()
    assert exported("--since", str(today), "--until", str(today)) == every
    assert exported("--since", str(today + timedelta(days=1))) == []
    assert exported("--until", str(today - timedelta(days=1))) == []

    def only(*names: str) -> list[str]:  # those records, in file order
        wanted = {book.ids[name] for name in names}
        return [i for i in every if i in wanted]

    assert exported("--model", MODELS[2]) == only("gemini", "note")
    assert exported("--model", MODELS[0], "--model", MODELS[2]) == only(
        "gpt", "pick", "gemini", "note"
    )
    assert exported("--tag", "math") == only("gpt", "claude", "pick")
    assert exported("--tag", "todo") == only("gemini", "note")
    empty = export(tmp_path, "md", "--tag", "nothing")
    assert "none" in empty and "Tag filter:** nothing" in empty
    to_stdout = invoke("log", "export", "--format", "jsonl", "--tag", "todo")
    assert [json.loads(line)["id"] for line in to_stdout.output.splitlines()] == exported(
        "--tag", "todo"
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (("--since", "2026-13-01"), "--since '2026-13-01' is not a date: use YYYY-MM-DD"),
        (("--until", "yesterday"), "--until 'yesterday' is not a date: use YYYY-MM-DD"),
        (("--format", "pdf"), "Invalid value for '--format'"),
    ],
)
def test_bad_export_options_are_one_line_errors(
    repo: Path, args: tuple[str, ...], message: str
) -> None:
    result = invoke("log", "export", *args)
    assert result.exit_code in (1, 2)
    assert message in result.output and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


# -- workbench note, workbench init -------------------------------------------------------------


def test_note_records_and_commits_a_free_note(book: Book, repo: Path) -> None:
    reset_session()  # `workbench note` runs in a fresh process: a fresh default session here
    try:
        result = invoke("note", "Ran the ablation twice", "--tag", "x", "--on", book.ids["gpt"])
        blank = invoke("note", "   ")
    finally:
        reset_session()
    assert result.exit_code == 0, result.output
    note = book.records()[-1]  # the latest, in a session file of its own
    assert note["kind"] == "note" and note["data"] == {"text": "Ran the ablation twice"}
    assert note["tags"] == ["x"] and note["links"] == [book.ids["gpt"]]
    assert result.output.startswith(f"noted {note['id']} in {book.root}")
    assert subject(repo) == "note (1 record)"
    assert git(repo, "status", "--porcelain") == ""
    assert blank.exit_code == 1 and "a note needs some text" in blank.output
    assert "Traceback" not in blank.output


def test_init_makes_a_lab_notebook_repository(repo: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "lab"
    result = invoke("init", str(target))
    assert result.exit_code == 0, result.output
    assert f"lab notebook ready at {target}" in result.output
    snippet = result.output.split("add to workbench.toml:", 1)[1]
    assert tomllib.loads(snippet) == {"labbook": {"path": str(target)}}
    assert (target / ".git").is_dir() and "workbench log verify" in (
        target / "README.md"
    ).read_text()
    assert subject(target) == "Start the lab notebook"
    assert invoke("init", str(target)).exit_code == 0
    assert len(commits(target)) == 1  # opening again changes nothing


def test_the_installed_command_end_to_end(book: Book, repo: Path) -> None:
    exe = Path(sys.executable).with_name("workbench")
    done = subprocess.run(
        [str(exe), "log", "-n", "3"], cwd=repo, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == invoke("log", "-n", "3").output.splitlines()
    done = subprocess.run(
        [str(exe), "log", "export", "--since", "not-a-date"],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == "Error: --since 'not-a-date' is not a date: use YYYY-MM-DD\n"


def test_a_compare_from_the_shell_is_recorded_with_its_command(
    repo: Path, wire: dict[str, Any]
) -> None:
    base_url = wire["openai"].base_url
    (repo / "workbench.toml").write_text(f'[providers.openai]\nbase_url = "{base_url}"\n')
    exe = Path(sys.executable).with_name("workbench")
    command = [str(exe), "compare", "Is the shell recorded?", "-m", "openai:gpt-test"]
    done = subprocess.run(command, cwd=repo, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    (call,) = [r for r in recorded(repo / "labbook") if r["kind"] == "call"]
    assert call["source"] == "workbench compare Is the shell recorded? -m openai:gpt-test"
    assert call["reply"]["text"] == "echo: Is the shell recorded?"
    assert subject(repo) == "compare: 'Is the shell recorded?' on openai:gpt-test (1 record)"
    assert git(repo, "status", "--porcelain", "--", "labbook") == ""
