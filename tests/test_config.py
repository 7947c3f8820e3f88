from pathlib import Path

import pytest

from workbench.config import Config
from workbench.errors import ConfigError, UnknownModel
from workbench.models.registry import describe, resolve


def test_builtin_aliases_resolve_to_provider_models() -> None:
    config = Config.load()
    assert resolve("gpt", config).full_name == "openai:gpt-5.4"
    assert resolve("claude", config).full_name == "anthropic:claude-opus-4-6"
    assert resolve("local", config).full_name == "local:smollm2"
    assert resolve("ollama:llama3", config).full_name == "ollama:llama3"


def test_an_alias_bundles_a_system_prompt_and_params() -> None:
    spec = resolve("terse", Config.load())
    assert spec.full_name == "local:smollm2"
    assert spec.system == "Answer in one word."
    assert spec.params.max_tokens == 16
    assert spec.label == "terse"


def test_the_repo_config_overrides_defaults_and_adds_aliases(isolated: Path) -> None:
    (isolated / "workbench.toml").write_text(
        '[aliases]\ngpt = "openai:gpt-4o"\n'
        '[aliases.careful]\nmodel = "gpt"\nsystem = "Think twice."\ntemperature = 0.2\n'
        '[providers.mine]\ntype = "compat"\nbase_url = "http://127.0.0.1:9/v1"\n'
    )
    config = Config.load()
    assert resolve("gpt", config).full_name == "openai:gpt-4o"
    careful = resolve("careful", config)
    assert (careful.full_name, careful.system, careful.params.temperature) == (
        "openai:gpt-4o",
        "Think twice.",
        0.2,
    )
    assert resolve("mine:qwen", config).provider == "mine"
    assert isolated / "workbench.toml" in config.sources


def test_unknown_names_say_how_to_name_a_model() -> None:
    config = Config.load()
    with pytest.raises(UnknownModel, match=r"unknown model 'gtp'.*workbench models"):
        resolve("gtp", config)
    with pytest.raises(UnknownModel, match="unknown model 'nosuch:thing'"):
        resolve("nosuch:thing", config)
    with pytest.raises(UnknownModel):
        resolve("", config)


def test_alias_loops_and_bad_alias_keys_are_config_errors(isolated: Path) -> None:
    (isolated / "workbench.toml").write_text('[aliases]\na = "b"\nb = "a"\n')
    with pytest.raises(ConfigError, match="alias loop: a -> b -> a"):
        resolve("a", Config.load())
    (isolated / "workbench.toml").write_text('[aliases.x]\nmodel = "local:smollm2"\ncolour = 1\n')
    with pytest.raises(ConfigError, match="unknown key 'colour'"):
        resolve("x", Config.load())


def test_keys_are_never_accepted_in_files(isolated: Path) -> None:
    (isolated / "workbench.toml").write_text('[providers.openai]\napi_key = "sk-abc"\n')
    with pytest.raises(ConfigError, match="keys never go in files; set api_key_env"):
        Config.load()


def test_bad_toml_names_the_file(isolated: Path) -> None:
    (isolated / "workbench.toml").write_text("[aliases\n")
    with pytest.raises(ConfigError, match=r"workbench.toml: not valid TOML"):
        Config.load()


def test_bad_price_and_budget_values_are_explained(isolated: Path) -> None:
    (isolated / "workbench.toml").write_text('[prices]\n"openai:x" = { input = 1 }\n')
    with pytest.raises(ConfigError, match="needs input and output in USD per million"):
        Config.load()
    (isolated / "workbench.toml").write_text("[budget]\nsession_usd = -1\n")
    with pytest.raises(ConfigError, match=r"session_usd .* must be a number of USD >= 0"):
        Config.load()


def test_describe_reports_missing_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = {r["name"]: r for r in describe(Config.load())}
    assert rows["gpt"]["ready"] is False and rows["gpt"]["key"] == "OPENAI_API_KEY"
    assert rows["local"]["ready"] is True
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert {r["name"]: r for r in describe(Config.load())}["gpt"]["ready"] is True
