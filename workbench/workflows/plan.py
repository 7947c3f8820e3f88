"""Planning: each step's model, prompt file and inputs as they are now, and its status.

Everything that can be wrong before a call is sent is found here (a prompt file missing, a
step with no model, an alias nothing resolves) and raised as one WorkflowError listing it
all, so a run never pays for the first steps of a workflow whose last step cannot run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import WorkbenchError
from workbench.workflows.spec import Step, WorkflowError, WorkflowSpec
from workbench.workflows.state import (
    Found,
    Status,
    StepRecord,
    StepStatus,
    find_inputs,
    judge,
    key_of,
)

if TYPE_CHECKING:
    from workbench.config import Config
    from workbench.desk.board import Board
    from workbench.prompts import PromptFile
    from workbench.providers.registry import ModelSpec


@dataclass
class Planned:
    """One step as it would run now."""

    step: Step
    label: str
    """The model, as named (an alias or provider:model)."""
    spec: ModelSpec
    prompt: PromptFile
    found: Found = field(default_factory=Found)
    current: StepRecord = field(default_factory=lambda: StepRecord())
    """Its state record as a run now would begin it: key, inputs, prompt, model."""
    status: Status = "to run"
    why: str = ""

    @property
    def due(self) -> bool:
        """Whether a run makes it now."""
        return self.status in ("stale", "to run")

    def as_status(self) -> StepStatus:
        """The status row of this step."""
        return StepStatus(self.step, self.status, self.why, self.label)


def resolve(spec: WorkflowSpec, config: Config, top: Path) -> dict[str, tuple[str, Any, Any]]:
    """Each step's (model label, ModelSpec, PromptFile); every problem in one WorkflowError."""
    from workbench import prompts
    from workbench.providers.registry import resolve as resolve_model

    problems: list[str] = []
    resolved: dict[str, tuple[str, Any, Any]] = {}
    for step in spec.steps:
        where = f"{spec.path.name}:{step.line or '?'}: step {step.id!r}"
        try:
            prompt = prompts.load(step.prompt, start=top)
        except WorkbenchError as e:
            problems.append(f"{where}: {e}")
            continue
        label = spec.model_of(step) or prompt.model
        if label is None:
            problems.append(
                f"{where}: no model: give it model:, a role listed in roles:, or model: in "
                f"{prompt.origin.path}"
            )
            continue
        try:
            model = resolve_model(label, config)
        except WorkbenchError as e:
            problems.append(f"{where}: {e}")
            continue
        resolved[step.id] = (label, model, prompt)
    if problems:
        raise WorkflowError(spec.path.name, problems)
    return resolved


def plan_step(
    spec: WorkflowSpec,
    step: Step,
    resolved: tuple[str, Any, Any],
    top: Path,
    statuses: dict[str, StepStatus],
    state: StepRecord | None,
    desk: Board | None,
) -> Planned:
    """Where one step stands, given the statuses of the steps before it."""
    label, model, prompt = resolved
    found = find_inputs(spec, step, top, statuses, desk, label, state)
    described = {
        "label": label,
        "resolved": model.full_name,
        "system": model.system,
        "params": model.params.to_dict(),
    }
    current = StepRecord(
        inputs=found.records,
        prompt=prompt.origin.to_dict(),
        model=label,
        resolved=model.full_name,
    )
    if not (found.missing or found.after):
        current["key"] = key_of(step, found, prompt.origin.blob, described)
    status, why = judge(state, found, current, spec.folder / step.output)
    return Planned(step, label, model, prompt, found, current, status, why)


def plan(
    spec: WorkflowSpec,
    config: Config,
    top: Path,
    state: dict[str, StepRecord],
    desk: Board | None,
) -> list[Planned]:
    """Every step's status now (a step after one that would run is `after` it)."""
    resolved = resolve(spec, config, top)
    statuses: dict[str, StepStatus] = {}
    planned = []
    for step in spec.steps:
        one = plan_step(spec, step, resolved[step.id], top, statuses, state.get(step.id), desk)
        statuses[step.id] = one.as_status()
        planned.append(one)
    return planned
