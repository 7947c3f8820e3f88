"""`workbench flow status|run|pick` through the real CLI."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from tests.labbook.helpers import subject
from tests.workflows.conftest import write
from tests.workflows.scripted import Script
from workbench.cli import main


def test_status_run_and_pick_from_the_shell(repo: Path, script: Script) -> None:
    text = (repo / "paper.yaml").read_text()
    write(repo, {"paper.yaml": text.replace("output: paper/draft.md", "output: paper/draft.md\n"
                                            "    alternatives: 2")})  # fmt: skip
    runner = CliRunner()
    status = runner.invoke(main, ["flow", "status", "paper.yaml"])
    assert status.exit_code == 0
    assert status.output.splitlines() == [
        "flow paper:",
        "  draft        writer     gpt        to run   paper/draft.md: never run",
        "  referee      referee    claude     after    reviews/referee.md: after draft",
        "  response     editor     gemini     after    paper/response.md: after draft, referee",
    ]

    done = runner.invoke(main, ["flow", "run", "paper.yaml"])
    assert done.exit_code == 0, done.output
    assert "flow paper: draft (gpt) ..." in done.stderr
    assert "draft          alternatives wrote 2 alternatives; pick one" in done.stdout

    picked = runner.invoke(main, ["flow", "pick", "paper.yaml", "draft", "1", "--reason", "short"])
    assert picked.output == "draft: picked alternative 1 -> paper/draft.md\n"
    assert subject(repo).endswith("(alternative 1 of 2, picked: short)")

    only = runner.invoke(main, ["flow", "run", "paper.yaml", "--step", "referee", "-q"])
    assert only.exit_code == 0 and only.stderr == ""
    assert [s.split()[:2] for s in only.stdout.splitlines()[1:]] == [
        ["draft", "skipped"], ["referee", "made"], ["response", "skipped"],
    ]  # fmt: skip
    assert len(script.calls("claude")) == 1 and not script.calls("gemini")

    script.answer = lambda model, prompt: "!overloaded"
    failed = runner.invoke(main, ["flow", "run", "paper.yaml", "-q"])
    assert failed.exit_code == 1
    assert "response       failed       1 of 1 calls failed (BadRequest" in failed.stdout

    for args, wanted in [
        (["flow", "run", "paper.yaml", "--step", "nope"], "no step 'nope': the steps are draft"),
        (["flow", "run", "paper.yaml", "--budget", "-1"], "--budget must be a number of USD"),
        (["flow", "pick", "paper.yaml", "draft", "3"], "pick one of the alternatives 1 to 2"),
        (["flow", "status", "missing.yaml"], "missing.yaml: no such file"),
    ]:
        bad = runner.invoke(main, args)
        assert bad.exit_code == 1 and wanted in bad.output, (args, bad.output)
        assert "Traceback" not in bad.output
