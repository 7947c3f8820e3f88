"""research-workbench: several language models side by side, recorded, audited.

    import workbench as wb
    wb.compare("Why is the sky blue?", models=["gpt", "claude", "local"])
    wb.log.to_frame()   # everything recorded, as a DataFrame

Importing this package is cheap: no SDK, pandas or model is loaded until a call needs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import ModuleType

    import pandas as pd

    from workbench.comparison import Comparison
    from workbench.labbook import LabBook
    from workbench.models.base import Prompt
    from workbench.session import Session
    from workbench.streaming import Stream
    from workbench.widgets.panel import Panel

from workbench import log  # cheap: its functions import what they need when called

# Import the (empty) models package now, so the `models()` function below shadows it for good:
# importing it later would rebind `workbench.models` to the package and break `wb.models()`.
from workbench import models as _models_package  # noqa: F401

__version__ = "0.1.0"
__all__ = [
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
    "resume",
    "session",
]


def compare(
    prompts: str | Prompt | Sequence[str | Prompt],
    models: str | Sequence[str] | None = None,
    **options: Any,
) -> Comparison:
    """Send prompts to models at once and return a Comparison (see `Session.acompare`)."""
    from workbench.session import session as current

    return current().compare(prompts, models, **options)


async def acompare(
    prompts: str | Prompt | Sequence[str | Prompt],
    models: str | Sequence[str] | None = None,
    **options: Any,
) -> Comparison:
    """`compare` for code that is already async."""
    from workbench.session import session as current

    return await current().acompare(prompts, models, **options)


def astream(
    prompts: str | Prompt | Sequence[str | Prompt],
    models: str | Sequence[str] | None = None,
    **options: Any,
) -> Stream:
    """`async for piece in wb.astream(...)`: text as it arrives; then `.comparison`."""
    from workbench.session import session as current

    return current().astream(prompts, models, **options)


def session() -> Session:
    """The default session: its config, budget and id."""
    from workbench.session import session as current

    return current()


def models() -> pd.DataFrame:
    """Aliases and providers as a DataFrame, with which keys are missing."""
    import pandas as pd

    from workbench.models.registry import describe

    return pd.DataFrame(describe(session().config))


def panel(models: Sequence[str] | None = None, **params: Any) -> Panel:
    """A side-by-side widget panel: prompt, models, Run/Stop, streaming columns, decisions."""
    from workbench.widgets.panel import panel as build

    return build(models, **params)


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


def _labbook() -> LabBook:
    book = session().labbook
    if book is None:
        from workbench.errors import NotRecorded

        raise NotRecorded("this session records nothing (it was opened with labbook=False)")
    return book


def __getattr__(name: str) -> ModuleType:
    """`wb.audit` on first use: audit runs import papermill-side code worth not loading eagerly."""
    if name == "audit":
        import importlib

        return importlib.import_module("workbench.audit")
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")
