"""Multi-step workflows: each step given to the model best at it, the repository as the channel.

    import workbench as wb
    flow = wb.workflow("paper.yaml")
    flow.status()                  # each step: up to date, stale (what changed), waiting, ...
    flow.run(budget_usd=0.50)      # makes the due steps, in order; commits each output
    flow.pick("draft", 2, reason="the clearest structure")

The file format is in `spec`, staleness in `state`, planning in `plan`, running in `run`,
picking among alternatives in `pick`. From the shell: `workbench flow run|status|pick`; from
papermill: templates/workflow.ipynb.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.workflows.run import FlowRun, StepResult
from workbench.workflows.spec import WorkflowError, WorkflowSpec, load
from workbench.workflows.state import StepStatus, read_state, state_path

if TYPE_CHECKING:
    import pandas as pd

    from workbench.sessions import Session

__all__ = [
    "FlowRun",
    "StatusTable",
    "StepResult",
    "StepStatus",
    "Workflow",
    "WorkflowError",
    "WorkflowSpec",
    "demo",
    "load",
]


@dataclass(repr=False)
class StatusTable:
    """Where each step of a workflow stands."""

    name: str
    rows: list[StepStatus]

    def __str__(self) -> str:
        lines = [f"flow {self.name}:"]
        for row in self.rows:
            step = row.step
            lines.append(
                f"  {step.id:<12} {(step.role or '-'):<10} {(row.model or '-'):<10} "
                f"{row.status:<8} {step.output}: {row.why}"
            )
        return "\n".join(lines)

    __repr__ = __str__

    def to_frame(self) -> pd.DataFrame:
        """One row per step: step, role, model, status, why, output."""
        import pandas as pd

        return pd.DataFrame(
            [
                {
                    "step": r.step.id,
                    "role": r.step.role,
                    "model": r.model,
                    "status": r.status,
                    "why": r.why,
                    "output": r.step.output,
                }
                for r in self.rows
            ],
            columns=["step", "role", "model", "status", "why", "output"],
        )

    def _repr_html_(self) -> str:
        cells = "".join(
            "<tr>"
            + "".join(
                f"<td>{html.escape(str(v or ''))}</td>"
                for v in (r.step.id, r.step.role, r.model, r.status, r.why, r.step.output)
            )
            + "</tr>"
            for r in self.rows
        )
        head = "".join(
            f"<th>{c}</th>" for c in ("step", "role", "model", "status", "why", "output")
        )
        return f"<p>flow {html.escape(self.name)}</p><table><tr>{head}</tr>{cells}</table>"


class Workflow:
    """A workflow file, read again at each call (so edits count), run in a session."""

    def __init__(self, path: str | Path, session: Session | None = None) -> None:
        self.path = Path(path)
        self._session = session
        load(self.path)  # a bad file is an error now, not at the first run

    @property
    def spec(self) -> WorkflowSpec:
        """The file as it is now."""
        return load(self.path)

    @property
    def session(self) -> Session:
        """The session its calls are made and recorded in (default: `wb.session()`)."""
        if self._session is None:
            from workbench.sessions import session

            return session()
        return self._session

    def status(self) -> StatusTable:
        """Each step's status and why (nothing is sent, nothing is written)."""
        from workbench.channel import Channel
        from workbench.workflows.plan import plan

        spec = self.spec
        with Channel.at(spec.folder, what=f"workflow {spec.path.name}") as channel:
            desk = None
            if any(i.source == "desk" for s in spec.steps for i in s.inputs):
                from workbench.desk import board

                desk = board(channel.top, fetch=False)
            planned = plan(spec, self.session.config, channel.top, read_state(spec), desk)
        return StatusTable(spec.name, [p.as_status() for p in planned])

    def run(
        self,
        *,
        only: Sequence[str] = (),
        budget_usd: float | None = None,
        fresh: bool = False,
        progress: bool = True,
    ) -> FlowRun:
        """Make every step that is due (stale or never made), in order, and commit each.

        `only` names the steps to consider; `budget_usd` caps what the run may spend (default:
        the file's `budget_usd`); `fresh` asks again what the lab notebook already answered.
        """
        from workbench.workflows.run import Runner

        runner = Runner(
            self.spec, self.session, budget_usd=budget_usd, fresh=fresh, progress=progress
        )
        try:
            return runner.run(only)
        finally:
            runner.close()

    def pick(self, step: str, number: int, *, reason: str | None = None) -> StepResult:
        """Make alternative `number` (from 1) of `step` its output; recorded as a decision."""
        from workbench.workflows.pick import pick
        from workbench.workflows.run import Runner

        runner = Runner(self.spec, self.session, progress=False)
        try:
            return pick(runner, step, number, reason)
        finally:
            runner.close()

    def alternatives(self, step: str) -> list[str]:
        """The texts of a step's alternatives (waiting for a pick, or picked from)."""
        spec = self.spec
        spec.step(step)
        record = read_state(spec).get(step) or {}
        top = state_path(spec).parent
        paths = record.get("alternatives") or []
        from workbench.channel import Channel

        with Channel.at(top) as channel:
            return [(channel.top / p).read_text(encoding="utf-8") for p in paths]

    def __repr__(self) -> str:
        return f"Workflow({str(self.path)!r})"


def demo(folder: Path | None = None) -> Workflow:
    """A small draft -> referee -> response workflow on the local model, in a fresh git repo."""
    from workbench.workflows.demo import make

    return make(folder)
