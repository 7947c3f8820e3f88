"""research-workbench: several language models side by side, recorded, audited.

    import workbench as wb
    wb.compare("Why is the sky blue?", models=["gpt", "claude", "local"])

Importing this package is cheap: no SDK, pandas or model is loaded until a call needs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from workbench.comparison import Comparison
    from workbench.models.base import Prompt
    from workbench.session import Session

__version__ = "0.1.0"
__all__ = ["acompare", "compare", "models", "session"]


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


def session() -> Session:
    """The default session: its config, budget and id."""
    from workbench.session import session as current

    return current()


def models() -> pd.DataFrame:
    """Aliases and providers as a DataFrame, with which keys are missing."""
    import pandas as pd

    from workbench.models.registry import describe

    return pd.DataFrame(describe(session().config))
