"""Exercise items that send files: named by fields, checked at load, kept by the run.

The runs use the scripted provider (tests/audit/scripted.py): the run, the Runner, the
lab notebook and resume/replay are the real ones.
"""

from __future__ import annotations

import hashlib
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.audit.helpers import write
from tests.audit.scripted import Script, registered
from workbench.audit import combine, load, rerun, resume, run_audit
from workbench.audit.files import FILES
from workbench.cli import main
from workbench.config import Config
from workbench.errors import ExerciseError
from workbench.labbook.chain import prompt_hash
from workbench.providers.base import Prompt

PNG_A = b"\x89PNG\r\n\x1a\n" + b"figure a: a rising line"
PNG_B = b"\x89PNG\r\n\x1a\n" + b"figure b: a falling line"
PDF = b"%PDF-1.4\n" + b"a small paper\n%%EOF\n"


@pytest.fixture
def script(isolated: Path) -> Iterator[Script]:
    yield from registered(isolated)


def figures(folder: Path) -> None:
    (folder / "figs").mkdir(exist_ok=True)
    (folder / "figs" / "a.png").write_bytes(PNG_A)
    (folder / "figs" / "b.png").write_bytes(PNG_B)
    (folder / "paper.pdf").write_bytes(PDF)
    (folder / "notes.md").write_text("# Notes\nThe line rises.\n")


FIGURES = """
name: figures
instructions: Answer in one word.
template: "Does the line in the figure rise or fall?"
files: [figure]
scorer: normalised
models: [a, b]
items:
  - {id: up, figure: figs/a.png, expected: rise}
  - {id: down, figure: figs/b.png, expected: fall}
"""


def answer_by_figure(model: str, prompt: Prompt) -> str:
    """Both models read the figure's bytes: 'rising' -> rise, 'falling' -> fall."""
    data = b"".join(f.data for f in prompt.files)
    return "rise" if b"rising" in data else "fall" if b"falling" in data else "no figure"


def test_fields_named_by_files_send_the_files_they_name(isolated: Path, script: Script) -> None:
    figures(isolated)
    write(isolated, "data/items.csv", "id,figure,expected\nup,figs/a.png,rise\nnone,,x\n")
    ex = load(write(isolated, "ex.yaml", FIGURES), Config.load())
    assert ex.files == ("figure",)
    up, down = ex.items
    [f] = up.files
    assert (f.field, f.path, f.name, f.media_type) == ("figure", "figs/a.png", "a.png", "image/png")
    assert (f.size, f.sha256) == (len(PNG_A), hashlib.sha256(PNG_A).hexdigest())
    assert up.fields["figure"] == "figs/a.png"  # the template can still name the path
    assert [x.sha256 for x in down.files] == [hashlib.sha256(PNG_B).hexdigest()]

    several = FIGURES.replace("figure: figs/a.png", "figure: [figs/a.png, paper.pdf, notes.md]")
    ex = load(write(isolated, "several.yaml", several))
    assert [(f.name, f.media_type) for f in ex.items[0].files] == [
        ("a.png", "image/png"),
        ("paper.pdf", "application/pdf"),
        ("notes.md", "text/markdown"),
    ]
    from_csv = FIGURES.split("items:")[0] + "items: {file: data/items.csv}\n"
    ex = load(write(isolated, "csv.yaml", from_csv))
    assert [len(i.files) for i in ex.items] == [1, 0]  # an empty cell sends no file

    globbed = FIGURES.split("items:")[0] + 'items: {glob: "figs/*.png", as: figure}\n'
    ex = load(write(isolated, "glob.yaml", globbed))  # binary files: paths, not texts
    assert [(i.id, i.fields["figure"], i.files[0].name) for i in ex.items] == [
        ("figs/a.png", "figs/a.png", "a.png"),
        ("figs/b.png", "figs/b.png", "b.png"),
    ]


def problems_of(path: Path) -> list[tuple[str, int | None, str, str]]:
    with pytest.raises(ExerciseError) as caught:
        load(path, Config.load())
    return [(p.file, p.line, p.field, p.message) for p in caught.value.problems]


def test_every_file_that_cannot_be_sent_is_a_problem_with_file_line_and_field(
    isolated: Path,
) -> None:
    figures(isolated)
    (isolated.parent / "secret.txt").write_text("outside")
    (isolated / "figs" / "archive.zip").write_bytes(b"PK\x03\x04zip")
    (isolated / "figs" / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    unreadable = socket.socket(socket.AF_UNIX)  # a file even root cannot read
    unreadable.bind("figs/socket.png")
    write(isolated, "data/items.csv", "id,figure\nok,figs/a.png\ngone,figs/gone.png\n")
    text = """
    name: bad-files
    template: "What does it show?"
    files: figure
    items:
      - id: missing
        figure: figs/nope.png
      - id: folder
        figure: figs
      - id: outside
        figure: ../secret.txt
      - id: absolute
        figure: /etc/hostname
      - id: zip
        figure: figs/archive.zip
      - id: latin
        figure: [figs/a.png, figs/latin1.txt]
      - id: number
        figure: 42
      - id: lacking
        picture: figs/a.png
      - id: socket
        figure: figs/socket.png
    """
    try:
        write(isolated, "bad.yaml", text)
        found = problems_of(Path("bad.yaml"))  # problems name the file as it was given
    finally:
        unreadable.close()
    by_field = {field: (file, line, message) for file, line, field, message in found}
    assert len(found) == 9, found
    assert by_field["items[0].figure"][:2] == ("bad.yaml", 6)
    assert "no file figs/nope.png" in by_field["items[0].figure"][2]
    assert "is a folder" in by_field["items[1].figure"][2]
    assert "outside the exercise's folder" in by_field["items[2].figure"][2]
    assert "not relative" in by_field["items[3].figure"][2]
    assert "application/zip" in by_field["items[4].figure"][2]
    assert by_field["items[5].figure[1]"][1:] == (
        16,
        "figs/latin1.txt is not UTF-8 text: save it as UTF-8",
    )
    assert "not 42" in by_field["items[6].figure"][2]
    assert by_field["items[7].figure"][1] == 19  # the item's line: it has no such field
    assert "has no field 'figure', which files: names" in by_field["items[7].figure"][2]
    assert "cannot read" in by_field["items[8].figure"][2]

    from_csv = "name: c\ntemplate: 'Show?'\nfiles: [figure]\nitems: {file: data/items.csv}\n"
    write(isolated, "csv.yaml", from_csv)
    [(file, line, field, message)] = problems_of(Path("csv.yaml"))
    assert (file, line, field) == ("data/items.csv", 3, "data/items.csv row 3.figure")
    assert "no file figs/gone.png" in message


def test_a_run_sends_the_files_and_resume_and_replay_find_their_calls(
    isolated: Path, script: Script
) -> None:
    figures(isolated)
    write(isolated, "figures.yaml", FIGURES)
    failing = {"b"}  # b fails on its first try at every item: the items end in error

    def answer(model: str, prompt: Prompt) -> str:
        return "!400" if model in failing else answer_by_figure(model, prompt)

    script.answer = answer
    run = run_audit("figures.yaml", progress=False, notebook=False)
    assert run.status == "complete-with-errors"
    sent = script.prompts("a")
    assert sorted([(f.name, f.data) for f in p.files] for p in sent) == [
        [("a.png", PNG_A)],
        [("b.png", PNG_B)],
    ]
    assert sorted((run.path / FILES).iterdir()) == sorted(
        run.path / FILES / hashlib.sha256(data).hexdigest() for data in (PNG_A, PNG_B)
    )
    # the request hash covers the bytes: same text, other figure, another request
    assert prompt_hash("scripted:a", sent[0]) != prompt_hash("scripted:a", sent[1])

    (isolated / "figs" / "a.png").write_bytes(PNG_B)  # the originals change after the run began
    failing.clear()
    before = len(script.received)
    done = resume(run.name, progress=False, notebook=False)
    assert done.status == "complete"
    again = script.received[before:]
    assert [m for m, _ in again] == ["b", "b"], "a's answers were found by their request hash"
    assert sorted(p.files[0].data for _, p in again) == sorted(
        [PNG_A, PNG_B]
    )  # the run's own copies
    assert [str(o) for o in done.outcomes()["outcome"]] == ["agree-correct", "agree-correct"]
    shown = done.compare("up")  # side by side, with the figure the models were sent
    assert [f.data for f in shown.prompts[0].files] == [PNG_A]

    before = len(script.received)
    replayed = rerun(run.name, progress=False)
    assert len(script.received) == before, "a replay sends nothing"
    assert replayed.manifest["replay_of"] == run.name
    assert replayed.answers().equals(done.answers())
    assert sorted(p.name for p in (replayed.path / FILES).iterdir()) == sorted(
        p.name for p in (run.path / FILES).iterdir()
    )


def test_a_model_that_cannot_read_a_kind_of_file_fails_in_its_own_answers(
    isolated: Path, script: Script
) -> None:
    figures(isolated)
    write(isolated, "figures.yaml", FIGURES.replace("models: [a, b]", "models: [a, plain]"))
    script.answer = answer_by_figure
    run = run_audit("figures.yaml", progress=False, notebook=False)
    assert run.status == "complete-with-errors"
    answers = run.answers().set_index(["item", "model"])
    assert list(answers.loc[("up", "a"), ["text", "correct"]]) == ["rise", True]
    refused = answers.loc[("up", "plain"), "error"]
    assert refused.startswith("Unsupported: textonly:plain cannot read a.png (image/png)")
    assert [m for m, _ in script.received] == ["a", "a"], "nothing was sent to plain"


def test_a_text_file_holding_a_key_is_refused_in_one_line(isolated: Path, script: Script) -> None:
    figures(isolated)
    (isolated / "notes.md").write_text("Use sk-proj-FAKEauditPastedOpenAI0123456789abcd here\n")
    write(isolated, "figures.yaml", FIGURES.replace("figs/a.png", "[figs/a.png, notes.md]"))
    result = CliRunner().invoke(main, ["audit", "run", "figures.yaml", "--no-progress"])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    assert "notes.md (item up, field figure) holds a key-like string" in result.output
    assert not list((isolated.parent / "home").rglob("audits/*")), "no run was made"
    assert script.received == []


def test_shards_with_files_combine_and_the_combination_replays(
    isolated: Path, script: Script
) -> None:
    figures(isolated)
    write(isolated, "figures.yaml", FIGURES)
    script.answer = answer_by_figure
    one = run_audit("figures.yaml", shard="1/2", progress=False, notebook=False)
    two = run_audit("figures.yaml", shard="2/2", progress=False, notebook=False)
    assert [len(list((r.path / FILES).iterdir())) for r in (one, two)] == [1, 1]  # its own only
    combined = combine([one.name, two.name])
    assert len(list((combined.path / FILES).iterdir())) == 2
    before = len(script.received)
    replayed = rerun(combined.name, progress=False)  # reads every item's file from its copies
    assert len(script.received) == before
    assert replayed.outcomes().equals(combined.outcomes())


def test_a_judge_sees_the_files_it_grades_answers_about(isolated: Path, script: Script) -> None:
    figures(isolated)
    judged = FIGURES.replace("scorer: normalised", "scorer: {type: judge, model: b}")
    write(isolated, "figures.yaml", judged.replace("models: [a, b]", "models: [a]"))
    script.answer = lambda model, prompt: "PASS: it does" if model == "b" else "rise"
    run = run_audit("figures.yaml", progress=False, notebook=False)
    assert run.status == "complete"
    asked = script.prompts("b")
    assert sorted(p.files[0].data for p in asked) == sorted([PNG_A, PNG_B])
    assert all("Answer to grade:\nrise" in p.text for p in asked)
