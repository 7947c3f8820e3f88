"""What a workflow run did: each step's result, the run's steps and spend, as text and HTML."""

from __future__ import annotations

import html
from dataclasses import dataclass, field

from workbench.comparison import Comparison


@dataclass(repr=False)
class StepResult:
    """What a run did with one step."""

    step: str
    status: str
    """made, alternatives (waiting for a pick), skipped (not due, or not ready), failed."""
    message: str
    model: str | None = None
    comparison: Comparison | None = None
    outputs: list[str] = field(default_factory=list)
    cost_usd: float = 0.0
    """Paid in this run (answers taken from the lab notebook cost nothing)."""
    reused: int = 0
    commit: str | None = None

    def __repr__(self) -> str:
        return f"<step {self.step} ({self.model}): {self.status}: {self.message}>"


@dataclass(repr=False)
class FlowRun:
    """The steps of one run and what was spent."""

    name: str
    steps: list[StepResult]
    spent_usd: float = 0.0

    @property
    def ok(self) -> bool:
        """True when no step failed."""
        return not any(s.status == "failed" for s in self.steps)

    @property
    def comparisons(self) -> list[Comparison]:
        """The answers of each step made in this run, side by side."""
        return [s.comparison for s in self.steps if s.comparison is not None]

    def __str__(self) -> str:
        lines = [f"flow {self.name}: spent ${self.spent_usd:.4f}"]
        lines += [f"  {s.step:<14} {s.status:<12} {s.message}" for s in self.steps]
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{html.escape(s.step)}</td><td>{html.escape(s.model or '')}</td>"
            f"<td>{html.escape(s.status)}</td><td>{html.escape(s.message)}</td></tr>"
            for s in self.steps
        )
        table = (
            f"<p>flow {html.escape(self.name)}: spent ${self.spent_usd:.4f}</p>"
            "<table><tr><th>step</th><th>model</th><th>status</th><th>what</th></tr>"
            f"{rows}</table>"
        )
        return table + "".join(c._repr_html_() for c in self.comparisons)
