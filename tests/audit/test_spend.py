"""What a run spent is what its calls cost; a tight budget buys whole items."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.audit.helpers import write_wire_config
from tests.audit.test_stop_resume import COUNTRIES, exercise
from workbench.audit import open_run, resume, run_audit
from workbench.labbook.book import records


def billed(run_name: str) -> float:
    """The cost of every call record of the run's sessions, as the lab notebook holds them."""
    run = open_run(run_name)
    sessions = set(run.manifest["sessions"])
    calls = [
        r for r in records(run.folder.labbook_root)
        if r["kind"] == "call" and r["session"] in sessions
    ]  # fmt: skip
    return sum(c["reply"]["cost_usd"] or 0.0 for c in calls)


def test_a_budget_stop_reports_every_call_paid_and_so_do_resumes(
    isolated: Path, wire: dict[str, Any]
) -> None:
    write_wire_config(isolated, wire)  # $1000 per million tokens: each call costs ~$0.02
    exercise(isolated, COUNTRIES)
    stopped = run_audit("sweep.yaml", budget_usd=0.25, notebook=False, progress=False)
    assert stopped.status == "stopped-budget"
    assert len(stopped.rows) >= 2, "the budget bought whole items"
    in_rows = sum(a["cost_usd"] or 0.0 for row in stopped.rows for a in row["answers"])
    paid = billed(stopped.name)
    assert paid == pytest.approx(in_rows), "no call was paid for an item left unfinished"
    assert stopped.manifest["spent_usd"] == pytest.approx(paid, abs=1e-12)
    assert f"spent ${paid:.4f} of $0.2500" in stopped.summary()

    again = resume(stopped.name, budget_usd=0.40, progress=False)
    assert again.manifest["spent_usd"] == pytest.approx(billed(again.name), abs=1e-12)
    assert again.manifest["spent_usd"] <= 0.40 + 0.05  # the cap is the whole run's
    done = resume(stopped.name, budget_usd=100.0, progress=False)
    assert done.status == "complete"
    assert done.manifest["spent_usd"] == pytest.approx(billed(done.name), abs=1e-12)
