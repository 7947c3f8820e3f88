"""A person's pick among a step's alternatives: the output, a decision record, a commit.

The alternatives wait as `draft.alt-1.md`, `draft.alt-2.md`, ... beside the output. Picking
one copies it to the output, records a `pick` decision in the lab notebook (linking every
alternative's call record, the chosen one as its choice, with the reason), and commits the
output and the state file; the step's memo and desk item are then handled as for a step with
one answer. Alternatives made from inputs that have changed since cannot be picked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.errors import InvalidOption
from workbench.prompts import blob_hash
from workbench.providers.base import Reply
from workbench.workflows.plan import Planned, plan_step, resolve
from workbench.workflows.run import Runner, StepResult
from workbench.workflows.state import StepStatus, state_path, write_state

if TYPE_CHECKING:
    from workbench.workflows.spec import WorkflowSpec


def pick(runner: Runner, step_id: str, number: int, reason: str | None = None) -> StepResult:
    """Make alternative `number` (from 1) of a step its output."""
    spec: WorkflowSpec = runner.spec
    step = spec.step(step_id)
    record = runner.state.get(step.id)
    alternatives = (record or {}).get("alternatives") or []
    if record is None or not alternatives:
        raise InvalidOption(
            f"step {step.id} has no alternatives to pick from: it makes "
            f"{step.alternatives} answer(s); `workbench flow status {spec.path.name}`"
        )
    if (
        isinstance(number, bool)
        or not isinstance(number, int)
        or not 1 <= number <= len(alternatives)
    ):
        raise InvalidOption(
            f"pick one of the alternatives 1 to {len(alternatives)}, not {number!r}"
        )
    runner.channel.ready(runner.what)
    planned = _planned(runner, step_id)
    if planned.status != "pick":
        raise InvalidOption(
            f"the alternatives of {step.id} are not current ({planned.why}): run the workflow "
            "again, then pick"
        )
    chosen = runner.top / alternatives[number - 1]
    output = spec.folder / step.output
    blocked = runner._uncommitted([output])
    if blocked:
        raise InvalidOption(blocked.replace("run again", "pick again"))
    text = chosen.read_text(encoding="utf-8")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    records = list(record.get("records") or [])
    book = runner.session.labbook
    if book is not None and len(records) == len(alternatives):
        book.decide("pick", records, choice=records[number - 1], reason=reason)
        book.commit(f"flow {spec.name}: pick {step.id} alternative {number}")
    record["picked"] = number
    record["output_blob"] = blob_hash(output.read_bytes())
    label = record.get("model") or planned.label
    memo = runner.memo_for(planned, record, text, Reply(label, record.get("resolved", ""), text))
    write_state(spec, runner.state)
    rel = runner.channel.relative(output)
    commit = runner.channel.commit(
        f"flow {spec.name}: {step.id} -> {rel} (alternative {number} of {len(alternatives)}, "
        f"picked{': ' + reason if reason else ''})",
        [rel, runner.channel.relative(state_path(spec))],
        what=runner.what,
    )
    runner.share(planned, record, memo)
    message = f"picked alternative {number} -> {rel}"
    message += f", memo {memo.id} for {memo.to}" if memo else ""
    return StepResult(step.id, "made", message, label, outputs=[rel], commit=commit)


def _planned(runner: Runner, step_id: str) -> Planned:
    """The step as planned now (the steps before it planned first)."""
    resolved = resolve(runner.spec, runner.session.config, runner.top)
    statuses: dict[str, StepStatus] = {}
    for step in runner.spec.steps:
        desk = runner._desk() if any(i.source == "desk" for i in step.inputs) else None
        one = plan_step(
            runner.spec, step, resolved[step.id], runner.top, statuses,
            runner.state.get(step.id), desk,
        )  # fmt: skip
        if step.id == step_id:
            return one
        statuses[step.id] = one.as_status()
    raise AssertionError(f"no step {step_id}")  # spec.step checked it
