"""What a call costs: config prices first, then the bundled `genai-prices` table.

Calls sent through a provider's batch API are billed at its batch rate (`batch_quote`): a
share of the standard rates, `BATCH_RATE` by provider type, or a provider's
`options.batch_rate` in config.
"""

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
BATCH_RATE = {"openai": 0.5, "anthropic": 0.5, "gemini": 0.5}
"""Batch price as a share of the standard one, every token kind alike, by provider type:
OpenAI's Batch API, Anthropic's Message Batches and Gemini's batch mode all bill 50% (their
pricing pages, 2026-11). `[providers.X] options = { batch_rate = 0.5 }` overrides it."""


@dataclass(frozen=True)
class Quote:
    """USD per million input and output tokens, and where that figure came from."""

    input_per_mtok: float
    output_per_mtok: float
    source: str
    cache_read_per_mtok: float | None = None
    """Input read from the provider's cache; None: billed as ordinary input."""
    cache_write_per_mtok: float | None = None
    """Input written to the cache; None: billed as ordinary input."""

    @property
    def free(self) -> bool:
        """True when every token costs nothing (a local model, a compat server)."""
        return self.input_per_mtok == 0 and self.output_per_mtok == 0

    def cost(self, usage: Usage) -> float | None:
        """The price of `usage` in USD; None when a priced count is unknown.

        Input tokens read from or written to the cache are priced at the cache rates; the
        rest of the input at the input rate. Unreported cache counts mean none were cached.
        """
        if self.free:
            return 0.0
        if usage.input_tokens is None or usage.output_tokens is None:
            return None
        read = usage.cached_input_tokens or 0
        written = usage.cache_write_tokens or 0
        plain = max(0, usage.input_tokens - read - written)
        total = (
            plain * self.input_per_mtok
            + read * _or(self.cache_read_per_mtok, self.input_per_mtok)
            + written * _or(self.cache_write_per_mtok, self.input_per_mtok)
            + usage.output_tokens * self.output_per_mtok
        )
        return total / 1_000_000


def _or(rate: float | None, default: float) -> float:
    return default if rate is None else rate


def quote(provider: str, model_id: str, config: Config) -> Quote | None:
    """The price per token of a model, or None when nothing knows it."""
    configured: Price | None = config.prices.get(f"{provider}:{model_id}")
    if configured is not None:
        return Quote(
            configured.input,
            configured.output,
            "config",
            configured.cache_read,
            configured.cache_write,
        )
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
        def per_mtok(**tokens: int) -> float:
            price = calc_price(PriceUsage(**tokens), model_id, provider_id=vendor)
            return float(price.total_price) * 1000

        one_in = calc_price(PriceUsage(input_tokens=1000), model_id, provider_id=vendor)
        read = per_mtok(input_tokens=1000, cache_read_tokens=1000)
        write = per_mtok(input_tokens=1000, cache_write_tokens=1000)
        output = per_mtok(output_tokens=1000)
    except LookupError:
        return None
    return Quote(
        float(one_in.total_price) * 1000,
        output,
        f"genai-prices:{vendor}/{one_in.model.id}",
        read,
        write,
    )


def batch_quote(provider: str, model_id: str, config: Config) -> Quote | None:
    """The price per token of a call sent in a batch: the standard rates times the batch rate.

    None when the standard price is unknown, or the provider has no batch rate; a
    ConfigError when the configured rate is not a share from 0 to 1.
    """
    standard = quote(provider, model_id, config)
    if standard is None or standard.free:
        return standard
    settings = config.providers.get(provider)
    rate = settings.options.get("batch_rate") if settings is not None else None
    if rate is None:
        rate = BATCH_RATE.get(settings.type if settings else provider)
    if rate is None:
        return None
    if not isinstance(rate, int | float) or isinstance(rate, bool) or not 0 <= rate <= 1:
        from workbench.errors import ConfigError

        raise ConfigError(
            f"[providers.{provider}] options.batch_rate = {rate!r}: must be the share of the "
            "standard price a batch call costs, a number from 0 to 1 (e.g. 0.5)"
        )
    share = float(rate)

    def scaled(value: float | None) -> float | None:
        return None if value is None else value * share

    return Quote(
        standard.input_per_mtok * share,
        standard.output_per_mtok * share,
        f"{standard.source} at the batch rate ({share:g}x)",
        scaled(standard.cache_read_per_mtok),
        scaled(standard.cache_write_per_mtok),
    )
