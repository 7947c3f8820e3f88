"""Spending caps: reserve the most a call could cost before sending, then settle the real cost."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from workbench.errors import BudgetExceeded, ConfigError
from workbench.models.base import Prompt, Usage
from workbench.prices import Quote

DEFAULT_OUTPUT_ESTIMATE = 1024
"""Output tokens assumed for a call with no max_tokens, when a budget must be checked."""


def estimate_usage(prompt: Prompt) -> Usage:
    """The most a prompt could use: a token per 3 characters in (erring high), max_tokens out."""
    chars = sum(len(m.content) for m in prompt.messages)
    return Usage(
        input_tokens=chars // 3 + 8 * len(prompt.messages),
        output_tokens=prompt.params.max_tokens or DEFAULT_OUTPUT_ESTIMATE,
    )


@dataclass
class Budget:
    """A cap in USD shared by every call that draws on it; thread-safe; None cap = unlimited."""

    cap_usd: float | None
    scope: str = "session"
    spent_usd: float = 0.0
    reserved_usd: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def left_usd(self) -> float | None:
        """What is left to spend, or None without a cap."""
        if self.cap_usd is None:
            return None
        return max(0.0, self.cap_usd - self.spent_usd - self.reserved_usd)

    def reserve(self, amount_usd: float) -> None:
        """Hold `amount_usd` for a call about to be sent, or refuse it."""
        with self._lock:
            if self.cap_usd is not None and (
                self.spent_usd + self.reserved_usd + amount_usd > self.cap_usd + 1e-12
            ):
                raise BudgetExceeded(
                    self.scope, self.cap_usd, self.spent_usd + self.reserved_usd, amount_usd
                )
            self.reserved_usd += amount_usd

    def settle(self, reserved_usd: float, actual_usd: float) -> None:
        """Release a reservation and count what the call really cost."""
        with self._lock:
            self.reserved_usd = max(0.0, self.reserved_usd - reserved_usd)
            self.spent_usd += actual_usd


@dataclass
class Reservation:
    """Money held on one or more budgets for one call."""

    budgets: list[Budget]
    amount_usd: float

    @classmethod
    def make(
        cls, budgets: list[Budget], prompt: Prompt, quote: Quote | None, model: str
    ) -> Reservation:
        """Reserve the most `prompt` could cost on every budget, all or none."""
        capped = [b for b in budgets if b.cap_usd is not None]
        if not capped:
            return cls(budgets, 0.0)
        if quote is None:
            raise ConfigError(
                f"no price known for {model}, so a budget cannot be kept: add it under [prices] "
                f'in workbench.toml, e.g. "{model}" = {{ input = 1.0, output = 2.0 }}'
            )
        amount = quote.cost(estimate_usage(prompt))
        taken: list[Budget] = []
        try:
            for budget in budgets:
                budget.reserve(amount)
                taken.append(budget)
        except BudgetExceeded:
            for budget in taken:
                budget.settle(amount, 0.0)
            raise
        return cls(budgets, amount)

    def settle(self, actual_usd: float) -> None:
        """Count the real cost on every budget and release the hold."""
        for budget in self.budgets:
            budget.settle(self.amount_usd, actual_usd)
