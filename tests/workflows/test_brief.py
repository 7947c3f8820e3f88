"""Each model's own brief: what it did in this repository, from the lab notebook and the desk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

import workbench as wb
from tests.workflows.scripted import Script
from workbench import desk
from workbench.cli import main


def test_a_brief_says_what_a_model_did_and_what_waits_for_it(repo: Path, script: Script) -> None:
    wb.workflow("paper.yaml").run(progress=False)
    cmp = wb.compare("Which lemma proves it?", models=["claude", "gpt"])
    cmp.pick("gpt", reason="cites the right lemma")
    wb.note("claude's proof skips a case", on=[cmp.record_id("claude")], tags=["proof"])
    held = desk.add("Check the proof of lemma 2", to="claude", why="it skipped a case")
    desk.claim(held.id, by="claude")
    waiting = desk.add("Referee the appendix", to="referee", why="fresh eyes")
    other = desk.add("Draft the abstract", to="writer")

    text = wb.log.brief("claude", roles=["referee"])

    assert text.startswith("# Brief for claude\n\nWhat claude did in this repository")
    assert "Calls: 2 (" in text and "prompts: referee x1, (typed) x1" in text
    assert "## Workflow steps\n\n- " in text
    assert "flow paper: step referee (claude) wrote reviews/referee.md" in text
    assert "another answer was picked over yours: cites the right lemma" in text
    assert "(on 'Which lemma proves it?')" in text
    assert "## Notes on your answers" in text and "claude's proof skips a case" in text
    assert f"## You hold (claimed, not done)\n\n- {held.id}: Check the proof" in text
    assert f"task {waiting.id}: Referee the appendix (why: fresh eyes)" in text
    assert other.id not in text and "Draft the abstract" not in text
    assert len(text) <= 2400

    gpt = wb.log.brief("gpt")
    assert "your answer was picked: cites the right lemma" in gpt
    assert "flow paper: step draft (gpt) wrote paper/draft.md" in gpt
    assert "claude's proof" not in gpt and held.id not in gpt

    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    later = wb.log.brief("claude", since=tomorrow)
    assert f"Calls: none recorded since {tomorrow}." in later and "## Workflow steps" not in later
    assert held.id in later, "what it holds on the desk is there whatever the date"
    short = wb.log.brief("claude", limit=300)
    assert len(short) <= 300 and short.endswith("\n…")

    shell = CliRunner().invoke(main, ["desk", "brief", "claude", "--role", "referee"])
    assert shell.exit_code == 0 and shell.output.strip() == text.strip()
