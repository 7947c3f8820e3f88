"""research-workbench: several language models side by side, recorded, audited.

    import workbench as wb
    wb.compare("Why is the sky blue?", models=["gpt", "claude", "local"])
    wb.log.to_frame()   # everything recorded, as a DataFrame

Prompt files and workflows: `wb.prompt("referee", paper=text)` (prompts/NAME.md),
`wb.workflow("paper.yaml").run()`; the desk is `from workbench import desk`.

Everything a notebook user meets is importable from here: the functions below, the types
(`Prompt`, `Params`, `Message`, `File`, `Schema`, `Reply`, `Usage`, `ReplyError`,
`Comparison`, `Session`, `CompareOptions`) and every error (`WorkbenchError` and its kinds,
see `workbench.errors`).
Importing this package is cheap: no SDK, pandas or model is loaded until a call needs it
(the heavier types are imported on first use).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

from workbench import log  # cheap: its functions import what they need when called
from workbench._version import __version__
from workbench.errors import (
    AuditError,
    AuthenticationFailed,
    BadRequest,
    BudgetExceeded,
    Cancelled,
    ConfigError,
    ConnectionFailed,
    CorruptLine,
    ExerciseError,
    IncompleteAnswer,
    InvalidOption,
    InvalidOutput,
    InvalidPrompt,
    LabBookError,
    LabBookUnwritable,
    MalformedResponse,
    MissingDependency,
    MissingKey,
    NotRecorded,
    ProviderError,
    ProviderTimeout,
    RateLimited,
    ReplayMissing,
    RunTooLarge,
    ScorerError,
    ServerError,
    UnknownModel,
    Unsupported,
    WorkbenchError,
)
from workbench.options import CompareOptions
from workbench.providers.base import Message, Params, Prompt, Reply, ReplyError, Usage
from workbench.providers.content import File, Schema

if TYPE_CHECKING:
    from types import ModuleType

    import pandas as pd

    from workbench.comparison import Comparison
    from workbench.labbook import LabBook
    from workbench.sessions import Session
    from workbench.streaming import Stream
    from workbench.widgets.panel import Panel
    from workbench.workflows import Workflow

__all__ = [
    "AuditError",
    "AuthenticationFailed",
    "BadRequest",
    "BudgetExceeded",
    "Cancelled",
    "CompareOptions",
    "Comparison",
    "ConfigError",
    "ConnectionFailed",
    "CorruptLine",
    "ExerciseError",
    "File",
    "IncompleteAnswer",
    "InvalidOption",
    "InvalidOutput",
    "InvalidPrompt",
    "LabBookError",
    "LabBookUnwritable",
    "MalformedResponse",
    "Message",
    "MissingDependency",
    "MissingKey",
    "NotRecorded",
    "Params",
    "Prompt",
    "ProviderError",
    "ProviderTimeout",
    "RateLimited",
    "ReplayMissing",
    "Reply",
    "ReplyError",
    "RunTooLarge",
    "Schema",
    "ScorerError",
    "ServerError",
    "Session",
    "UnknownModel",
    "Unsupported",
    "Usage",
    "WorkbenchError",
    "__version__",
    "acompare",
    "astream",
    "audit",
    "compare",
    "load_ipython_extension",
    "log",
    "models",
    "note",
    "panel",
    "pause",
    "prompt",
    "resume",
    "session",
    "workflow",
]

_LAZY = {
    "Comparison": "workbench.comparison",
    "Session": "workbench.sessions",
}
"""Types imported on first use: they bring the runner, pandas-side code and tenacity."""


def compare(
    prompts: str | Prompt | Sequence[str | Prompt],
    models: str | Sequence[str] | None = None,
    **options: Unpack[CompareOptions],
) -> Comparison:
    """Send prompts to models at once and return a Comparison (see `Session.acompare`)."""
    return session().compare(prompts, models, **options)


async def acompare(
    prompts: str | Prompt | Sequence[str | Prompt],
    models: str | Sequence[str] | None = None,
    **options: Unpack[CompareOptions],
) -> Comparison:
    """`compare` for code that is already async."""
    return await session().acompare(prompts, models, **options)


def astream(
    prompts: str | Prompt | Sequence[str | Prompt],
    models: str | Sequence[str] | None = None,
    **options: Unpack[CompareOptions],
) -> Stream:
    """`async for piece in wb.astream(...)`: text as it arrives; then `.comparison`."""
    return session().astream(prompts, models, **options)


def session() -> Session:
    """The default session (made on first use): its config, budget, lab notebook and id."""
    from workbench.sessions import session as current

    return current()


def models(*, probe: bool = True) -> pd.DataFrame:
    """Aliases and providers as a DataFrame: which keys are missing, which servers answer.

    With `probe` (the default) each OpenAI-compatible server (Ollama, vLLM, ...) gets one
    quick request (0.5 s at most, all at once): "not reachable" when nothing answers;
    without, its status is "not checked".
    """
    import pandas as pd

    from workbench.providers.registry import describe

    return pd.DataFrame(describe(session().config, probe=probe))


def panel(models: Sequence[str] | None = None, **options: Unpack[CompareOptions]) -> Panel:
    """A side-by-side widget panel: prompt, models, Run/Stop, streaming columns, decisions."""
    from workbench.widgets.panel import panel as build

    return build(models, **options)


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext workbench`: registers the `%%compare` and `%workbench` magics."""
    from workbench.magics import load_ipython_extension as load

    load(ipython)


def note(text: str, *, tags: Sequence[str] = (), on: Sequence[str] = ()) -> dict[str, Any]:
    """Write a free note into the lab notebook (about records `on`, if given)."""
    book = _labbook()
    record = book.note(text, on=on, tags=tags)
    book.commit("note")
    return record


def pause(reason: str | None = None) -> None:
    """Stop recording calls in this session until `resume()`; the pause is recorded."""
    _labbook().pause(reason)


def resume() -> None:
    """Record calls again."""
    _labbook().resume()


def prompt(name: str, /, *, files: Any = None, **fields: Any) -> Prompt:
    """The prompt file prompts/NAME.md with its `{fields}` filled in (see `workbench.prompts`).

    `wb.compare(wb.prompt("referee", paper=text), models=["claude"])`: its records name the
    file and its version (git blob hash, and whether it differed from the commit).
    """
    from workbench.prompts import prompt as made

    return made(name, files=files, **fields)


def workflow(path: str | Path, *, session: Session | None = None) -> Workflow:
    """A workflow file (steps, each given to a model by role): `.status()`, `.run()`, `.pick()`.

    See `workbench.workflows`; its calls are made in `session` (default: the default one).
    """
    from workbench.workflows import Workflow

    return Workflow(path, session)


def _labbook() -> LabBook:
    book = session().labbook
    if book is None:
        raise NotRecorded("this session records nothing (it was opened with labbook=False)")
    return book


def __getattr__(name: str) -> ModuleType | type:
    """The heavier types, and `wb.audit` (papermill-side code), on first use."""
    if name in _LAZY:
        value: type = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name == "audit":
        return importlib.import_module("workbench.audit")
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")
