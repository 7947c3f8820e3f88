"""Per-test isolation: HOME, config and the working directory live in tmp_path; no real keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

PROVIDER_KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY")
VENDOR_ENV = ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "GOOGLE_GEMINI_BASE_URL", "WORKBENCH_CONFIG")
WORKBENCH_ENV = ("WORKBENCH_LABBOOK", "WORKBENCH_SOURCE", "WORKBENCH_SESSION")


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point HOME, XDG_CONFIG_HOME and the cwd at a fresh folder; clear keys and vendor env."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    for var in (*PROVIDER_KEYS, *VENDOR_ENV, *WORKBENCH_ENV):
        monkeypatch.delenv(var, raising=False)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    from workbench.sessions import drop_session

    drop_session()  # the default session (the CLI's in CliRunner) is made here, not earlier
    try:
        yield work
    finally:
        drop_session()


# -- the three vendor wire servers and a config pointing at them --------------------------

WIRE_PROVIDERS = ("openai", "anthropic", "gemini")
KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "gemini": "GEMINI_API_KEY"}


def start_server(provider: str, **options: object) -> object:
    """Start the wire server that speaks `provider`'s protocol on 127.0.0.1."""
    from tests.wire.anthropic_server import AnthropicServer
    from tests.wire.gemini_server import GeminiServer
    from tests.wire.openai_server import OpenAIServer

    kinds = {"openai": OpenAIServer, "anthropic": AnthropicServer, "gemini": GeminiServer}
    return kinds[provider](**options).start()  # type: ignore[arg-type]


@pytest.fixture
def wire(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, object]]:
    """One running server per vendor, keyed by provider, with each key set in the env."""
    servers = {p: start_server(p) for p in WIRE_PROVIDERS}
    for provider, server in servers.items():
        monkeypatch.setenv(KEY_ENV[provider], server.api_key)  # type: ignore[attr-defined]
    try:
        yield servers
    finally:
        for server in servers.values():
            server.stop()  # type: ignore[attr-defined]


def wire_config(
    servers: dict[str, object], providers: dict[str, dict[str, object]] | None = None, **run: object
) -> object:
    """A Config whose openai/anthropic/gemini providers point at the wire servers."""
    from workbench.config import Config

    tweaks = providers or {}
    providers = {
        p: {"base_url": s.base_url, **tweaks.get(p, {})}  # type: ignore[attr-defined]
        for p, s in servers.items()
    }
    extra: dict[str, object] = {"providers": providers}
    extra["run"] = {"backoff_s": 0.01, "backoff_max_s": 0.05, **run}
    extra["prices"] = {
        "openai:gpt-test": {"input": 1000.0, "output": 1000.0},
        "anthropic:claude-test": {"input": 1000.0, "output": 1000.0},
        "gemini:gemini-test": {"input": 1000.0, "output": 1000.0},
    }
    return Config.load(extra)
