"""What an audit run may spend, and what it spent.

Items start only when the whole item fits the run's budget. The Runner reserves each call
on its own, and items run concurrently: left to that alone, a tight budget is shared out
among the calls of many items, each item gets some of its answers and none finishes, and
the money buys nothing a table can show. So an item is admitted only when the most its
calls could cost (the Runner's own estimate of each, its judge's calls included) fits in
what is left of the cap after what was spent and what the items already admitted may
cost; the per-call reservations stay the hard cap.

What a run spent is what its calls cost: `cost_usd` summed over every call record of its
sessions, the calls of items a stop left unfinished included.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from workbench import prices
from workbench.budget import Budget, estimate_usage
from workbench.config import Config
from workbench.providers.base import Prompt
from workbench.providers.registry import ModelSpec
from workbench.run import Job

JUDGE_ANSWER_CHARS = 3
"""Characters per answer token when a judge prompt is estimated before the answer exists."""


class Admission:
    """Lets an item start only when the most its calls could cost fits the run's budget."""

    def __init__(self, budget: Budget, config: Config) -> None:
        self.budget = budget
        self.config = config
        self.in_flight_usd = 0.0
        self._lock = threading.Lock()

    def estimate(self, jobs: Sequence[Job]) -> float:
        """The most these calls could cost, as the Runner reserves it (unpriced: 0 here)."""
        total = 0.0
        for job in jobs:
            quote = prices.quote(job.spec.provider, job.spec.model_id, self.config)
            cost = quote.cost(estimate_usage(job.prompt)) if quote is not None else None
            total += cost or 0.0  # an estimate's counts are always known; None only in theory
        return total

    def judged(self, jobs: Sequence[Job], judge: ModelSpec, ask: str) -> float:
        """The most a judge's calls on these answers could cost (`ask`: its prompt, unfilled)."""
        asks = []
        for job in jobs:
            longest = job.prompt.params.max_tokens or 1024  # the answer it will be shown
            asks.append(Job.plan(judge, Prompt.of(ask + "x" * (longest * JUDGE_ANSWER_CHARS))))
        return self.estimate(asks)

    def admit(self, amount_usd: float) -> bool:
        """Hold `amount_usd` for an item, or say it does not fit (no cap, or 0 to pay: fits)."""
        cap = self.budget.cap_usd
        with self._lock:
            if (
                cap is not None
                and amount_usd > 0
                and (self.budget.spent_usd + self.in_flight_usd + amount_usd > cap + 1e-12)
            ):
                return False
            self.in_flight_usd += amount_usd
            return True

    def release(self, amount_usd: float) -> None:
        """The item is done: its calls' real costs are in the budget's spend now."""
        with self._lock:
            self.in_flight_usd = max(0.0, self.in_flight_usd - amount_usd)


def spent_by(root: Path, sessions: Sequence[str]) -> float:
    """What the calls these sessions recorded cost: every call billed, answered or not."""
    from workbench.audit.records import session_records

    records = session_records(root, sessions)
    costs = ((r.get("reply") or {}).get("cost_usd") for r in records if r.get("kind") == "call")
    return sum(float(c) for c in costs if c is not None)
