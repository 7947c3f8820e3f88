"""Any OpenAI-compatible server (Ollama, vLLM, LM Studio, llama.cpp server) via the `openai` SDK.

What the servers generally take, and so what is declared (a server that refuses more gives
its own 4xx, in its column):

- Files: images (`image_url` data URLs, for vision models) and text files (sent as text).
  Not OpenAI's `file` parts for PDFs. Size limits are each server's own.
- Schemas: OpenAI's `response_format` json_schema form (vLLM, llama.cpp's llama-server,
  Ollama, LM Studio). llama-cpp-python's own server takes only `{"type": "json_object",
  "schema": ...}` (0.3.36 answers 500 to json_schema, measured): set
  `options = { schema_format = "json_object" }` for such a server.
- Reasoning: an effort goes as `reasoning_effort`, which servers running reasoning models
  map to their own switch (vLLM, Ollama, LM Studio); servers that do not know it ignore it
  (llama-cpp-python 0.3.36 does, measured) or refuse it. Thinking that a server returns
  beside the answer (`reasoning_content` or `reasoning`) becomes the reply's thinking.
"""

from __future__ import annotations

from typing import ClassVar

from workbench.errors import ConfigError
from workbench.providers.base import Limits, ProviderSettings
from workbench.providers.content import FileKind
from workbench.providers.openai import OpenAIModel
from workbench.providers.openai_request import SCHEMA_FORMS

PLACEHOLDER_KEY = "not-needed"
"""Sent when no key is configured: the SDK insists on one, local servers ignore it."""


class CompatModel(OpenAIModel):
    """A model on an OpenAI-compatible Chat Completions server at a configured base_url."""

    provider: ClassVar[str] = "compat"
    max_tokens_field: ClassVar[str] = "max_tokens"
    key_required: ClassVar[bool] = False
    file_kinds: ClassVar[frozenset[FileKind]] = frozenset({"image", "text"})
    limits: ClassVar[Limits] = Limits(source="each server sets its own limits")
    flat_text: ClassVar[bool] = True  # some servers' chat templates take only string content

    def __init__(self, model_id: str, settings: ProviderSettings) -> None:
        if not settings.base_url:
            raise ConfigError(
                f"the {settings.name} provider (type compat) has no server address: set base_url "
                f'in [providers.{settings.name}], e.g. base_url = "http://127.0.0.1:11434/v1"'
            )
        form = settings.options.get("schema_format", "json_schema")
        if form not in SCHEMA_FORMS:
            raise ConfigError(
                f"schema_format = {form!r} in [providers.{settings.name}] options: use "
                f"{' or '.join(repr(f) for f in SCHEMA_FORMS)}"
            )
        super().__init__(model_id, settings)
        self.schema_form = str(form)

    @property
    def name(self) -> str:
        """The full "provider:model" name, under the configured provider's name (e.g. ollama)."""
        return f"{self.settings.name}:{self.model_id}"

    def _api_key(self) -> str:
        """Return the configured key or a placeholder, never the SDK's OPENAI_API_KEY fallback."""
        return self._key or PLACEHOLDER_KEY
