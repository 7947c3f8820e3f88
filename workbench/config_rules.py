"""The rules every configuration file is checked against, and `check`, which applies them."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from workbench.errors import ConfigError, InvalidPrompt
from workbench.providers.base import Params

Rule = tuple[Callable[[Any], bool], str]
"""A test a value must pass, and what is allowed, as the error message says it."""


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _whole(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _text(v: Any) -> bool:
    return isinstance(v, str) and bool(v.strip())


SECONDS_ABOVE_0: Rule = (lambda v: _number(v) and v > 0, "a number of seconds above 0")
SECONDS: Rule = (lambda v: _number(v) and v >= 0, "a number of seconds >= 0")
USD: Rule = (lambda v: _number(v) and v >= 0, "a number of USD >= 0")
PER_MTOK: Rule = (lambda v: _number(v) and v >= 0, "a number of USD per million tokens >= 0")
TABLE = "a table"

_RULES: dict[str, dict[str, Rule]] = {
    "run": {
        "timeout_s": SECONDS_ABOVE_0,
        "retries": (lambda v: _whole(v) and v >= 0, "a whole number >= 0"),
        "backoff_s": SECONDS,
        "backoff_max_s": SECONDS,
        "retry_after_max_s": SECONDS,
        "max_calls": (lambda v: _whole(v) and v >= 1, "a whole number >= 1"),
        "processes": (lambda v: isinstance(v, bool) or v == "auto", 'true, false or "auto"'),
    },
    "labbook": {
        "path": (_text, 'a folder as a string, e.g. "labbook"'),
        "git": (lambda v: isinstance(v, bool), "true or false"),
        "push": (_text, 'the name of a git remote as a string, e.g. "origin"'),
        "commit_every_s": SECONDS,
        "redact": (
            lambda v: isinstance(v, list) and all(isinstance(x, str) and x for x in v),
            'a list of regular expressions as strings, e.g. ["internal-[0-9a-f]{32}"]',
        ),
    },
    "budget": {"session_usd": USD, "run_usd": USD},
    "provider": {
        "type": (_text, 'a provider type as a string, e.g. "compat"'),
        "base_url": (
            lambda v: isinstance(v, str) and v.startswith(("http://", "https://")),
            'a URL starting with http:// or https://, e.g. "http://127.0.0.1:8000/v1"',
        ),
        "api_key_env": (
            lambda v: isinstance(v, str) and _ENV_NAME.fullmatch(v) is not None,
            "the name of the environment variable that holds the key (not the key itself), "
            'e.g. "MY_API_KEY"',
        ),
        "concurrency": (lambda v: _whole(v) and v >= 1, "a whole number >= 1"),
        "min_concurrency": (lambda v: _whole(v) and v >= 1, "a whole number >= 1"),
        "max_concurrency": (lambda v: _whole(v) and v >= 1, "a whole number >= 1"),
        "timeout_s": SECONDS_ABOVE_0,
        "options": (lambda v: isinstance(v, Mapping), "a table, e.g. { n_ctx = 4096 }"),
    },
    "price": {
        "input": PER_MTOK,
        "output": PER_MTOK,
        "cache_read": PER_MTOK,
        "cache_write": PER_MTOK,
    },
}
_SECTIONS = ("aliases", "budget", "labbook", "prices", "providers", "run")
_ALIAS_KEYS = ("model", "system", *Params.__dataclass_fields__)
_TARGET = "'provider:model' or an alias as a string"


def rules(section: str) -> dict[str, Rule]:
    """The keys a section allows, each with its rule ("provider" and "price" for one entry)."""
    return _RULES[section]


def check(data: Mapping[str, Any], where: str, below: Mapping[str, Any] | None = None) -> Any:
    """Check one configuration mapping whole; return it, or raise a one-line ConfigError.

    `where` names the file; `below` is what lower-precedence files already set, so that a
    file may adjust a built-in alias or price without repeating all of it.
    """
    below = below or {}
    for name, body in data.items():
        if name not in _SECTIONS:
            _unknown_section(name, body, where)
        if not isinstance(body, Mapping):
            raise ConfigError(f"{where}: {name} = {_show(body)}: must be {TABLE} ([{name}])")
        if name in ("run", "labbook", "budget"):
            _check_keys(body, rules(name), f"[{name}]", where)
        elif name == "providers":
            for provider, settings in body.items():
                _check_provider(provider, settings, where)
        elif name == "aliases":
            for alias, spec in body.items():
                _check_alias(alias, spec, where, below.get("aliases", {}).get(alias))
        else:
            for model, price in body.items():
                _check_price(model, price, where, below.get("prices", {}).get(model))
    return data


def _check_keys(
    body: Mapping[str, Any], allowed: dict[str, Rule], section: str, where: str
) -> None:
    for key, value in body.items():
        if key not in allowed:
            hint = _did_you_mean(key, allowed, "'{}'")
            raise ConfigError(
                f"{where}: {section} unknown key {key!r}{hint}; allowed: {', '.join(allowed)}"
            )
        test, meaning = allowed[key]
        if not test(value):
            # a key pasted where its variable's name belongs must not be echoed back
            shown = "(value not shown)" if key == "api_key_env" else _show(value)
            raise ConfigError(f"{where}: {section} {key} = {shown}: must be {meaning}")


def _check_provider(name: str, body: Any, where: str) -> None:
    section = f"[providers.{name}]"
    if not isinstance(body, Mapping):
        raise ConfigError(f"{where}: [providers] {name} = {_show(body)}: must be {TABLE}")
    if ":" in name or not name.strip():
        raise ConfigError(f"{where}: [providers] {name!r}: a provider name cannot contain ':'")
    if "api_key" in body:
        raise ConfigError(f"{where}: {section} keys never go in files; set api_key_env instead")
    _check_keys(body, rules("provider"), section, where)


def _check_alias(name: str, body: Any, where: str, below: Any) -> None:
    if ":" in name or not name.strip():
        raise ConfigError(
            f"{where}: [aliases] {name!r}: an alias name cannot contain ':' or be blank "
            "(names with ':' are provider:model)"
        )
    if isinstance(body, str):
        if not body.strip():
            raise ConfigError(f"{where}: [aliases] {name} = '': must be {_TARGET}")
        return
    if not isinstance(body, Mapping):
        raise ConfigError(
            f"{where}: [aliases] {name} = {_show(body)}: must be {_TARGET}, or a table"
        )
    section = f"[aliases.{name}]"
    allowed: dict[str, Rule] = {
        "model": (_text, _TARGET),
        "system": (lambda v: isinstance(v, str), "a system prompt as a string"),
        "stop": (
            lambda v: (
                isinstance(v, str) or (isinstance(v, list) and all(isinstance(s, str) for s in v))
            ),
            "a string or a list of strings",
        ),
    }
    anything: Rule = (lambda v: True, "")
    _check_keys(body, {k: allowed.get(k, anything) for k in _ALIAS_KEYS}, section, where)
    if "model" not in body and not (isinstance(below, Mapping) and "model" in below):
        raise ConfigError(f"{where}: {section} needs model = 'provider:model' (or an alias)")
    try:
        Params.from_mapping({k: v for k, v in body.items() if k not in ("model", "system")})
    except InvalidPrompt as e:
        raise ConfigError(f"{where}: {section} {e}") from None


def _check_price(name: str, body: Any, where: str, below: Any) -> None:
    provider, _, model = name.partition(":")
    if not (provider.strip() and model.strip()):
        raise ConfigError(
            f"{where}: [prices] {name!r}: prices are keyed by the full model name "
            "'provider:model' (not an alias), e.g. \"openai:gpt-5.4\""
        )
    if not isinstance(body, Mapping):
        raise ConfigError(
            f'{where}: [prices] "{name}" = {_show(body)}: must be {TABLE}, '
            "e.g. { input = 2.5, output = 10 }"
        )
    section = f'[prices."{name}"]'
    _check_keys(body, rules("price"), section, where)
    missing = {"input", "output"} - set(body) - set(below if isinstance(below, Mapping) else ())
    if missing:
        raise ConfigError(
            f"{where}: {section} needs input and output in USD per million tokens, "
            "e.g. { input = 2.5, output = 10 }"
        )


def _unknown_section(name: str, body: Any, where: str) -> None:
    allowed = ", ".join(f"[{s}]" for s in _SECTIONS)
    if isinstance(body, Mapping):
        hint = _did_you_mean(name, _SECTIONS, "[{}]")
        raise ConfigError(f"{where}: unknown section [{name}]{hint}; allowed: {allowed}")
    home = next((s for s in ("run", "labbook", "budget") if name in rules(s)), None)
    hint = f" (did you mean [{home}] {name}?)" if home else ""
    raise ConfigError(
        f"{where}: unknown top-level key {name!r}{hint}; settings go under a section: {allowed}"
    )


def _did_you_mean(word: str, choices: Any, form: str) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {form.format(close[0])}?)" if close else ""


def _show(value: Any) -> str:
    """A value as the error shows it: short, on one line."""
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"
