"""The OpenAI-compatible adapter (Ollama, vLLM, ...): the real `openai` SDK, a local server."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.wire.harness import Step
from tests.wire.openai_server import OpenAIServer
from workbench.errors import ConfigError, MissingKey, ServerError
from workbench.providers.base import Completion, Prompt, ProviderSettings, Usage
from workbench.providers.compat import PLACEHOLDER_KEY, CompatModel
from workbench.providers.openai import OpenAIModel

PROMPT = Prompt.of("Why is the sky blue?", system="Be brief.", temperature=0.0, max_tokens=64)


@pytest.fixture(scope="module")
def open_server() -> Iterator[OpenAIServer]:
    server = OpenAIServer(require_auth=False)  # like a local Ollama: any key or none
    with server:
        yield server


@pytest.fixture
def server(open_server: OpenAIServer) -> OpenAIServer:
    open_server.steps.clear()
    open_server.requests.clear()
    return open_server


def make(server: OpenAIServer, api_key_env: str | None = None) -> CompatModel:
    settings = ProviderSettings(
        name="ollama",
        type="compat",
        base_url=server.base_url,
        api_key_env=api_key_env,
        timeout_s=5.0,
    )
    return CompatModel("llama3.2", settings)


def call(model: CompatModel, stream: bool = False) -> tuple[Completion, list[str]]:
    pieces: list[str] = []

    async def go() -> Completion:
        try:
            return await model.complete(PROMPT, pieces.append if stream else None)
        finally:
            await model.aclose()

    return asyncio.run(go()), pieces


def test_answer_with_no_key_at_all(server: OpenAIServer) -> None:
    server.queue(Step(text="Rayleigh scattering.", input_tokens=14, output_tokens=3))
    model = make(server)
    assert model.name == "ollama:llama3.2"
    completion, _ = call(model)
    usage = Usage(14, 3, reasoning_tokens=0, cached_input_tokens=0)
    assert completion == Completion("Rayleigh scattering.", usage, "stop", "llama3.2")
    [request] = server.requests
    assert request.headers["authorization"] == f"Bearer {PLACEHOLDER_KEY}"
    assert request.body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert request.body["max_tokens"] == 64
    assert "max_completion_tokens" not in request.body
    assert request.body["temperature"] == 0.0


def test_streaming_with_no_key_at_all(server: OpenAIServer) -> None:
    server.queue(Step(text="light scatters off air molecules", input_tokens=9, output_tokens=5))
    completion, pieces = call(make(server), stream=True)
    assert len(pieces) == 5 and "".join(pieces) == "light scatters off air molecules"
    assert completion.text == "light scatters off air molecules"
    assert completion.usage.input_tokens == 9 and completion.usage.output_tokens == 5
    assert completion.finish_reason == "stop"
    assert server.requests[0].body["max_tokens"] == 64


def test_the_openai_key_is_never_sent_to_a_compat_server(
    server: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-real-openai-key")
    call(make(server))
    assert server.requests[0].headers["authorization"] == f"Bearer {PLACEHOLDER_KEY}"


def test_unset_key_variable_is_not_fatal(server: OpenAIServer) -> None:
    completion, _ = call(make(server, api_key_env="VLLM_API_KEY"))
    assert completion.text == "echo: Why is the sky blue?"
    assert server.requests[0].headers["authorization"] == f"Bearer {PLACEHOLDER_KEY}"


def test_a_configured_key_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    locked = OpenAIServer(api_key="vllm-secret")
    with locked:
        monkeypatch.setenv("VLLM_API_KEY", "vllm-secret")
        completion, _ = call(make(locked, api_key_env="VLLM_API_KEY"))
        assert completion.text == "echo: Why is the sky blue?"
        assert locked.requests[0].headers["authorization"] == "Bearer vllm-secret"


def test_errors_name_the_configured_provider(server: OpenAIServer) -> None:
    server.queue(Step(status=503))
    with pytest.raises(ServerError) as caught:
        call(make(server))
    assert caught.value.status == 503
    assert str(caught.value).startswith("ollama:llama3.2 ")
    assert len(server.requests) == 1


def test_missing_base_url_is_a_config_error() -> None:
    settings = ProviderSettings(name="myserver", type="compat", base_url=None)
    with pytest.raises(ConfigError, match=r"base_url.*\[providers\.myserver\]") as caught:
        CompatModel("some-model", settings)
    assert not isinstance(caught.value, MissingKey)


def test_compat_reuses_the_openai_adapter() -> None:
    assert issubclass(CompatModel, OpenAIModel)
    assert CompatModel.provider == "compat" and CompatModel.max_tokens_field == "max_tokens"


def test_importing_the_module_does_not_import_the_sdk() -> None:
    code = "import workbench.providers.compat, sys; assert 'openai' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
