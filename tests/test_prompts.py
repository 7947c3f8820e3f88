"""Prompt files: prompts/NAME.md, filled in, and which version of it produced each record."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import workbench as wb
from tests.labbook.helpers import git, new_repo
from tests.test_magics import execute, html_of, text_of
from tests.workflows.conftest import write
from tests.workflows.scripted import Script, registered
from workbench.cli import main
from workbench.errors import InvalidPrompt
from workbench.labbook import lookup
from workbench.labbook.book import records
from workbench.labbook.chain import prompt_hash

REFEREE = """\
---
role: referee
model: claude
system: You are a demanding referee.
temperature: 0.2
max_tokens: 300
description: A referee report.
---
Referee this paper. Keep {{braces}} and {"json": 1} as they are.

{paper}
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = new_repo(tmp_path / "research")
    monkeypatch.chdir(path)
    write(path, {"prompts/referee.md": REFEREE})
    return path


@pytest.fixture
def script(repo: Path) -> Iterator[Script]:
    yield from registered(repo)


def test_a_prompt_file_is_filled_in_and_names_its_version(repo: Path) -> None:
    prompt = wb.prompt("referee", paper="Rainbows are refraction.")
    assert prompt.text == (
        'Referee this paper. Keep {braces} and {"json": 1} as they are.\n\nRainbows are refraction.'
    )
    assert prompt.system == "You are a demanding referee."
    assert prompt.params.to_dict() == {"temperature": 0.2, "max_tokens": 300}
    origin = prompt.origin
    assert origin is not None and (origin.name, origin.path) == ("referee", "prompts/referee.md")
    assert origin.blob == git(repo, "hash-object", "prompts/referee.md")
    assert origin.blob == git(repo, "rev-parse", "HEAD:prompts/referee.md")
    assert origin.dirty is False

    (repo / "prompts/referee.md").write_text(REFEREE.replace("demanding", "grumpy"))
    changed = wb.prompt("referee", paper="x").origin
    assert changed is not None and changed.dirty is True
    assert changed.blob == git(repo, "hash-object", "prompts/referee.md") != origin.blob
    write(repo, {"prompts/new.md": "Hello {name}.\n"}, message=None)  # untracked
    untracked = wb.prompt("new", name="Ada")
    assert untracked.origin is not None and untracked.origin.dirty is True


def test_the_origin_is_beside_the_request_never_part_of_it(repo: Path) -> None:
    from_file = wb.prompt("referee", paper="P")
    typed = wb.Prompt.of(from_file.text, system=from_file.system, temperature=0.2, max_tokens=300)
    assert typed.origin is None
    assert from_file.to_dict() == typed.to_dict() and from_file == typed
    assert prompt_hash("openai:gpt-5.4", from_file) == prompt_hash("openai:gpt-5.4", typed)
    assert from_file.followed_by("answer", "more?").origin is None


@pytest.mark.parametrize(
    ("text", "call", "wanted"),
    [
        (REFEREE, {}, r"prompts/referee.md needs \{paper\}: give paper=\.\.\."),
        (REFEREE, {"paper": "x", "papr": "y"}, r"has no field \{papr\}: it has \{paper\}"),
        ("---\nmodle: claude\n---\nHi\n", {}, r"unknown key 'modle' in the front matter"),
        ("---\nmodel: a: b\n---\nHi\n", {}, r"the front matter is not YAML \(line 2\)"),
        ("---\nmodel: claude\nHi\n", {}, r"the front matter has no closing '---' line"),
        ("---\ntemperature: 5\n---\nHi\n", {}, r"prompts/referee.md: temperature must be"),
        ("---\nmodel: claude\n---\n\n", {}, r"has no text after its front matter"),
        ("---\nschema: nope.json\n---\nHi\n", {}, r"schema nope.json: cannot read it"),
    ],
)
def test_a_bad_prompt_file_or_call_is_one_line_naming_the_file(
    repo: Path, text: str, call: dict[str, str], wanted: str
) -> None:
    (repo / "prompts/referee.md").write_text(text)
    with pytest.raises(InvalidPrompt, match=wanted) as raised:
        wb.prompt("referee", **call)
    assert "\n" not in str(raised.value)


def test_an_unknown_prompt_names_the_ones_there_are(repo: Path) -> None:
    with pytest.raises(
        InvalidPrompt, match=r"no prompt 'refere': write prompts/refere.md: there are referee"
    ):
        wb.prompt("refere")
    with pytest.raises(InvalidPrompt, match="is not a prompt name"):
        wb.prompt("../secrets")


def test_calls_record_the_prompt_file_and_frames_name_it(repo: Path, script: Script) -> None:
    first = wb.compare(wb.prompt("referee", paper="P1"), models=["claude"])
    (repo / "prompts/referee.md").write_text(REFEREE.replace("demanding", "grumpy"))
    second = wb.compare(wb.prompt("referee", paper="P2"), models=["claude"])
    wb.compare("typed by hand", models=["claude"])
    follow = first.follow_up("and the methods?")
    assert all(r.ok for r in follow)

    calls = {r["id"]: r for r in records(repo / "labbook") if r["kind"] == "call"}
    origin = calls[first.record_ids[0]]["prompt"]["origin"]
    blob = git(repo, "rev-parse", "HEAD:prompts/referee.md")
    assert origin == {"name": "referee", "path": "prompts/referee.md", "blob": blob, "dirty": False}
    assert calls[second.record_ids[0]]["prompt"]["origin"]["dirty"] is True
    assert "origin" not in calls[follow.record_ids[0]]["prompt"]

    frame = wb.log.to_frame(kind="call").set_index("id")
    assert frame.loc[first.record_ids[0], "prompt_name"] == "referee"
    assert frame.loc[first.record_ids[0], "prompt_version"] == blob[:12]
    dirty = wb.log.to_frame(kind="call").set_index("id").loc[second.record_ids[0]]
    assert dirty["prompt_version"].endswith("-dirty") and dirty["prompt_name"] == "referee"
    assert frame["prompt_name"].isna().sum() == 2  # typed by hand, and the follow-up


def test_the_cli_sends_a_prompt_file_by_name_and_log_lists_its_uses(
    repo: Path, script: Script
) -> None:
    (repo / "paper.md").write_text("Rainbows are refraction.\n")
    runner = CliRunner()
    done = runner.invoke(main, ["compare", "--prompt", "referee", "--field", "paper=@paper.md"])
    assert done.exit_code == 0, done.output
    sent = script.calls("claude")  # the prompt file's own model, as no -m was given
    assert len(sent) == 1 and sent[0].text.endswith("\n\nRainbows are refraction.")
    assert sent[0].system == "You are a demanding referee."
    done = runner.invoke(main, ["compare", "-p", "referee", "--field", "paper=short", "-m", "gpt"])
    assert done.exit_code == 0 and len(script.calls("gpt")) == 1
    runner.invoke(main, ["compare", "unrelated", "-m", "gpt"])

    log = runner.invoke(main, ["log", "--prompt", "referee"])
    lines = log.output.strip().splitlines()
    blob = git(repo, "rev-parse", "HEAD:prompts/referee.md")[:12]
    assert len(lines) == 2 and all(f"[referee@{blob}]" in line for line in lines), log.output
    assert "unrelated" not in log.output
    with pytest.MonkeyPatch.context() as patch:  # a big lab notebook's way: through the frame
        patch.setattr(lookup, "BIG_BYTES", 0)
        assert runner.invoke(main, ["log", "--prompt", "referee"]).output == log.output

    for args, wanted in [
        (["compare", "-p", "referee", "--field", "paper=x", "-t", "0.5"], "-t cannot be used"),
        (["compare", "hi", "-p", "referee"], "give PROMPT or --prompt referee, not both"),
        (["compare", "--field", "paper=x"], "give --prompt NAME too"),
        (["compare", "-p", "referee", "--field", "paper"], "write NAME=VALUE"),
        (["compare", "-p", "referee"], "needs {paper}: --field paper=VALUE"),
        (["compare"], "give a PROMPT"),
    ]:
        bad = runner.invoke(main, args)
        assert bad.exit_code == 1 and wanted in bad.output, (args, bad.output)
        assert "Traceback" not in bad.output


def test_the_flow_prompts_command_lists_prompt_files_with_their_version(repo: Path) -> None:
    done = CliRunner().invoke(main, ["flow", "prompts"])
    blob = git(repo, "rev-parse", "HEAD:prompts/referee.md")[:12]
    assert done.exit_code == 0
    assert done.output.split() == ["referee", "referee", "claude", blob, "{paper}"]


@pytest.mark.local_model
def test_the_magic_sends_a_prompt_file_the_cell_filling_a_field(tmp_path: Path) -> None:
    text = "---\nmodel: terse\nmax_tokens: 8\n---\nA word on {topic}, for {reader}.\n"
    write(tmp_path, {"prompts/word.md": text}, message=None)
    outputs = execute(
        tmp_path,
        "%load_ext workbench",
        'reader = "a child"\nweather = "rain"',
        "%%compare --prompt word --out cmp\n{weather}",
        "import json\nr = cmp.jobs[0].prompt\n"
        "print(json.dumps([list(cmp.models), r.text, r.origin.name, cmp[cmp.models[0]].ok]))",
        "%%compare local --prompt word -t 0\nrain",
        "%%compare local --prompt word --field reader\nme",
        "%%compare local --prompt word --field nope\nrain",
        "del reader",
        "%%compare --prompt word\nrain",
    )
    assert not [o for o in outputs[2] if o.output_type == "error"], text_of(outputs[2])
    assert "A word on rain, for a child." in html_of(outputs[2])
    assert json.loads(outputs[3][0]["text"]) == [
        ["terse"],
        "A word on rain, for a child.",
        "word",
        True,
    ]
    assert "--temperature cannot be used with a prompt file" in text_of(outputs[4])
    assert "needs {topic}: define them in the notebook" in text_of(outputs[5])
    assert "has {topic}, {reader}: name the one the cell fills" in text_of(outputs[6])
    assert "needs {reader}: define them in the notebook" in text_of(outputs[8])
    assert "Traceback" not in "".join(text_of(o) for o in outputs)


def test_import_stays_cheap_and_wb_prompt_and_wb_workflow_stay_functions() -> None:
    code = (
        "import sys, workbench.prompts, workbench.workflows, workbench as wb\n"
        "assert callable(wb.prompt) and callable(wb.workflow)\n"
        "assert 'prompt' in wb.__all__ and 'workflow' in wb.__all__\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    cheap = "import sys, workbench\nassert 'yaml' not in sys.modules and 'git' not in sys.modules"
    subprocess.run([sys.executable, "-c", cheap], check=True, timeout=60)
