"""Configuration: built-in defaults, then the user's file, then the research repo's file.

Files are TOML. Looked up, later ones winning key by key:

1. `workbench/defaults.toml` (shipped);
2. `$XDG_CONFIG_HOME/workbench/config.toml` (default `~/.config/workbench/config.toml`);
3. `workbench.toml` in the current directory or the nearest parent that has one;
4. the file named by `$WORKBENCH_CONFIG`, if set.

API keys are never read from these files: only the name of the environment variable is.
Each file is checked whole before it is merged, against the rules in `config_rules`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from workbench.config_rules import Rule, check, rules
from workbench.errors import ConfigError
from workbench.providers.base import ProviderSettings

__all__ = [
    "Config", "LabBookSettings", "Price", "Rule", "RunSettings", "check", "config_paths", "rules",
]  # fmt: skip


@dataclass(frozen=True)
class RunSettings:
    """How calls are made: timeouts, the retry policy shared by every provider, the size bound."""

    timeout_s: float = 120.0
    retries: int = 4
    backoff_s: float = 1.0
    backoff_max_s: float = 60.0
    retry_after_max_s: float = 300.0
    max_calls: int = 5000
    """The most calls (prompts x models x samples) one comparison may make."""
    processes: bool | str = "auto"
    """Audits make each HTTP model's calls in a worker process of its own: true, false, or
    "auto" (when the machine has a core to spare: see `workers.wanted`)."""


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
    """USD per million tokens; cached input at its own rates where they are given."""

    input: float
    output: float
    cache_read: float | None = None
    """Input read from the provider's cache (None: billed as ordinary input)."""
    cache_write: float | None = None
    """Input written to the cache (None: billed as ordinary input)."""


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
        """Read the defaults and every config file that exists; `extra` wins over all.

        Each file is checked whole before it is merged, so an error names the file that
        holds the bad value.
        """
        defaults = resources.files("workbench").joinpath("defaults.toml")
        merged = _tables(check(tomllib.loads(defaults.read_text()), "workbench/defaults.toml"))
        sources: list[Path] = []
        for path in config_paths():
            merged = _tables(_deep_merge(merged, check(_read_toml(path), str(path), merged)))
            sources.append(path)
        if extra:
            merged = _tables(_deep_merge(merged, check(extra, "Config.load(extra)", merged)))
        return cls.from_dict(merged, tuple(sources))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], sources: tuple[Path, ...] = ()) -> Config:
        """Check a merged configuration mapping and build the Config."""
        check(data, ", ".join(map(str, sources)) or "the configuration")
        run = RunSettings(**data.get("run", {}))
        where = ", ".join(map(str, sources)) or "the configuration"
        providers = {
            name: _provider(name, body, run.timeout_s, where)
            for name, body in data.get("providers", {}).items()
        }
        aliases = {
            name: {"model": body} if isinstance(body, str) else dict(body)
            for name, body in data.get("aliases", {}).items()
        }
        prices = {
            name: Price(
                float(body["input"]),
                float(body["output"]),
                _rate(body.get("cache_read")),
                _rate(body.get("cache_write")),
            )
            for name, body in data.get("prices", {}).items()
        }
        book = dict(data.get("labbook", {}))
        book["redact"] = tuple(book.get("redact", ()))
        budget = data.get("budget", {})
        return cls(
            run=run,
            providers=providers,
            aliases=aliases,
            prices=prices,
            labbook=LabBookSettings(**book),
            session_budget_usd=_float_or_none(budget.get("session_usd")),
            run_budget_usd=_float_or_none(budget.get("run_usd")),
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
    found = [p for p in candidates if p.is_file()]
    named = os.environ.get("WORKBENCH_CONFIG")
    if named:  # named on purpose: a typo must not silently mean "no settings"
        path = Path(named).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"$WORKBENCH_CONFIG names {path}, which is not a file: fix the path or unset it"
            )
        found.append(path)
    return found


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e}); fix or remove the file") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text; save it as UTF-8") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot be read ({e.strerror}); fix or remove it") from None


def _provider(name: str, body: Mapping[str, Any], timeout_s: float, where: str) -> ProviderSettings:
    start = body.get("concurrency", 8)
    low, high = body.get("min_concurrency", 1), body.get("max_concurrency", start)
    if not low <= start <= high:  # checked merged: each bound may come from another file
        raise ConfigError(
            f"{where}: [providers.{name}] needs min_concurrency ({low}) <= concurrency "
            f"({start}) <= max_concurrency ({high}): concurrency is where the limit starts"
        )
    return ProviderSettings(
        name=name,
        type=str(body.get("type", name)),
        base_url=body.get("base_url"),
        api_key_env=body.get("api_key_env"),
        concurrency=start,
        min_concurrency=low,
        max_concurrency=body.get("max_concurrency"),
        timeout_s=float(body.get("timeout_s", timeout_s)),
        options=dict(body.get("options", {})),
    )


def _float_or_none(value: Any) -> float | None:
    return None if value is None else float(value)


def _rate(value: Any) -> float | None:
    return None if value is None else float(value)


def _tables(data: Mapping[str, Any]) -> dict[str, Any]:
    """`data` with each `alias = "provider:model"` as a table, which a later file may adjust.

    (A later file's own `alias = "provider:model"` still replaces the alias whole.)
    """
    aliases = data.get("aliases")
    if not aliases:
        return dict(data)
    tables = {k: {"model": v} if isinstance(v, str) else v for k, v in aliases.items()}
    return {**data, "aliases": tables}


def _deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out
