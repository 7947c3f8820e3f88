"""Files sent with prompts: stored once in the lab notebook by sha256, committed, verified.

Real sessions on the local model (it reads text files and refuses images, which are
recorded all the same), a real git repository, the real CLI.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.labbook.helpers import calls, changed, git
from tests.labbook.test_secrets import everything_written
from workbench.cli import main
from workbench.config import Config
from workbench.errors import InvalidPrompt, LabBookUnwritable
from workbench.labbook import filestore, open_labbook
from workbench.labbook.book import files
from workbench.labbook.verify import FILE_CHANGED, FILE_MISSING, verify
from workbench.providers import registry
from workbench.providers.base import Prompt, Reply
from workbench.providers.content import File
from workbench.run import Job, Listener, Runner
from workbench.sessions import Session

NOTES = b"Ada keeps three cats: Tom, Mia and Rex.\n"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))  # not UTF-8: stored byte for byte
KEY = "sk-proj-" + "A1b2C3d4" * 4


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stored(root: Path) -> list[Path]:
    """Every file in the lab notebook's files folder."""
    return sorted(p for p in (root / "files").rglob("*") if p.is_file())


@pytest.fixture
def notes(repo: Path) -> Path:
    path = repo / "notes.txt"
    path.write_bytes(NOTES)
    return path


def test_a_file_is_stored_once_by_its_hash_across_calls_and_sessions_and_committed(
    repo: Path, notes: Path
) -> None:
    with Session(Config.load()) as session:
        session.compare("How many cats?", ["local", "terse"], files=[notes], max_tokens=8)
    with Session(Config.load()) as session:  # another session, the same bytes by another name
        again = repo / "copy.txt"
        again.write_bytes(NOTES)
        session.compare("Name them.", "local", files=[again], max_tokens=8)
    root = repo / "labbook"
    where = root / "files" / sha(NOTES)[:2] / sha(NOTES)
    assert stored(root) == [where] and where.read_bytes() == NOTES
    # by time: two sessions begun in the same second have files in either order by name
    recorded = sorted(calls(root), key=lambda r: str(r["ts"]))
    assert len(recorded) == 3
    named = [r["prompt"]["messages"][-1]["files"] for r in recorded]
    first = {"name": "notes.txt", "media_type": "text/plain", "size": len(NOTES)}
    assert named[:2] == [[{**first, "sha256": sha(NOTES)}]] * 2
    assert named[2] == [{**first, "name": "copy.txt", "sha256": sha(NOTES)}]
    tracked = git(repo, "ls-files", "labbook/files")
    assert tracked == f"labbook/files/{sha(NOTES)[:2]}/{sha(NOTES)}"
    assert git(repo, "status", "--porcelain", "labbook") == ""  # records and file, committed
    report = verify(files(root))
    assert report.ok and report.stored_checked == 1
    assert report.summary().endswith("in 2 files and 1 stored file, every chain intact")


def test_a_binary_file_is_stored_as_it_is_even_when_the_model_refuses_it(repo: Path) -> None:
    figure = repo / "fig.png"
    figure.write_bytes(PNG)
    with Session(Config.load()) as session:
        comparison = session.compare("What does it show?", "local", files=[figure])
    error = comparison["local"].error
    assert error is not None and error.type == "Unsupported"  # the local model reads text only
    (record,) = calls(repo / "labbook")
    assert record["reply"]["error"]["type"] == "Unsupported"
    assert record["prompt"]["messages"][-1]["files"][0]["sha256"] == sha(PNG)
    (kept,) = stored(repo / "labbook")
    assert kept.read_bytes() == PNG and kept.name == sha(PNG)
    assert (
        sorted(changed(repo))
        == [  # one commit: the records and the file they name
            str(record_file(repo).relative_to(repo)),
            f"labbook/files/{sha(PNG)[:2]}/{sha(PNG)}",
        ]
    )


def record_file(repo: Path) -> Path:
    (path,) = files(repo / "labbook")
    return path


def test_no_record_names_a_file_that_could_not_be_stored(repo: Path, notes: Path) -> None:
    root = repo / "labbook"
    root.mkdir()
    (root / "files").write_text("in the way\n")  # the files folder cannot be made
    with Session(Config.load()) as session, pytest.raises(LabBookUnwritable, match="in the way"):
        session.compare("How many cats?", "local", files=[notes], max_tokens=4)
    assert calls(root) == []


def test_admit_refuses_a_text_file_holding_a_secret_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    book = open_labbook(Config.load({"labbook": {"git": False}}), "S", root=tmp_path / "lb")
    shaped = File.of(f"OPENAI_API_KEY={KEY}\n".encode(), ".env.txt", "text/plain")
    with pytest.raises(InvalidPrompt) as refused:
        book.admit([Prompt.of("Check my config.", files=[shaped])])
    assert str(refused.value) == (
        ".env.txt holds what looks like a secret (an API key or token): remove it from the "
        "file and send it again (nothing was sent; the lab notebook keeps files as they are, "
        "so it cannot redact one)"
    )
    monkeypatch.setenv("LAB_DB_PASSWORD", "correct horse battery")  # an exact value, any shape
    exact = File.of(b"login: correct horse battery\n", "login.md")
    with pytest.raises(InvalidPrompt, match=r"^login\.md holds what looks like a secret"):
        book.admit([Prompt.of("Fine?"), Prompt.of("Read it.", files=[exact])])
    binary = File.of(PNG + KEY.encode(), "fig.png")  # stored as it is: not looked into
    book.admit([Prompt.of("Plain.", files=[File.of(b"no secret here", "a.txt"), binary])])
    book.pause("off the record")
    book.admit([Prompt.of("Paused: nothing is kept.", files=[shaped])])
    book.close()


def test_a_session_refuses_a_text_file_holding_a_key_before_anything_is_sent(repo: Path) -> None:
    (repo / "env.txt").write_text(f"OPENAI_API_KEY={KEY}\n")
    refused = pytest.raises(InvalidPrompt, match=r"^env\.txt holds what looks like a secret")
    with Session(Config.load()) as session, refused:
        session.compare("Check my settings.", "local", files=["env.txt"], max_tokens=4)
    assert calls(repo / "labbook") == [] and not (repo / "labbook" / "files").exists()


class Recording(Listener):
    """Records each finished call in a lab notebook, as a session's recorder does."""

    def __init__(self, record: Any) -> None:
        self.record = record
        self.futures: list[Future[dict[str, Any]]] = []

    def finished(self, job: Job, reply: Reply) -> None:
        self.futures.append(self.record(job, reply))


def test_a_secret_file_sent_without_admit_is_recorded_by_hash_but_not_kept(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = Config.load()
    book = open_labbook(config, "S", root=repo / "labbook")
    secret = File.of(f"key = {KEY}\n".encode(), "config.txt")
    plain = File.of(NOTES, "notes.txt")
    listener = Recording(book.record_call)
    job = Job.plan(registry.resolve("local", config), Prompt.of("Hi", files=[secret, plain]))
    asyncio.run(Runner(config, listener=listener).run([job]))  # a runner without a session
    (record,) = [f.result() for f in listener.futures]
    book.commit("the call")
    book.close()
    named = record["prompt"]["messages"][-1]["files"]
    assert [f.get("stored", True) for f in named] == [False, True]
    assert named[0]["sha256"] == sha(secret.data)
    assert stored(repo / "labbook") == [filestore.path_of(repo / "labbook", sha(NOTES))]
    assert "config.txt was sent but is not kept in the lab notebook" in capsys.readouterr().err
    assert KEY.encode() not in everything_written(repo)  # files, .git, every object
    assert verify(files(repo / "labbook")).ok  # a file withheld is not a file missing


@pytest.fixture
def kept(repo: Path, notes: Path) -> tuple[Path, dict[str, Any]]:
    """A committed call on the local model that sent notes.txt: (its stored file, its record)."""
    with Session(Config.load()) as session:
        session.compare("How many cats?", "local", files=[notes], max_tokens=4)
    (record,) = calls(repo / "labbook")
    return filestore.path_of(repo / "labbook", sha(NOTES)), record


def test_verify_reports_a_stored_file_missing_or_changed_like_a_broken_chain(
    repo: Path, kept: tuple[Path, dict[str, Any]]
) -> None:
    path, record = kept
    root = repo / "labbook"
    path.unlink()
    report = verify(files(root))
    assert not report.ok
    (problem,) = report.problems
    assert problem.kind == FILE_MISSING and problem.record_id == record["id"]
    assert (problem.path, problem.line) == (record_file(repo), 2)  # after the session record
    relative = f"files/{sha(NOTES)[:2]}/{sha(NOTES)}"
    assert problem.message == (
        f"record {record['id']} names notes.txt (sha256 {sha(NOTES)[:12]}…), but "
        f"{relative} is missing"
    )
    path.write_bytes(NOTES.replace(b"three", b"four"))
    (problem,) = verify(files(root)).problems
    assert problem.kind == FILE_CHANGED
    assert problem.message.endswith(f"{relative} was changed (its bytes no longer have that hash)")
    result = CliRunner().invoke(main, ["log", "verify"])
    assert result.exit_code == 1
    assert f"but {relative} was changed" in result.output
    assert "FAILED: 1 file with problems" in result.output
    os.chmod(path, 0o644)
    path.write_bytes(NOTES)
    assert CliRunner().invoke(main, ["log", "verify"]).exit_code == 0


def test_verify_refuses_a_record_that_names_a_file_by_a_path(tmp_path: Path) -> None:
    book = open_labbook(Config.load({"labbook": {"git": False}}), "S", root=tmp_path / "lb")
    # A record naming "../../x" by hash must not send verify reading outside the folder.
    book.append("call", prompt={"messages": [{"role": "user", "content": "hi",
                "files": [{"name": "x", "sha256": "../../../etc/passwd"}]}]})  # fmt: skip
    book.close()
    (problem,) = verify(files(tmp_path / "lb")).problems
    assert problem.kind == FILE_MISSING and "which is not a sha256" in problem.message


def test_a_committed_stored_file_that_was_changed_is_never_committed_again(
    repo: Path, kept: tuple[Path, dict[str, Any]], notes: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, _ = kept
    os.chmod(path, 0o644)
    path.write_bytes(b"rewritten\n")
    with Session(Config.load()) as session:  # more records: committed, the change is not
        session.compare("And now?", "local", max_tokens=4)
    relative = f"labbook/files/{sha(NOTES)[:2]}/{sha(NOTES)}"
    assert git(repo, "show", f"HEAD:{relative}") == NOTES.decode().rstrip("\n")
    assert git(repo, "status", "--porcelain", relative) == f" M {relative}"
    assert len(calls(repo / "labbook")) == 2
    sessions = [str(p) for p in files(repo / "labbook")]
    assert git(repo, "status", "--porcelain", "--", *sessions) == ""  # the records: committed
    said = capsys.readouterr().err
    assert "lab notebook files not committed because what was committed of them was " in said
    assert f"changed or removed (run `workbench log verify`): {relative}" in said
