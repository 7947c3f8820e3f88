"""Configuration: built-in defaults, then the user's file, then the research repo's file.

Files are TOML. Looked up, later ones winning key by key:

1. `workbench/defaults.toml` (shipped);
2. `$XDG_CONFIG_HOME/workbench/config.toml` (default `~/.config/workbench/config.toml`);
3. `workbench.toml` in the current directory or the nearest parent that has one;
4. the file named by `$WORKBENCH_CONFIG`, if set.

API keys are never read from these files: only the name of the environment variable is.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from workbench.errors import ConfigError
from workbench.models.base import ProviderSettings

_PROVIDER_KEYS = {"type", "base_url", "api_key_env", "concurrency", "timeout_s", "options"}


@dataclass(frozen=True)
class RunSettings:
    """How calls are made: timeouts and the retry policy shared by every provider."""

    timeout_s: float = 120.0
    retries: int = 4
    backoff_s: float = 1.0
    backoff_max_s: float = 60.0
    retry_after_max_s: float = 300.0


@dataclass(frozen=True)
class LabBookSettings:
    """Where the lab notebook lives and how it is committed."""

    path: str | None = None
    """Folder of the lab notebook; relative paths are from the research repo's root."""
    git: bool = True
    """Commit records (batched) to the git repository that holds the folder."""
    push: str | None = None
    """A remote to push to after each commit, e.g. "origin"."""
    commit_every_s: float = 30.0
    """In bulk runs, commit at most this often."""
    redact: tuple[str, ...] = ()
    """Extra regular expressions whose matches never reach the lab notebook."""


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float


@dataclass(frozen=True)
class Config:
    """Everything the workbench reads from configuration files."""

    run: RunSettings = field(default_factory=RunSettings)
    providers: Mapping[str, ProviderSettings] = field(default_factory=dict)
    aliases: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    prices: Mapping[str, Price] = field(default_factory=dict)
    labbook: LabBookSettings = field(default_factory=LabBookSettings)
    session_budget_usd: float | None = None
    run_budget_usd: float | None = None
    sources: tuple[Path, ...] = ()

    @classmethod
    def load(cls, extra: Mapping[str, Any] | None = None) -> Config:
        """Read the defaults and every config file that exists; `extra` wins over all."""
        text = resources.files("workbench").joinpath("defaults.toml").read_text()
        merged = tomllib.loads(text)
        sources: list[Path] = []
        for path in config_paths():
            merged = _deep_merge(merged, _read_toml(path))
            sources.append(path)
        if extra:
            merged = _deep_merge(merged, extra)
        return cls.from_dict(merged, tuple(sources))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], sources: tuple[Path, ...] = ()) -> Config:
        """Validate a merged configuration mapping."""
        where = ", ".join(map(str, sources)) or "the configuration"
        run_data = dict(data.get("run", {}))
        try:
            run = RunSettings(**run_data)
        except TypeError as e:
            raise ConfigError(f"bad [run] section in {where}: {e}") from None
        providers = {
            name: _provider(name, body, run.timeout_s, where)
            for name, body in data.get("providers", {}).items()
        }
        aliases: dict[str, Mapping[str, Any]] = {}
        for name, body in data.get("aliases", {}).items():
            spec = {"model": body} if isinstance(body, str) else dict(body)
            if not isinstance(spec.get("model"), str):
                raise ConfigError(f"alias {name!r} in {where} needs model = 'provider:model'")
            aliases[name] = spec
        prices = {}
        for name, body in data.get("prices", {}).items():
            try:
                prices[name] = Price(float(body["input"]), float(body["output"]))
            except (KeyError, TypeError, ValueError):
                raise ConfigError(
                    f"price for {name!r} in {where} needs input and output in USD per million "
                    "tokens, e.g. { input = 2.5, output = 10 }"
                ) from None
        budget = data.get("budget", {})
        book = dict(data.get("labbook", {}))
        book["redact"] = tuple(book.get("redact", ()))
        try:
            labbook = LabBookSettings(**book)
        except TypeError as e:
            raise ConfigError(f"bad [labbook] section in {where}: {e}") from None
        return cls(
            run=run,
            providers=providers,
            aliases=aliases,
            prices=prices,
            labbook=labbook,
            session_budget_usd=_optional_float(budget.get("session_usd"), "session_usd", where),
            run_budget_usd=_optional_float(budget.get("run_usd"), "run_usd", where),
            sources=sources,
        )


def config_paths() -> list[Path]:
    """The configuration files that exist, lowest precedence first."""
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    candidates = [Path(xdg) / "workbench" / "config.toml"]
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / "workbench.toml").is_file():
            candidates.append(folder / "workbench.toml")
            break
    if os.environ.get("WORKBENCH_CONFIG"):
        candidates.append(Path(os.environ["WORKBENCH_CONFIG"]))
    return [p for p in candidates if p.is_file()]


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e}); fix or remove the file") from None


def _provider(name: str, body: Mapping[str, Any], timeout_s: float, where: str) -> ProviderSettings:
    if "api_key" in body:
        raise ConfigError(f"[providers.{name}]: keys never go in files; set api_key_env instead")
    unknown = sorted(set(body) - _PROVIDER_KEYS)
    if unknown:
        raise ConfigError(
            f"[providers.{name}] in {where}: unknown key {unknown[0]!r}; "
            f"allowed: {', '.join(sorted(_PROVIDER_KEYS))}"
        )
    concurrency = body.get("concurrency", 8)
    if not isinstance(concurrency, int) or concurrency < 1:
        raise ConfigError(f"[providers.{name}] concurrency must be a whole number >= 1")
    return ProviderSettings(
        name=name,
        type=str(body.get("type", name)),
        base_url=body.get("base_url"),
        api_key_env=body.get("api_key_env"),
        concurrency=concurrency,
        timeout_s=float(body.get("timeout_s", timeout_s)),
        options=dict(body.get("options", {})),
    )


def _optional_float(value: Any, key: str, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"[budget] {key} in {where} must be a number of USD >= 0")
    return float(value)


def _deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out
