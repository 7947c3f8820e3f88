"""What a call costs: config prices first, then the bundled `genai-prices` table."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from workbench.providers.base import Usage

if TYPE_CHECKING:
    from workbench.config import Config, Price

# Our provider names -> genai-prices provider ids.
_GENAI_PROVIDER = {"openai": "openai", "anthropic": "anthropic", "gemini": "google"}
# Providers that run on the user's own hardware cost nothing per token.
FREE_TYPES = frozenset({"local", "compat", "replay"})


@dataclass(frozen=True)
class Quote:
    """USD per million input and output tokens, and where that figure came from."""

    input_per_mtok: float
    output_per_mtok: float
    source: str

    @property
    def free(self) -> bool:
        """True when every token costs nothing (a local model, a compat server)."""
        return self.input_per_mtok == 0 and self.output_per_mtok == 0

    def cost(self, usage: Usage) -> float | None:
        """The price of `usage` in USD; None when a priced count is unknown."""
        total = 0.0
        for tokens, rate in (
            (usage.input_tokens, self.input_per_mtok),
            (usage.output_tokens, self.output_per_mtok),
        ):
            if rate == 0:
                continue
            if tokens is None:
                return None
            total += tokens * rate
        return total / 1_000_000


def quote(provider: str, model_id: str, config: Config) -> Quote | None:
    """The price per token of a model, or None when nothing knows it."""
    configured: Price | None = config.prices.get(f"{provider}:{model_id}")
    if configured is not None:
        return Quote(configured.input, configured.output, "config")
    settings = config.providers.get(provider)
    if settings is not None and settings.type in FREE_TYPES:
        return Quote(0.0, 0.0, f"free ({settings.type})")
    vendor = _GENAI_PROVIDER.get(settings.type if settings else provider)
    if vendor is None:
        return None
    return _genai_quote(vendor, model_id)


@lru_cache(maxsize=256)
def _genai_quote(vendor: str, model_id: str) -> Quote | None:
    from genai_prices import Usage as PriceUsage
    from genai_prices import calc_price

    try:
        # Price a thousand of each, scaled: the base rate, below any long-context tier.
        one_in = calc_price(PriceUsage(input_tokens=1000), model_id, provider_id=vendor)
        one_out = calc_price(PriceUsage(output_tokens=1000), model_id, provider_id=vendor)
    except LookupError:
        return None
    return Quote(
        float(one_in.total_price) * 1000,
        float(one_out.total_price) * 1000,
        f"genai-prices:{vendor}/{one_in.model.id}",
    )
