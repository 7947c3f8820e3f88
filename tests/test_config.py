from pathlib import Path

import pytest

from workbench.config import Config
from workbench.errors import ConfigError, UnknownModel
from workbench.providers.registry import describe, resolve


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


# -- the whole file is checked at load: every bad value is one line naming file, section, key --


def load_with(isolated: Path, text: str) -> Config:
    (isolated / "workbench.toml").write_text(text)
    return Config.load()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # wrong types
        (
            '[run]\ntimeout_s = "fast"\n',
            r"\[run\] timeout_s = 'fast': must be a number of seconds above 0",
        ),
        ("aliases = 5\n", r"aliases = 5: must be a table"),
        ("[providers.x]\noptions = 3\n", r"\[providers.x\] options = 3: must be a table"),
        (
            '[prices]\n"openai:x" = { input = "cheap", output = 1 }\n',
            r"\[prices.\"openai:x\"\] input = 'cheap': must be a number of USD per million tokens",
        ),
        ('[prices]\n"openai:x" = 3\n', r"\[prices\] \"openai:x\" = 3: must be a table"),
        ('[labbook]\ngit = "yes"\n', r"\[labbook\] git = 'yes': must be true or false"),
        ("[labbook]\npush = 1\n", r"\[labbook\] push = 1: must be the name of a git remote"),
        (
            '[labbook]\nredact = "sk-[a-z]+"\n',
            r"\[labbook\] redact = 'sk-\[a-z\]\+': must be a list of regular expressions",
        ),
        (
            "[labbook]\nredact = [1]\n",
            r"\[labbook\] redact = \[1\]: must be a list of regular expressions",
        ),
        ('[labbook]\npath = ""\n', r"\[labbook\] path = '': must be a folder"),
        (
            "[providers.x]\nconcurrency = true\n",
            r"\[providers.x\] concurrency = True: must be a whole number >= 1",
        ),
        (
            "[providers.x]\nconcurrency = 0\n",
            r"\[providers.x\] concurrency = 0: must be a whole number >= 1",
        ),
        (
            "[providers.x]\ntimeout_s = 0\n",
            r"\[providers.x\] timeout_s = 0: must be a number of seconds above 0",
        ),
        ("[providers.x]\nbase_url = 8\n", r"\[providers.x\] base_url = 8: must be"),
        (
            '[providers.x]\nbase_url = "localhost:8000/v1"\n',
            r"base_url = 'localhost:8000/v1': must be a URL starting with http:// or https://",
        ),
        (
            '[providers.x]\napi_key_env = "sk-proj-abc"\n',
            r"api_key_env = \(value not shown\): must be the name of the environment variable that "
            r"holds the key \(not the key itself\)",
        ),
        ("[aliases]\nx = 5\n", r"\[aliases\] x = 5: must be 'provider:model'"),
        ("[aliases.x]\nmodel = 5\n", r"\[aliases.x\] model = 5: must be 'provider:model'"),
        (
            '[aliases.x]\nmodel = "local:smollm2"\ntemperature = 9\n',
            r"\[aliases.x\] temperature must be a number from 0 to 2",
        ),
        (
            '[aliases.x]\nmodel = "local:smollm2"\nstop = 5\n',
            r"\[aliases.x\] stop = 5: must be a string or a list of strings",
        ),
        ('[aliases.x]\nsystem = "hi"\n', r"\[aliases.x\] needs model = 'provider:model'"),
        (
            '[aliases]\n"a:b" = "local:smollm2"\n',
            r"\[aliases\] 'a:b': an alias name cannot contain ':'",
        ),
        ('[budget]\nrun_usd = "1"\n', r"\[budget\] run_usd = '1': must be a number of USD >= 0"),
        # out of range
        ("[run]\nretries = -3\n", r"\[run\] retries = -3: must be a whole number >= 0"),
        ("[run]\nretries = 2.5\n", r"\[run\] retries = 2.5: must be a whole number >= 0"),
        ("[run]\ntimeout_s = -1\n", r"\[run\] timeout_s = -1: must be a number of seconds above 0"),
        ("[run]\ntimeout_s = 0\n", r"\[run\] timeout_s = 0: must be a number of seconds above 0"),
        (
            "[run]\nbackoff_s = -0.5\n",
            r"\[run\] backoff_s = -0.5: must be a number of seconds >= 0",
        ),
        ("[run]\nmax_calls = 0\n", r"\[run\] max_calls = 0: must be a whole number >= 1"),
        (
            "[labbook]\ncommit_every_s = -1\n",
            r"\[labbook\] commit_every_s = -1: must be a number of seconds >= 0",
        ),
        (
            '[prices]\n"openai:x" = { input = -1, output = 1 }\n',
            r"input = -1: must be a number of USD",
        ),
        # NaN and infinity anywhere a number is expected
        (
            "[run]\ntimeout_s = nan\n",
            r"\[run\] timeout_s = nan: must be a number of seconds above 0",
        ),
        ("[run]\nbackoff_max_s = inf\n", r"\[run\] backoff_max_s = inf: must be a number"),
        (
            "[budget]\nsession_usd = nan\n",
            r"\[budget\] session_usd = nan: must be a number of USD >= 0",
        ),
        ("[budget]\nrun_usd = inf\n", r"\[budget\] run_usd = inf: must be a number of USD >= 0"),
        ('[prices]\n"openai:x" = { input = nan, output = 1 }\n', r"input = nan: must be a number"),
        ("[labbook]\ncommit_every_s = nan\n", r"commit_every_s = nan: must be a number"),
        ("[providers.x]\ntimeout_s = inf\n", r"\[providers.x\] timeout_s = inf: must be a number"),
        # unknown sections and keys, anywhere
        (
            "[budgets]\nsession_usd = 5\n",
            r"unknown section \[budgets\] \(did you mean \[budget\]\?\); allowed: \[aliases\], "
            r"\[budget\], \[labbook\], \[prices\], \[providers\], \[run\]",
        ),
        (
            "[run]\nretry = 3\n",
            r"\[run\] unknown key 'retry' \(did you mean 'retries'\?\); allowed: ",
        ),
        ('[labbook]\npat = "x"\n', r"\[labbook\] unknown key 'pat' \(did you mean 'path'\?\)"),
        (
            "[budget]\nsession = 5\n",
            r"\[budget\] unknown key 'session' \(did you mean 'session_usd'\?\)",
        ),
        ('[providers.x]\nbase = "http://h"\n', r"\[providers.x\] unknown key 'base'"),
        ('[prices]\n"openai:x" = { input = 1, output = 1, cached = 0 }\n', r"unknown key 'cached'"),
        (
            "timeout_s = 5\n",
            r"unknown top-level key 'timeout_s' \(did you mean \[run\] timeout_s\?\)",
        ),
        (
            "[prices]\ngpt = { input = 1, output = 1 }\n",
            r"\[prices\] 'gpt': prices are keyed by the full model name 'provider:model'",
        ),
    ],
)
def test_every_bad_value_is_one_line_naming_file_section_and_key(
    isolated: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        load_with(isolated, text)
    line = str(caught.value)
    assert line.startswith(f"{isolated / 'workbench.toml'}: "), line
    assert "\n" not in line


def test_the_error_names_the_file_that_holds_the_bad_value(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = isolated.parent / "home" / ".config" / "workbench" / "config.toml"
    user.parent.mkdir(parents=True)
    user.write_text("[run]\nretries = 2\n")
    other = isolated / "other.toml"
    other.write_text("[run]\nretries = -1\n")
    monkeypatch.setenv("WORKBENCH_CONFIG", str(other))
    (isolated / "workbench.toml").write_text("[run]\ntimeout_s = 30\n")
    with pytest.raises(ConfigError, match=rf"^{other}: \[run\] retries = -1"):
        Config.load()
    other.write_text("[run]\nretries = 1\n")
    assert Config.load().run.retries == 1 and Config.load().run.timeout_s == 30
    with pytest.raises(ConfigError, match=r"^Config.load\(extra\): \[run\] retries = -2"):
        Config.load({"run": {"retries": -2}})


def test_a_missing_or_unreadable_file_is_a_config_error(
    isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_CONFIG", str(isolated / "nosuch.toml"))
    with pytest.raises(
        ConfigError, match=r"\$WORKBENCH_CONFIG names .*nosuch.toml, which is not a file"
    ):
        Config.load()
    monkeypatch.delenv("WORKBENCH_CONFIG")
    (isolated / "workbench.toml").write_bytes(b"[run]\n# caf\xe9\n")
    with pytest.raises(ConfigError, match=r"workbench.toml: not UTF-8 text"):
        Config.load()


def test_an_alias_may_adjust_a_built_in_alias_without_repeating_its_model(isolated: Path) -> None:
    config = load_with(isolated, "[aliases.terse]\nmax_tokens = 32\n")
    spec = resolve("terse", config)
    assert (spec.full_name, spec.params.max_tokens) == ("local:smollm2", 32)


def test_good_values_load_and_max_calls_defaults_to_5000(isolated: Path) -> None:
    assert Config.load().run.max_calls == 5000
    config = load_with(
        isolated,
        "[run]\ntimeout_s = 5\nretries = 0\nbackoff_s = 0\nmax_calls = 20000\n"
        '[labbook]\npath = "notes"\ngit = false\npush = "origin"\ncommit_every_s = 0\n'
        'redact = ["internal-[0-9a-f]{32}"]\n'
        "[budget]\nsession_usd = 0\nrun_usd = 1\n"
        '[providers.lab]\ntype = "compat"\nbase_url = "http://h:1/v1"\nconcurrency = 3\n'
        "timeout_s = 2.5\noptions = { n_ctx = 4096 }\n"
        '[aliases.careful]\nmodel = "lab:qwen"\nsystem = "Think."\nstop = "END"\n'
        '[prices]\n"lab:qwen" = { input = 0, output = 0.5 }\n',
    )
    assert config.run.timeout_s == 5 and config.run.retries == 0 and config.run.max_calls == 20000
    assert config.labbook.git is False and config.labbook.redact == ("internal-[0-9a-f]{32}",)
    assert config.session_budget_usd == 0.0 and config.run_budget_usd == 1.0
    assert config.providers["lab"].options == {"n_ctx": 4096}
    assert config.prices["lab:qwen"].output == 0.5
    assert resolve("careful", config).params.stop == ("END",)


def test_the_rules_cover_every_setting() -> None:
    from dataclasses import fields

    from workbench.config import LabBookSettings, RunSettings, rules

    assert set(rules("run")) == {f.name for f in fields(RunSettings)}
    assert set(rules("labbook")) == {f.name for f in fields(LabBookSettings)}


def test_every_toml_example_in_the_readme_loads(isolated: Path) -> None:
    import re

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    blocks = re.findall(r"```toml\n(.*?)```", readme, re.S)
    assert blocks
    for block in blocks:
        config = load_with(isolated, block)
        assert isolated / "workbench.toml" in config.sources
