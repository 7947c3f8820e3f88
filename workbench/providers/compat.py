"""Any OpenAI-compatible server (Ollama, vLLM, LM Studio, llama.cpp server) via the `openai` SDK."""

from __future__ import annotations

from typing import ClassVar

from workbench.errors import ConfigError
from workbench.providers.base import ProviderSettings
from workbench.providers.openai import OpenAIModel

PLACEHOLDER_KEY = "not-needed"
"""Sent when no key is configured: the SDK insists on one, local servers ignore it."""


class CompatModel(OpenAIModel):
    """A model on an OpenAI-compatible Chat Completions server at a configured base_url."""

    provider: ClassVar[str] = "compat"
    max_tokens_field: ClassVar[str] = "max_tokens"
    key_required: ClassVar[bool] = False

    def __init__(self, model_id: str, settings: ProviderSettings) -> None:
        if not settings.base_url:
            raise ConfigError(
                f"the {settings.name} provider (type compat) has no server address: set base_url "
                f'in [providers.{settings.name}], e.g. base_url = "http://127.0.0.1:11434/v1"'
            )
        super().__init__(model_id, settings)

    @property
    def name(self) -> str:
        """The full "provider:model" name, under the configured provider's name (e.g. ollama)."""
        return f"{self.settings.name}:{self.model_id}"

    def _api_key(self) -> str:
        """Return the configured key or a placeholder, never the SDK's OPENAI_API_KEY fallback."""
        return self._key or PLACEHOLDER_KEY
