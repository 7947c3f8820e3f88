"""The three batch wire servers (each also serves its vendor's live API), keys in the env."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import KEY_ENV


def start_batch_server(provider: str, **options: Any) -> Any:
    """Start the server speaking `provider`'s batch protocol (and its live one) on 127.0.0.1."""
    from tests.wire.batch_anthropic import AnthropicBatchServer
    from tests.wire.batch_gemini import GeminiBatchServer
    from tests.wire.batch_openai import OpenAIBatchServer

    kinds: dict[str, Any] = {
        "openai": OpenAIBatchServer,
        "anthropic": AnthropicBatchServer,
        "gemini": GeminiBatchServer,
    }
    return kinds[provider](**options).start()


@pytest.fixture
def batch_wire(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """One running batch server per vendor, keyed by provider, with each key set in the env."""
    servers = {p: start_batch_server(p) for p in ("openai", "anthropic", "gemini")}
    for provider, server in servers.items():
        monkeypatch.setenv(KEY_ENV[provider], server.api_key)
    try:
        yield servers
    finally:
        for server in servers.values():
            server.stop()
