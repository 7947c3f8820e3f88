"""Prompt to Anthropic Messages request: pure converters, no SDK, no network.

The decisions (files as blocks, structured output as `output_config.format`, thinking by the
model's version, `max_tokens` raised by the thinking budget, `cache_control`) are in the
docstring of `workbench.providers.anthropic`.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from workbench.providers.base import Limits, Message, Prompt
from workbench.providers.content import File, Schema

DEFAULT_MAX_TOKENS = 4096
"""Sent as `max_tokens` when Params.max_tokens is None: the API requires a value."""

MIN_BUDGET = 1024
"""The smallest thinking budget the API takes."""

EFFORT_BUDGETS = {"low": 2048, "medium": 8192, "high": 24576}
"""Thinking tokens per effort. Each is above the API's floor of 1,024; "high" plus the
default answer (28,672 tokens) stays within the smallest output limit of the models that
take budgets (32,000, Claude Opus 4 and 4.1), and Anthropic finds returns diminish past
32,000 thinking tokens."""

ADAPTIVE_SINCE = (4, 6)
"""The first Claude version with adaptive thinking (and `output_config.effort`); from it on,
thinking budgets are deprecated or refused."""

LIMITS = Limits(
    image=5 * 1024 * 1024 * 3 // 4,
    pdf=None,
    text=None,
    request=32_000_000,
    source=(
        "Anthropic's API, 2026: an image at most 5 MB as base64, a request at most 32 MB; "
        "PDFs up to 600 pages, 100 on models with a 200k-token context window"
    ),
)

_EPHEMERAL = {"type": "ephemeral"}
_NO_KEY = "none"
"""The key sent when the settings name no key env var (a keyless Anthropic-style server)."""

LABEL = "anthropic"


# -- Prompt -> request ---------------------------------------------------------------------


def request_from_prompt(prompt: Prompt, model_id: str) -> dict[str, Any]:
    """Build the keyword arguments of `messages.create` for this prompt (without `stream`)."""
    params = prompt.params
    cache = bool(params.cache)
    request: dict[str, Any] = {
        "model": model_id,
        "max_tokens": params.max_tokens or DEFAULT_MAX_TOKENS,
        "messages": messages_of(prompt.turns, cache),
    }
    if prompt.system:
        request["system"] = (
            [{"type": "text", "text": prompt.system, "cache_control": _EPHEMERAL}]
            if cache
            else prompt.system
        )
    if params.stop:
        request["stop_sequences"] = list(params.stop)
    output_config: dict[str, Any] = {}
    if params.reasoning is not None:
        thinking, effort, budget = thinking_of(params.reasoning, model_id)
        request["thinking"] = thinking
        request["max_tokens"] += budget  # thinking counts inside max_tokens
        if effort is not None:
            output_config["effort"] = effort
    if prompt.schema is not None:
        output_config["format"] = output_format(prompt.schema)
    if output_config:
        request["output_config"] = output_config
    return request


def messages_of(turns: tuple[Message, ...], cache: bool = False) -> list[dict[str, Any]]:
    """The API's messages: files as blocks before the text; with `cache`, the last file marked."""
    last_files = max((i for i, m in enumerate(turns) if m.files), default=None)
    messages: list[dict[str, Any]] = []
    for i, turn in enumerate(turns):
        if turn.role == "assistant" and not turn.content.strip():
            continue  # "all messages must have non-empty content": nothing to say it with
        if not turn.files:
            messages.append({"role": turn.role, "content": turn.content})
            continue
        blocks = [file_block(f) for f in turn.files]
        if cache and i == last_files:
            blocks[-1]["cache_control"] = _EPHEMERAL
        if turn.content.strip():
            blocks.append({"type": "text", "text": turn.content})
        messages.append({"role": turn.role, "content": blocks})
    return messages


def file_block(file: File) -> dict[str, Any]:
    """One file as a content block: image, PDF document, or plain-text document."""
    if file.kind == "text":
        source = {"type": "text", "media_type": "text/plain", "data": file.text()}
        return {"type": "document", "source": source, "title": file.name}
    data = base64.b64encode(file.data).decode("ascii")
    source = {"type": "base64", "media_type": file.media_type, "data": data}
    if file.kind == "image":
        return {"type": "image", "source": source}
    return {"type": "document", "source": source, "title": file.name}


def output_format(schema: Schema) -> dict[str, Any]:
    """`output_config.format` for a schema, made strict the way the SDK's own parse does."""
    from anthropic import transform_schema

    return {"type": "json_schema", "schema": transform_schema(dict(schema.json_schema))}


def claude_version(model_id: str) -> tuple[int, int] | None:
    """(major, minor) from a Claude model name; None when it names no version.

    claude-opus-4-6 -> (4, 6), claude-sonnet-5 -> (5, 0), claude-3-7-sonnet-20250219 ->
    (3, 7), claude-haiku-4-5-20251001 -> (4, 5): a date (8 digits) is not a version.
    """
    numbers = [int(n) for n in re.findall(r"\d+", model_id) if len(n) < 8]
    if not numbers:
        return None
    return numbers[0], numbers[1] if len(numbers) > 1 else 0


def thinks_adaptively(model_id: str) -> bool:
    """Whether the model thinks adaptively, taking efforts and no budget (4.6 on, or no version).

    Names without a version are the newest models' (claude-mythos-preview), which think
    adaptively only.
    """
    version = claude_version(model_id)
    return version is None or version >= ADAPTIVE_SINCE


def thinking_of(reasoning: str | int, model_id: str) -> tuple[dict[str, Any], str | None, int]:
    """(the `thinking` argument, the `output_config.effort` if any, tokens to add to max_tokens)."""
    if isinstance(reasoning, int):
        budget = max(reasoning, MIN_BUDGET)
        return {"type": "enabled", "budget_tokens": budget}, None, budget
    budget = EFFORT_BUDGETS[reasoning]
    if thinks_adaptively(model_id):
        # Newer models default to omitting the thinking text; ask for its summary.
        return {"type": "adaptive", "display": "summarized"}, reasoning, budget
    return {"type": "enabled", "budget_tokens": budget}, None, budget


# -- response / stream -> Completion -------------------------------------------------------
