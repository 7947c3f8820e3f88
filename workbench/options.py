"""The options of a comparison, declared once.

`wb.compare`, `wb.acompare`, `wb.astream`, `Session.compare`/`acompare`/`astream`, the panel,
the `%%compare` magic and `workbench compare` all take these (as `**options`), so a new
option is added here and type-checked everywhere (`Unpack[CompareOptions]`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from workbench.providers.content import File, Schema
    from workbench.run import Listener
    from workbench.streaming import TextCallback


class CompareOptions(TypedDict, total=False):
    """What a comparison can be asked for, besides its prompts and models."""

    system: str | None
    """A system prompt for text prompts (it wins over an alias's own)."""
    samples: int
    """Answers per model and prompt; each sample after the first gets its own seed."""
    replay: bool
    """Answer from the lab notebook, by request hash: no network, no cost."""
    max_calls: int | None
    """Allow this many calls (prompts x models x samples); default `[run] max_calls`."""
    budget_usd: float | None
    """Cap on this comparison's spend; default `[budget] run_usd`."""
    concurrency: int | None
    """Calls in flight per provider at most (start and cap), overriding each provider's own."""
    stream: bool
    """Stream the answers (default True); False asks for whole answers."""
    listener: Listener | None
    """Hears each call start, stream, retry and finish."""
    on_text: TextCallback | None
    """Called with (model, piece) as each piece of text arrives."""
    files: Sequence[str | Path | File] | str | Path | File | None
    """Files (images, PDFs, text) sent with each prompt: paths or `File`s."""
    schema: Mapping[str, Any] | type[Any] | Schema | None
    """A JSON Schema (dict) or pydantic model the answers must follow; `Reply.data` holds it."""
    temperature: float | None
    max_tokens: int | None
    top_p: float | None
    seed: int | None
    stop: str | Sequence[str]
    reasoning: str | int | None
    """How hard reasoning models think: "low", "medium", "high", or a budget of tokens."""
    cache: bool | None
    """Ask the provider to cache the system prompt and files (Anthropic's cache_control)."""


PARAMS = ("temperature", "max_tokens", "top_p", "seed", "stop", "reasoning", "cache")
"""The options that are sampling parameters (they go into each Prompt's Params)."""
PLAN = ("system", "samples", "replay", "max_calls", "files", "schema", *PARAMS)
"""The options that shape the calls (checked before anything is sent)."""


def split(options: CompareOptions) -> tuple[dict[str, Any], dict[str, Any]]:
    """(what plans the calls, what runs them), refusing an option nothing knows."""
    known = CompareOptions.__annotations__
    unknown = sorted(set(options) - set(known))
    if unknown:
        from workbench.errors import InvalidOption

        raise InvalidOption(f"unknown option {unknown[0]!r}: use one of {', '.join(sorted(known))}")
    plan = {k: v for k, v in options.items() if k in PLAN}
    run = {k: v for k, v in options.items() if k not in PLAN}
    return plan, run
