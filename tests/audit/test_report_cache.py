"""The report's tables are made once per state of the run's files, and never shown stale."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.audit.helpers import script_answers, write, write_wire_config
from tests.audit.test_wire_runs import ANSWERS, EXERCISE
from workbench.audit import open_run, run_audit
from workbench.audit.result import AuditRun
from workbench.errors import CorruptLine
from workbench.labbook.book import records


@pytest.fixture
def run(isolated: Path, wire: dict[str, Any]) -> AuditRun:
    write_wire_config(isolated, wire)
    script_answers(wire, ANSWERS)
    write(isolated, "capitals.yaml", EXERCISE)
    return open_run(run_audit("capitals.yaml", notebook=False, progress=False).name)


def every_table(run: AuditRun) -> dict[str, Any]:
    """What the notebook's report cells show, as values to compare."""
    return {
        "outcomes": run.outcomes(),
        "styled": run.styled(limit=200).data,
        "per_model": run.per_model(),
        "agreement": run.agreement(),
        "needing_human": run.needing_human(),
        "plot": run.plot_png(),
    }


def test_a_verdict_recorded_shows_at_once_on_the_same_run(run: AuditRun) -> None:
    before = every_table(run)
    assert list(before["needing_human"].index) == ["de", "it"]
    run.decide("de", pick=None, reason="Berlin")
    after = every_table(run)
    assert list(after["needing_human"].index) == ["it"]
    assert after["outcomes"].loc["de", "review"] == "reject"
    assert after["styled"].loc["de", "review"] == "reject"
    assert pd.isna(before["outcomes"].loc["de", "review"])  # what was handed out stays


def test_a_row_appended_to_the_results_shows_in_every_table(run: AuditRun) -> None:
    before = every_table(run)
    results = run.path / "results.jsonl"
    rows = [json.loads(line) for line in results.read_text().splitlines()]
    row = next(r for r in rows if r["item"] == "fr")  # all three say Paris (items end in any order)
    row.update(item="pt", index=99, outcome="disagree")
    gem = next(a for a in row["answers"] if a["model"] == "gem")
    gem.update(answer="lisbon", key="lisbon", text="Lisbon", correct=False, cost_usd=1.0)
    with results.open("a") as f:
        f.write(json.dumps(row) + "\n")
    after = every_table(run)
    assert "pt" in after["outcomes"].index and "pt" in after["styled"].index
    assert list(after["needing_human"].index) == ["de", "it", "pt"]
    assert after["per_model"].loc["gem", "answers"] == before["per_model"].loc["gem", "answers"] + 1
    assert after["per_model"].loc["gem", "cost_usd"] > 1.0
    assert after["agreement"].loc["gpt", "gem"] < before["agreement"].loc["gpt", "gem"]
    assert after["plot"] != before["plot"]
    assert every_table(run)["plot"] == after["plot"]  # the same files: the same figure


def test_a_table_changed_by_its_caller_leaves_the_next_one_whole(run: AuditRun) -> None:
    stats, table, matrix, todo = (
        run.per_model(),
        run.outcomes(),
        run.agreement(),
        run.needing_human(),
    )
    stats.loc["gpt", "answers"] = 0
    del table["review"]
    matrix.loc["gpt", "gem"] = -1.0
    todo.loc["de", "outcome"] = "error"
    assert run.per_model().loc["gpt", "answers"] == 5
    assert "review" in run.outcomes().columns
    assert run.agreement().loc["gpt", "gem"] >= 0
    assert run.needing_human().loc["de", "outcome"] == "agree-wrong"


def test_compare_shows_the_answers_not_a_decision_that_names_them(run: AuditRun) -> None:
    run.decide("de", pick="gpt", reason="closest")  # a record listing the answers' ids
    row = next(r for r in run.rows if r["item"] == "de")
    side = run.compare("de")
    assert set(side.record_ids) == {a["record"] for a in row["answers"]}
    assert [r.text for r in side.replies] == ["Munich", "Munich.", "munich"]
    kinds = {r["id"]: r["kind"] for r in records(run.folder.labbook_root)}
    assert {kinds[i] for i in side.record_ids} == {"call"}


def session_file(run: AuditRun) -> Path:
    [session] = run.manifest["sessions"]
    [path] = run.folder.labbook_root.rglob(f"{session}.jsonl")
    return path


def test_compare_leaves_a_torn_tail_alone_and_names_a_corrupt_line(run: AuditRun) -> None:
    row = next(r for r in run.rows if r["item"] == "de")
    first = row["answers"][0]["record"]
    path = session_file(run)
    with path.open("a") as f:  # a record being written right now, holding the id
        f.write(json.dumps({"id": first, "kind": "call"})[:-3])
    assert run.compare("de").replies[0].text == "Munich"
    with path.open("a") as f:  # now a whole line, and not JSON
        f.write("\n")
    lines = len(path.read_text().splitlines())
    with pytest.raises(CorruptLine, match=rf"{path.name}:{lines}: not JSON"):
        run.compare("de")


def test_the_latest_verdict_stands_and_a_corrupt_line_is_named(run: AuditRun) -> None:
    run.decide("de", pick=None, reason="none of them")
    run.decide("de", pick="claude", reason="on second thought")
    assert open_run(run.name).outcomes().loc["de", "review"] == "pick claude"
    path = session_file(run)
    with path.open("a") as f:  # a whole line, no decision in it, and not a record
        f.write('{"v": 1, "id": "01X", "kind": "ca\n')
    lines = len(path.read_text().splitlines())
    with pytest.raises(CorruptLine, match=rf"{path.name}:{lines}: not JSON"):
        open_run(run.name).summary()
