"""Workflows end to end: real git repositories, session and lab notebook; a scripted provider."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import workbench as wb
from tests.labbook.helpers import changed, git, subject
from tests.workflows.conftest import write
from tests.workflows.scripted import Script
from workbench.channel import RepoNotReady
from workbench.errors import InvalidOption
from workbench.labbook.book import records


def statuses(flow: wb.Workflow) -> dict[str, str]:
    return {row.step.id: row.status for row in flow.status().rows}


def counts(script: Script) -> dict[str, int]:
    found: dict[str, int] = {}
    for model, _ in script.received:
        found[model] = found.get(model, 0) + 1
    return found


def flow_commits(repo: Path) -> list[str]:
    return [s for s in git(repo, "log", "--format=%s").splitlines() if s.startswith("flow paper:")]


def test_a_run_makes_each_step_in_order_and_commits_each_output_with_its_records(
    repo: Path, script: Script
) -> None:
    flow = wb.workflow("paper.yaml")
    assert statuses(flow) == {"draft": "to run", "referee": "after", "response": "after"}

    run = flow.run(progress=False)

    assert run.ok and [s.status for s in run.steps] == ["made", "made", "made"]
    assert counts(script) == {"gpt": 1, "claude": 1, "gemini": 1}
    draft = (repo / "paper/draft.md").read_text().strip()
    assert draft.startswith("gpt answers")
    referee_prompt = script.calls("claude")[0]
    assert draft in referee_prompt.text and referee_prompt.system == "You are a demanding referee."
    response_prompt = script.calls("gemini")[0].text
    assert draft in response_prompt and (repo / "reviews/referee.md").read_text().strip() in (
        response_prompt
    )
    # each output is committed with the state file, those paths alone, naming its records
    outputs = [c for c in flow_commits(repo) if "->" in c]
    assert len(outputs) == 3
    log = git(repo, "log", "--format=%H %s").splitlines()
    draft_commit = next(line.split()[0] for line in log if "draft -> paper/draft.md" in line)
    assert sorted(changed(repo, draft_commit)) == ["paper.state.json", "paper/draft.md"]
    state = json.loads((repo / "paper.state.json").read_text())["steps"]
    body = git(repo, "log", "-1", "--format=%b", draft_commit)
    assert state["draft"]["records"][0] in body
    recorded = {r["id"]: r for r in records(repo / "labbook")}
    call = recorded[state["draft"]["records"][0]]
    origin = call["prompt"]["origin"]
    assert origin["name"] == "draft" and origin["path"] == "prompts/draft.md"
    assert origin["blob"] == git(repo, "rev-parse", "HEAD:prompts/draft.md")
    assert origin["dirty"] is False
    # the lab notebook notes each step, linked to its calls, and its records are committed
    notes = [r for r in recorded.values() if r["kind"] == "note" and "flow" in r["tags"]]
    assert {n["tags"][-1] for n in notes} == {"step:draft", "step:referee", "step:response"}
    assert git(repo, "status", "--porcelain", "--", "labbook") == ""
    assert git(repo, "status", "--porcelain", "--", "paper", "reviews", "paper.state.json") == ""
    assert statuses(flow) == {"draft": "done", "referee": "done", "response": "done"}

    again = flow.run(progress=False)  # nothing changed: nothing is sent, nothing committed
    assert [s.status for s in again.steps] == ["skipped"] * 3
    assert counts(script) == {"gpt": 1, "claude": 1, "gemini": 1}


def test_an_edit_redoes_only_what_depends_on_it(repo: Path, script: Script) -> None:
    flow = wb.workflow("paper.yaml")
    flow.run(progress=False)

    write(repo, {"prompts/referee.md": "---\nrole: referee\n---\nBe harsh.\n\n{paper}\n"})
    table = flow.status()
    assert statuses(flow) == {"draft": "done", "referee": "stale", "response": "after"}
    assert "the prompt prompts/referee.md" in str(table)
    flow.run(progress=False)
    assert counts(script) == {"gpt": 1, "claude": 2, "gemini": 2}

    # an output edited by hand is kept; what depends on it is redone
    write(repo, {"paper/draft.md": "A better draft, by a person.\n"})
    assert statuses(flow) == {"draft": "edited", "referee": "stale", "response": "after"}
    flow.run(progress=False)
    assert counts(script) == {"gpt": 1, "claude": 3, "gemini": 3}
    assert "A better draft, by a person." in script.calls("claude")[-1].text
    assert (repo / "paper/draft.md").read_text() == "A better draft, by a person.\n"

    write(repo, {"notes.md": "Rainbows are refraction and reflection.\n"})
    assert statuses(flow)["draft"] == "stale"
    assert "notes (notes.md)" in str(flow.status())
    flow.run(progress=False)
    assert counts(script) == {"gpt": 2, "claude": 4, "gemini": 4}


def test_an_interrupted_run_resumes_without_paying_twice(repo: Path, script: Script) -> None:
    write(repo, {"paper.yaml": (repo / "paper.yaml").read_text().replace(
        "output: paper/draft.md", "output: paper/draft.md\n    alternatives: 3")})  # fmt: skip
    broken = {"gemini", "seed 2"}

    def answer(model: str, prompt: wb.Prompt) -> str:
        if model in broken or f"seed {prompt.params.seed}" in broken:
            return "!server said no"
        return f"{model} answers seed {prompt.params.seed}: {len(prompt.text)}"

    script.answer = answer
    flow = wb.workflow("paper.yaml")
    first = flow.run(progress=False)
    assert not first.ok
    failed = first.steps[0]
    assert failed.status == "failed" and "1 of 3 calls failed" in failed.message
    assert "run again to resume" in failed.message
    assert counts(script) == {"gpt": 3}
    assert not (repo / "paper").exists(), "a failed step writes nothing"

    broken.discard("seed 2")
    second = flow.run(progress=False)
    assert second.steps[0].status == "alternatives" and second.steps[0].reused == 2
    assert counts(script) == {"gpt": 4}, "the two answers that came were paid for again"
    assert [p.params.seed for p in script.calls("gpt")] == [None, 1, 2, 2]

    flow.pick("draft", 3, reason="the third is clearest")
    third = flow.run(progress=False)
    assert [s.status for s in third.steps] == ["skipped", "made", "failed"]
    assert counts(script) == {"gpt": 4, "claude": 1, "gemini": 1}
    broken.clear()
    fourth = flow.run(progress=False)
    assert [s.status for s in fourth.steps] == ["skipped", "skipped", "made"]
    assert counts(script) == {"gpt": 4, "claude": 1, "gemini": 2}


def test_alternatives_wait_for_a_pick_that_is_recorded_as_a_decision(
    repo: Path, script: Script
) -> None:
    text = (repo / "paper.yaml").read_text()
    write(repo, {"paper.yaml": text.replace("output: paper/draft.md", "output: paper/draft.md\n"
                                            "    alternatives: 3")})  # fmt: skip
    flow = wb.workflow("paper.yaml")
    run = flow.run(progress=False)
    assert [s.status for s in run.steps] == ["alternatives", "skipped", "skipped"]
    assert "pick one: workbench flow pick paper.yaml draft N" in run.steps[0].message
    alts = [repo / f"paper/draft.alt-{i}.md" for i in (1, 2, 3)]
    assert len({a.read_text() for a in alts}) == 3, "three draws, not one answer three times"
    assert not (repo / "paper/draft.md").exists()
    assert statuses(flow) == {"draft": "pick", "referee": "after", "response": "after"}
    assert flow.alternatives("draft") == [a.read_text() for a in alts]

    with pytest.raises(InvalidOption, match="pick one of the alternatives 1 to 3"):
        flow.pick("draft", 4)
    with pytest.raises(InvalidOption, match="has no alternatives"):
        flow.pick("referee", 1)
    result = flow.pick("draft", 2, reason="the clearest structure")

    assert (repo / "paper/draft.md").read_text() == alts[1].read_text()
    assert result.message == "picked alternative 2 -> paper/draft.md"
    assert subject(repo).startswith("flow paper: draft -> paper/draft.md (alternative 2 of 3")
    assert sorted(changed(repo)) == ["paper.state.json", "paper/draft.md"]
    state = json.loads((repo / "paper.state.json").read_text())["steps"]["draft"]
    decision = [r for r in records(repo / "labbook") if r["kind"] == "decision"][-1]
    assert decision["data"]["verdict"] == "pick"
    assert (
        decision["links"] == state["records"] and decision["data"]["choice"] == state["records"][1]
    )
    assert decision["data"]["reason"] == "the clearest structure"
    assert statuses(flow) == {"draft": "done", "referee": "to run", "response": "after"}
    flow.run(progress=False)
    assert alts[1].read_text().strip() in script.calls("claude")[0].text


@pytest.mark.parametrize("state", ["detached", "merging"])
def test_odd_git_states_refuse_before_anything_is_sent(
    repo: Path, script: Script, state: str
) -> None:
    if state == "detached":
        git(repo, "checkout", "-q", "--detach")
        wanted = "HEAD is detached"
    else:
        (Path(git(repo, "rev-parse", "--git-dir")).resolve() / "MERGE_HEAD").write_text(
            git(repo, "rev-parse", "HEAD") + "\n"
        )
        wanted = "a git operation is in progress .* \\(MERGE_HEAD\\)"
    with pytest.raises(RepoNotReady, match=wanted) as raised:
        wb.workflow("paper.yaml").run(progress=False)
    assert "\n" not in str(raised.value)
    assert script.received == [] and not (repo / "paper").exists()


def test_an_output_with_changes_not_committed_is_never_overwritten(
    repo: Path, script: Script
) -> None:
    flow = wb.workflow("paper.yaml")
    flow.run(progress=False)
    (repo / "paper/draft.md").write_text("my unsaved edits\n")
    write(repo, {"notes.md": "New notes.\n"})
    run = flow.run(progress=False)
    assert run.steps[0].status == "failed"
    assert "paper/draft.md has changes that are not committed" in run.steps[0].message
    assert (repo / "paper/draft.md").read_text() == "my unsaved edits\n"
    assert counts(script) == {"gpt": 1, "claude": 1, "gemini": 1}


def test_commits_take_only_their_own_paths_with_hooks_off(repo: Path, script: Script) -> None:
    (repo / "analysis.py").write_text("print(2)\n")
    git(repo, "add", "analysis.py")  # the user's staged work
    hook = Path(git(repo, "rev-parse", "--git-dir")).resolve() / "hooks" / "pre-commit"
    hook.parent.mkdir(exist_ok=True)
    hook.write_text("#!/bin/sh\necho refused by the hook >&2\nexit 1\n")
    hook.chmod(0o755)

    wb.workflow("paper.yaml").run(progress=False)

    assert git(repo, "diff", "--cached", "--name-only") == "analysis.py", "the staged work stays"
    for line in git(repo, "log", "--format=%H %s").splitlines():
        if " flow paper:" in line:
            assert "analysis.py" not in changed(repo, line.split()[0])


def test_a_budget_stops_the_run_before_a_call_that_could_cross_it(
    repo: Path, script: Script
) -> None:
    prices = (repo / "workbench.toml").read_text().replace("= 1.0", "= 1000.0")
    (repo / "workbench.toml").write_text(prices)
    from workbench.sessions import drop_session

    drop_session()
    flow = wb.workflow("paper.yaml")
    run = flow.run(budget_usd=0.5, progress=False)
    assert [s.status for s in run.steps] == ["made", "failed", "skipped"]
    assert "BudgetExceeded" in run.steps[1].message
    assert 0 < run.spent_usd <= 0.5
    assert counts(script) == {"gpt": 1}
    resumed = flow.run(budget_usd=10.0, progress=False)
    assert [s.status for s in resumed.steps] == ["skipped", "made", "made"]
    assert counts(script) == {"gpt": 1, "claude": 1, "gemini": 1}


def test_an_output_written_by_a_person_is_used_not_remade(repo: Path, script: Script) -> None:
    write(repo, {"paper/draft.md": "Written by Ada.\n"})
    flow = wb.workflow("paper.yaml")
    assert statuses(flow)["draft"] == "by hand"
    flow.run(progress=False)
    assert "gpt" not in counts(script)
    assert "Written by Ada." in script.calls("claude")[0].text


def test_a_step_with_brief_has_the_models_brief_in_its_system_prompt(
    repo: Path, script: Script
) -> None:
    text = (
        (repo / "paper.yaml")
        .read_text()
        .replace("output: reviews/referee.md", "output: reviews/referee.md\n    brief: true")
    )
    write(repo, {"paper.yaml": text})
    flow = wb.workflow("paper.yaml")
    flow.run(progress=False)
    write(repo, {"notes.md": "Other notes.\n"})
    flow.run(progress=False)
    system = script.calls("claude")[-1].system or ""
    assert system.startswith("You are a demanding referee.\n\n# Brief for claude")
    assert "step referee (claude) wrote reviews/referee.md" in system  # its earlier step
