"""Provider batch APIs: many calls sent as one job, answered within hours at half price.

`base` holds what the three share (a request's custom id, a batch's progress, the outcome
of one request); `openai`, `anthropic` and `gemini` each hold the pure converters between
our Prompt/Completion and that vendor's batch lines, and a thin transport through the
vendor's own SDK (OpenAI's Batch API, Anthropic's Message Batches, Gemini's batch mode with
inline requests). `workbench.audit.batch` runs an audit's calls through them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from workbench.batch.base import Batches
    from workbench.providers.base import ProviderSettings

TRANSPORTS = {
    "openai": "workbench.batch.openai:OpenAIBatches",
    "anthropic": "workbench.batch.anthropic:AnthropicBatches",
    "gemini": "workbench.batch.gemini:GeminiBatches",
}
"""Provider types with a batch mode -> their transport ("module:Class", imported on use)."""


def has_batch_mode(provider_type: str) -> bool:
    """Whether models of this provider type can go through a batch API."""
    return provider_type in TRANSPORTS


def transport(settings: ProviderSettings) -> Batches:
    """The batch transport for a provider (its SDK imported now)."""
    from importlib import import_module

    module, name = TRANSPORTS[settings.type].split(":")
    cls: type[Batches] = getattr(import_module(module), name)
    return cls(settings)
