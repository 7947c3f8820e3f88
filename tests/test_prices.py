"""What a call costs: table rates, cached input at cache rates, unknown stays unknown."""

from __future__ import annotations

import pytest

from workbench import prices
from workbench.config import Config
from workbench.providers.base import Usage


def test_cached_input_is_priced_at_the_cache_rates_of_the_bundled_table() -> None:
    quote = prices.quote("anthropic", "claude-opus-4-6", Config.load())
    assert quote is not None and quote.cache_read_per_mtok is not None
    assert quote.cache_read_per_mtok < quote.input_per_mtok < quote.cache_write_per_mtok  # type: ignore[operator]
    plain = quote.cost(Usage(10_000, 100))
    cached = quote.cost(Usage(10_000, 100, cached_input_tokens=8_000))
    written = quote.cost(Usage(10_000, 100, cache_write_tokens=8_000))
    assert plain is not None and cached is not None and written is not None
    assert cached < plain < written
    expected = (
        2_000 * quote.input_per_mtok
        + 8_000 * quote.cache_read_per_mtok
        + 100 * quote.output_per_mtok
    ) / 1e6
    assert cached == pytest.approx(expected)


def test_configured_cache_rates_win_and_unknown_counts_stay_unknown() -> None:
    config = Config.load({"prices": {"openai:x": {"input": 2.0, "output": 8.0, "cache_read": 0.5}}})
    quote = prices.quote("openai", "x", config)
    assert quote is not None
    assert quote.cost(Usage(1_000_000, 0, cached_input_tokens=1_000_000)) == pytest.approx(0.5)
    assert quote.cost(Usage(None, 10)) is None and quote.cost(Usage()) is None
    local = prices.quote("local", "smollm2", config)
    assert local is not None and local.cost(Usage()) == 0.0  # free whatever the counts


def test_a_budget_holds_room_for_files_and_reasoning() -> None:
    from workbench.budget import IMAGE_TOKENS, REASONING_ALLOWANCE, estimate_usage
    from workbench.providers.base import Prompt
    from workbench.providers.content import File

    plain = estimate_usage(Prompt.of("hi", max_tokens=100))
    png = File.of(b"\x89PNG\r\n\x1a\n" + b"\0" * 10, "a.png")
    notes = File.of(b"x" * 3000, "notes.txt")
    with_files = estimate_usage(Prompt.of("hi", files=[png, notes], max_tokens=100))
    assert with_files.input_tokens == plain.input_tokens + IMAGE_TOKENS + 1000  # type: ignore[operator]
    thinking = estimate_usage(Prompt.of("hi", max_tokens=100, reasoning="medium"))
    assert thinking.output_tokens == 100 + REASONING_ALLOWANCE["medium"]
    assert estimate_usage(Prompt.of("hi", max_tokens=100, reasoning=5000)).output_tokens == 5100
