"""One call's figures as it goes: attempts, queueing, the answering request's timing, its cost."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from workbench import prices
from workbench.budget import estimate_usage
from workbench.providers.base import Prompt, Reply, Usage
from workbench.providers.registry import ModelSpec


@dataclass
class CallState:
    """One call's figures as it goes: attempts, queueing, the answering request's timing, cost."""

    attempts: int = 0
    pieces: list[str] = field(default_factory=list)
    quote: prices.Quote | None = None
    unreported_usd: float = 0.0
    """Estimated cost of attempts cut short or stopped: billed, most likely, but unreported."""
    unreported: bool = False
    """An attempt may have been billed without a usage report: the call's cost is unknown."""
    started_at: datetime | None = None
    queued_s: float = 0.0
    latency_s: float | None = None
    first_token_s: float | None = None
    in_flight: bool = False
    _begin: float | None = None
    _sent: float = 0.0
    _first: float | None = None

    def begin(self) -> None:
        """The call starts: its client is ready."""
        self.started_at = datetime.now(UTC)
        self._begin = time.perf_counter()

    def sending(self, queued_since: float) -> None:
        """A slot was free: the request goes out now."""
        self._sent = time.perf_counter()
        self.queued_s += self._sent - queued_since
        self.attempts += 1
        self.in_flight = True
        self._first = None
        self.latency_s = self.first_token_s = None

    def text_arrived(self) -> None:
        """A piece of text came; the first one of an attempt sets its first-token time."""
        if self._first is None:
            self._first = time.perf_counter()
            self.first_token_s = self._first - self._sent

    def answered(self) -> None:
        """The request ended (answer or error)."""
        self.in_flight = False
        self.latency_s = time.perf_counter() - self._sent

    def waited(self, waited_s: float) -> None:
        """The adapter held the request back (the local model's lock): queueing, not latency."""
        if waited_s > 0:
            self.queued_s += waited_s
            if self.latency_s is not None:
                self.latency_s = max(0.0, self.latency_s - waited_s)
            if self.first_token_s is not None:
                self.first_token_s = max(0.0, self.first_token_s - waited_s)

    def cut_short(self, prompt: Prompt, partial: str) -> None:
        """An attempt sent and not answered in full: billed, most likely, but unreported."""
        if self.quote is None or self.quote.free or not self.attempts:
            return
        self.unreported = True
        self.unreported_usd += self.quote.cost(estimate_usage(prompt, len(partial))) or 0.0

    def cost(self, usage: Usage | None) -> float | None:
        """The call's cost over every attempt; None when any part of it is unknown."""
        if not self.attempts:
            return 0.0  # nothing was sent
        if self.quote is None or self.unreported:
            return 0.0 if self.quote is not None and self.quote.free else None
        if usage is None:
            return 0.0  # refused (4xx/5xx, unreachable): providers do not bill those
        return self.quote.cost(usage)

    def estimate(self, prompt: Prompt, reply: Reply) -> float:
        """A best guess of what the call cost, for budgets, when its cost is unknown."""
        if self.quote is None:
            return 0.0
        answered = self.quote.cost(estimate_usage(prompt, len(reply.text))) if reply.ok else 0.0
        return (answered or 0.0) + self.unreported_usd

    def reply(self, spec: ModelSpec, **fields: Any) -> Reply:
        """The Reply with this call's figures."""
        wall = None if self._begin is None else time.perf_counter() - self._begin
        usage = fields.get("usage")  # an answer that does not fit its schema was still billed
        return Reply(
            model=spec.label,
            resolved=spec.full_name,
            cost_usd=self.cost(usage),
            price_source=self.quote.source if self.quote else None,
            latency_s=self.latency_s,
            first_token_s=self.first_token_s,
            attempts=self.attempts,
            started_at=self.started_at,
            queued_s=self.queued_s if self.attempts else None,
            wall_s=wall,
            **fields,
        )
