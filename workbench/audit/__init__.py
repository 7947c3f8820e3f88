"""Audit runs: an exercise that every model completes independently, run by papermill.

    from workbench import audit
    run = audit.run_audit("capitals.yaml", ["gpt", "claude", "local"], budget_usd=1.0)
    run.outcomes()          # item x outcome: agree-correct, agree-wrong, disagree, ...
    audit.resume(run.name)  # after a budget stop or Ctrl-C; nothing is paid twice
    audit.rerun(run.name)   # replayed from the lab notebook: no network, an equal table

Modules: `exercise` (loading and checking, `schema.json`), `items`, `files` (the files
items send, kept by each run), `structured` (an exercise's answer schema), `scorers` (the
registry and text scorers; `score` the base, `delegated` python and judge scorers,
`functions` a user's own), `agreement`, `runner` (what the notebook executes: the run
loop), `answering` (one item of a run), `records` (its calls in the lab notebook, its result
rows), `spend` (whole items within the budget, what was spent), `secrets` (redaction of every
file of a run), `store` (the run folder), `notebook` (papermill, progress, Ctrl-C), `result`
(a run read back), `report` (tables and plots), `stats` and `significance` (intervals, paired
tests, diffs beyond noise, plans), `judges` (judges checked against humans), `provenance`
(what made a run, in its notebook), `review` and `review_panel` (human verdicts), `template`
(the notebook's cells), `start` (a new run), `api` (these functions).
"""

from __future__ import annotations

from workbench.audit.analysis import changes, diff, plan
from workbench.audit.api import (
    AuditRun,
    combine,
    default_template,
    demo,
    open_run,
    rerun,
    resume,
    run_audit,
    runs,
)
from workbench.audit.exercise import Exercise, load
from workbench.audit.runner import execute

__all__ = [
    "AuditRun",
    "Exercise",
    "changes",
    "combine",
    "default_template",
    "demo",
    "diff",
    "execute",
    "load",
    "open_run",
    "plan",
    "rerun",
    "resume",
    "run_audit",
    "runs",
]
