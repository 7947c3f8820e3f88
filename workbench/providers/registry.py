"""Resolve model names to adapters: one registry of provider types, filled lazily.

A name is either "provider:model" (`openai:gpt-5.4`, `ollama:llama3`) or an alias from
config (`gpt`, `terse`). An alias may carry a system prompt and parameters, so variants of
one model compare side by side like different models. Provider *types* (the adapters) are
registered here by import path and loaded only when first used; third-party packages add
theirs through the `workbench.providers` entry point group.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from workbench.errors import ConfigError, UnknownModel
from workbench.providers.base import Model, Params, ProviderSettings

if TYPE_CHECKING:
    from workbench.config import Config

ENTRY_POINT_GROUP = "workbench.providers"

_BUILTIN: dict[str, str] = {
    "openai": "workbench.providers.openai:OpenAIModel",
    "compat": "workbench.providers.compat:CompatModel",
    "anthropic": "workbench.providers.anthropic:AnthropicModel",
    "gemini": "workbench.providers.gemini:GeminiModel",
    "local": "workbench.providers.local:LocalModel",
    "replay": "workbench.providers.replay:ReplayModel",
}
_registered: dict[str, str | type[Model]] = {}
_entry_points_loaded = False


def register(provider_type: str, model_class: str | type[Model]) -> None:
    """Register an adapter class (or its "module:Class" path) under a provider type."""
    _registered[provider_type] = model_class


def unregister(provider_type: str) -> None:
    """Remove a registered provider type (tests use it in `finally`)."""
    _registered.pop(provider_type, None)


def provider_types() -> list[str]:
    """Every provider type known, built-in and registered."""
    _load_entry_points()
    return sorted({*_BUILTIN, *_registered})


def adapter_class(provider_type: str) -> type[Model]:
    """The Model subclass for a provider type, imported on first use."""
    _load_entry_points()
    target = _registered.get(provider_type) or _BUILTIN.get(provider_type)
    if target is None:
        raise ConfigError(
            f"unknown provider type {provider_type!r}: use one of {', '.join(provider_types())}"
        )
    if isinstance(target, str):
        module_name, _, attr = target.partition(":")
        target = getattr(importlib.import_module(module_name), attr)
        assert isinstance(target, type) and issubclass(target, Model)
    return target


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        _registered.setdefault(ep.name, ep.value)


@dataclass(frozen=True)
class ModelSpec:
    """A resolved model name: which provider and model, with what system prompt and params."""

    label: str
    """The name as the user wrote it; columns and rows are labelled with it."""
    provider: str
    model_id: str
    system: str | None = None
    params: Params = field(default_factory=Params)

    @property
    def full_name(self) -> str:
        """The "provider:model" name."""
        return f"{self.provider}:{self.model_id}"


_ALIAS_KEYS = {"model", "system", *Params.__dataclass_fields__}


def resolve(name: str, config: Config) -> ModelSpec:
    """Turn a model name or alias into a ModelSpec, following aliases of aliases."""
    if not isinstance(name, str) or not name.strip():
        raise UnknownModel(str(name), sorted(config.aliases))
    label = name.strip()
    system: str | None = None
    params = Params()
    seen: list[str] = []
    current = label
    while ":" not in current:
        alias = config.aliases.get(current)
        if alias is None:
            raise UnknownModel(current, sorted(config.aliases))
        if current in seen:
            raise ConfigError(f"alias loop: {' -> '.join([*seen, current])}; fix [aliases]")
        seen.append(current)
        unknown = sorted(set(alias) - _ALIAS_KEYS)
        if unknown:
            raise ConfigError(
                f"alias {current!r}: unknown key {unknown[0]!r}; "
                f"allowed: {', '.join(sorted(_ALIAS_KEYS))}"
            )
        # The outermost alias wins: it is the most specific variant.
        system = system or alias.get("system")
        own = Params.from_mapping({k: v for k, v in alias.items() if k not in ("model", "system")})
        params = own.merged(params)
        current = alias["model"]
    provider, _, model_id = current.partition(":")
    if provider == "replay" and ":" not in model_id:  # replay:gpt -> replay the alias's model
        inner = resolve(model_id, config)
        return replaying(
            ModelSpec(
                label,
                inner.provider,
                inner.model_id,
                system or inner.system,
                inner.params.merged(params),
            )
        )
    if provider not in config.providers or not model_id:
        raise UnknownModel(current, sorted(config.aliases))
    return ModelSpec(label, provider, model_id, system, params)


def replaying(spec: ModelSpec) -> ModelSpec:
    """The same model, system prompt and params, answered from the lab notebook."""
    if spec.provider == "replay":
        return spec
    return ModelSpec(spec.label, "replay", spec.full_name, spec.system, spec.params)


def build(spec: ModelSpec, config: Config) -> Model:
    """Instantiate the adapter for a spec (the SDK is imported here, not before)."""
    settings = config.providers[spec.provider]
    return adapter_class(settings.type)(spec.model_id, settings)


def provider_settings(spec: ModelSpec, config: Config) -> ProviderSettings:
    """The provider settings a spec will be called with."""
    return config.providers[spec.provider]


PROBE_TIMEOUT_S = 0.5
"""How long `describe(probe=True)` waits for an OpenAI-compatible server to answer."""


def describe(config: Config, *, probe: bool = False) -> list[dict[str, Any]]:
    """One row per alias and provider: what it resolves to, its key, and whether it is ready.

    `status` says it in words: "ready", "no key: set X", and for an OpenAI-compatible server
    (Ollama, vLLM, ...) "not checked", or with `probe` (one quick request to each server,
    all at once) "ready" or "not reachable at URL"; `ready` is False only when something
    known stands in the way. No cell is left empty (`system` is "" when there is none).
    """
    targets = [(a, resolve(a, config)) for a in sorted(config.aliases)]
    providers = sorted(config.providers.items())
    urls = {s.base_url for _, s in providers if s.type == "compat" and s.base_url}
    answered = _probe(sorted(urls)) if probe else {}
    rows = [
        _row(alias, spec.full_name, config.providers[spec.provider], spec.system, answered)
        for alias, spec in targets
    ]
    for name, settings in providers:
        target = settings.base_url or settings.type
        rows.append(_row(f"{name}:<model>", target, settings, None, answered))
    return rows


def _row(
    name: str,
    target: str,
    settings: ProviderSettings,
    system: str | None,
    answered: dict[str, bool],
) -> dict[str, Any]:
    key_env = settings.api_key_env
    ready = key_env is None or settings.api_key() is not None
    status = "ready" if ready else f"no key: set {key_env}"
    url = settings.base_url
    if ready and settings.type == "compat" and url:
        if url not in answered:
            status = "not checked"
        elif not answered[url]:
            ready, status = False, f"not reachable at {url}"
    return {
        "name": name,
        "model": target,
        "system": system or "",
        "key": key_env or "(none needed)",
        "ready": ready,
        "status": status,
    }


def _probe(urls: list[str]) -> dict[str, bool]:
    """Whether each server answers at all (any HTTP status will do) within the timeout."""
    from concurrent.futures import ThreadPoolExecutor

    if not urls:
        return {}
    with ThreadPoolExecutor(max_workers=min(8, len(urls))) as pool:
        return dict(zip(urls, pool.map(_answers, urls), strict=True))


def _answers(url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}/models", timeout=PROBE_TIMEOUT_S):
            return True
    except urllib.error.HTTPError:  # it answered, if only to refuse
        return True
    except (OSError, ValueError):  # refused, timed out, no such host, a bad URL
        return False
