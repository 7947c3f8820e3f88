"""`workbench desk ...` through the real CLI, in a real repository; the files `cat` shows."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.labbook.helpers import changed, git, new_repo, subject
from workbench.cli import main


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = new_repo(tmp_path / "research")
    monkeypatch.chdir(path)
    return path


def test_the_desk_from_the_shell(repo: Path) -> None:
    runner = CliRunner()
    empty = runner.invoke(main, ["desk"])
    assert "nothing on the desk: `workbench desk add TITLE --for ROLE` puts a task" in empty.output

    added = runner.invoke(
        main,
        ["desk", "add", "Check the units", "--for", "referee", "--why", "SI units only",
         "--body-file", "-", "--about", "paper/draft.md"],
        input="Every quantity in section 2.\n",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    task = added.output.split()[1]
    text = (repo / f"desk/tasks/{task}.md").read_text()
    assert text.startswith("---\nkind: task\ntitle: Check the units\nfor: referee\nwhy: SI units")
    assert "about:\n- paper/draft.md\n---\nEvery quantity in section 2.\n" in text
    assert subject(repo) == f"desk: task {task} for referee: Check the units"
    assert (repo / "desk/README.md").is_file()

    memo = runner.invoke(
        main,
        ["desk", "memo", "Referee report", "--for", "author", "--on", task, "--as", "claude",
         "--flag", "paper/draft.md:12: no source", "--flag", "paper/draft.md:30: typo",
         "--flag", "refs.bib: duplicate key", "--body", "Sound, with gaps."],
    )  # fmt: skip
    assert memo.exit_code == 0, memo.output
    memo_id = memo.output.split()[1]
    shown = (repo / f"desk/memos/{memo_id}.md").read_text()
    assert shown.endswith(
        "---\nSound, with gaps.\n\n## paper/draft.md\n\n- line 12: no source\n- line 30: typo"
        "\n\n## refs.bib\n\n- duplicate key\n"
    )

    listing = runner.invoke(main, ["desk"]).output
    assert "waiting for referee:" in listing and "waiting for author:" in listing
    assert "    why: SI units only" in listing and "3 flagged line(s)" in listing
    only = runner.invoke(main, ["desk", "--for", "author"]).output
    assert memo_id in only and task not in only

    claimed = runner.invoke(main, ["desk", "claim", task[-6:], "--as", "gpt"])
    assert claimed.output == f"gpt holds {task}\n"
    assert subject(repo) == f"desk: gpt claims {task}"
    assert changed(repo) == [f"desk/claims/{task}--gpt.md"]
    taken = runner.invoke(main, ["desk", "claim", task, "--as", "claude"])
    assert taken.exit_code == 1 and f"{task} is claimed by gpt" in taken.output
    released = runner.invoke(main, ["desk", "release", task, "--as", "gpt"])
    assert released.exit_code == 0 and not (repo / f"desk/claims/{task}--gpt.md").exists()
    assert subject(repo) == f"desk: gpt releases {task}"

    finished = runner.invoke(
        main, ["desk", "done", task, "--as", "claude", "--output", "notes/units.md"]
    )
    assert finished.output == f"{task} done by claude\n"
    assert subject(repo) == f"desk: claude did {task} -> notes/units.md"
    show = runner.invoke(main, ["desk", "show", task]).output
    assert "title: Check the units" in show and "done by claude at" in show
    assert "-> notes/units.md" in show
    assert "done: 1 (`workbench desk --all` lists them)" in runner.invoke(main, ["desk"]).output
    assert "done by claude" in runner.invoke(main, ["desk", "--all"]).output
    assert git(repo, "status", "--porcelain") == "", "every change is committed"

    runner.invoke(main, ["desk", "add", "Check the references", "--for", "referee"])
    for args, wanted in [
        (["desk", "claim", "nope"], "no desk item 'nope'"),
        (["desk", "claim", "check-the-"], "'check-the-' names 2 desk items"),
        (["desk", "add", "  ", "--for", "x"], "a desk item needs a title"),
        (["desk", "memo", "M", "--for", "x", "--flag", "no colon"], "a flag is 'FILE:LINE: note'"),
        (["desk", "release", memo_id, "--as", "gpt"], "holds no claim by gpt"),
        (["desk", "done", task, "--as", "gpt"], "was done by claude"),
    ]:
        bad = runner.invoke(main, args)
        assert bad.exit_code == 1 and wanted in bad.output, (args, bad.output)
        assert "Traceback" not in bad.output
