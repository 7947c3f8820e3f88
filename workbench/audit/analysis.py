"""Reading finished runs side by side: two runs compared item by item and beyond noise; plans.

`diff` and `changes` compare two runs of one exercise; `plan` sizes the next sweep from a
pilot run or from a discordance you expect.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.audit.api import open_run
from workbench.config import Config
from workbench.errors import InvalidOption
from workbench.notices import notice

if TYPE_CHECKING:
    import pandas as pd


def diff(a: str | Path, b: str | Path, config: Config | None = None) -> pd.DataFrame:
    """Per item: the outcome and each model's answer in run A and run B, and what changed."""
    import pandas as pd

    config = config or Config.load()
    first, second = open_run(a, config).outcomes(), open_run(b, config).outcomes()
    models = [c for c in first.columns if c not in ("outcome", "expected", "needs_human", "review")]
    both = pd.merge(
        first, second, how="outer", left_index=True, right_index=True, suffixes=("_a", "_b")
    )
    table = pd.DataFrame(index=both.index)
    table["outcome_a"] = both["outcome_a"].astype("object")
    table["outcome_b"] = both["outcome_b"].astype("object")
    changed = table["outcome_a"].ne(table["outcome_b"])
    for model in models:
        if f"{model}_a" in both and f"{model}_b" in both:
            table[f"{model}_a"], table[f"{model}_b"] = both[f"{model}_a"], both[f"{model}_b"]
            changed |= both[f"{model}_a"].fillna("∅").ne(both[f"{model}_b"].fillna("∅"))
    table["changed"] = changed
    return table


def changes(a: str | Path, b: str | Path, config: Config | None = None) -> pd.DataFrame:
    """Per model in both runs: accuracy in A and B, the change with its interval, beyond noise.

    The runs' items are paired by id (two runs of the same exercise); the change is B's
    accuracy minus A's on the items both scored, tested like `AuditRun.paired` and
    Holm-adjusted over the models. `beyond_noise`: the adjusted p is below 0.05.
    """
    from workbench.audit.report import models_of
    from workbench.audit.significance import changes as between

    config = config or Config.load()
    first, second = open_run(a, config), open_run(b, config)
    if first.manifest.get("digest") != second.manifest.get("digest"):
        notice(
            f"{first.name} and {second.name} ran different versions of the exercise: items "
            "are paired by id"
        )
    models = [m for m in models_of(first.rows) if m in models_of(second.rows)]
    return between(first.rows, second.rows, models)


def plan(
    ref: str | Path | None = None,
    *,
    difference: float | None = None,
    discordance: float | None = None,
    power: float = 0.8,
    alpha: float = 0.05,
    config: Config | None = None,
) -> pd.DataFrame:
    """How many items a sweep needs: from a pilot run (`ref`), or a `discordance` you give.

    From a pilot, one row per pair of its models (see `AuditRun.plan`); without one, one row
    for a `difference` to detect when two models differ on `discordance` of the items.
    """
    import pandas as pd

    from workbench.audit.result import check_plan
    from workbench.audit.significance import PLAN_COLUMNS, plan_sentence
    from workbench.audit.stats import items_needed

    check_plan(difference, power, alpha)
    if ref is not None:
        return open_run(ref, config).plan(difference, power=power, alpha=alpha)
    if discordance is None or difference is None:
        raise InvalidOption(
            "plan from a pilot run (give its name), or give both the difference to detect "
            "and the discordance expected (the share of items where the models differ)"
        )
    check_plan(discordance, power, alpha)
    line: dict[str, Any] = {
        "a": "A", "b": "B", "pilot_items": None, "discordance": discordance,
        "difference": difference, "power": power, "alpha": alpha,
        "items_needed": items_needed(difference, discordance, target=power, alpha=alpha),
    }  # fmt: skip
    line["sentence"] = plan_sentence(line, 1, alpha)
    table = pd.DataFrame([line], columns=PLAN_COLUMNS)
    table["items_needed"] = table["items_needed"].astype("Int64")
    return table
