"""Spending caps: reserve the most a call could cost before sending, then settle the real cost."""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field

from workbench.errors import BudgetExceeded, ConfigError, InvalidOption
from workbench.prices import Quote
from workbench.providers.base import Prompt, Usage

DEFAULT_OUTPUT_ESTIMATE = 1024
"""Output tokens assumed for a call with no max_tokens, when a budget must be checked."""


IMAGE_TOKENS = 2_000
"""Input tokens held for an image: above what any provider charges for one (~1,600 at most)."""
PDF_BYTES_PER_TOKEN = 20
"""A PDF's bytes per input token held: a 500 KB paper holds 25,000 (its pages cost less)."""
REASONING_ALLOWANCE = {"low": 2_048, "medium": 8_192, "high": 24_576}
"""Output tokens held for thinking at each effort (the budgets the adapters send at most)."""


def estimate_usage(prompt: Prompt, output_chars: int | None = None) -> Usage:
    """The most a prompt could use: a token per 3 characters in (erring high), max_tokens out.

    Files count too (text by its characters, an image as IMAGE_TOKENS, a PDF by its size), and
    reasoning adds its budget (or the effort's allowance) to the output. With `output_chars`,
    the output is estimated from text that came (a token per 3 characters) instead: what a
    call cut short or stopped may have been billed for.
    """
    chars = sum(len(m.content) for m in prompt.messages)
    inputs = chars // 3 + 8 * len(prompt.messages)
    for file in prompt.files:
        if file.kind == "image":
            inputs += IMAGE_TOKENS
        elif file.kind == "pdf":
            inputs += file.size // PDF_BYTES_PER_TOKEN
        else:
            inputs += file.size // 3
    out = prompt.params.max_tokens or DEFAULT_OUTPUT_ESTIMATE
    reasoning = prompt.params.reasoning
    if isinstance(reasoning, int):
        out += reasoning
    elif reasoning is not None:
        out += REASONING_ALLOWANCE.get(reasoning, REASONING_ALLOWANCE["high"])
    if output_chars is not None:
        out = min(out, output_chars // 3 + 1)
    return Usage(inputs, out, "estimate")


def check_cap(value: object, what: str) -> float | None:
    """A spending cap as given (None: no cap), or a one-line InvalidOption: never NaN or < 0."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidOption(
            f"{what} must be a number of USD from 0 up, not {value!r}: e.g. 1.50 (none: no cap)"
        )
    if value < 0:
        raise InvalidOption(
            f"{what} must be a number of USD from 0 up, not {value!r}: e.g. 1.50 (none: no cap)"
        )
    return float(value)


@dataclass
class Budget:
    """A cap in USD shared by every call that draws on it; thread-safe; None cap = unlimited."""

    cap_usd: float | None
    scope: str = "session"
    spent_usd: float = 0.0
    """Spent so far: reported costs, plus estimates for calls whose cost is unknown."""
    reserved_usd: float = 0.0
    estimated_calls: int = 0
    """Calls whose cost was not reported and is counted in `spent_usd` as an estimate."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.cap_usd = check_cap(self.cap_usd, f"the {self.scope} budget")

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

    def settle(self, reserved_usd: float, actual_usd: float, *, estimated: bool = False) -> None:
        """Release a reservation and count what the call cost (`estimated`: a best guess)."""
        with self._lock:
            self.reserved_usd = max(0.0, self.reserved_usd - reserved_usd)
            self.spent_usd += actual_usd
            self.estimated_calls += estimated

    @property
    def spent_text(self) -> str:
        """Spend as a researcher should read it: says when part of it is an estimate."""
        if not self.estimated_calls:
            return f"${self.spent_usd:.5f}"
        calls = f"{self.estimated_calls} call{'s' * (self.estimated_calls != 1)}"
        return f"~${self.spent_usd:.5f} ({calls} of unreported cost estimated)"


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
        amount = quote.cost(estimate_usage(prompt)) or 0.0
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

    def settle(self, actual_usd: float | None, estimate_usd: float = 0.0) -> None:
        """Count the call's cost on every budget and release the hold.

        An unknown cost (a priced model that reported no usage, a stream cut short) counts
        as `estimate_usd` and is marked as estimated: spend is never silently dropped.
        """
        known = actual_usd is not None
        spent = actual_usd if actual_usd is not None else estimate_usd
        for budget in self.budgets:
            budget.settle(self.amount_usd, spent, estimated=not known)
