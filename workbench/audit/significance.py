"""Whether a difference is beyond noise: rates with intervals, models paired, runs compared, plans.

Tables made from a run's result rows with the tests of `stats`:

per item    `counts`: each model's right, scored, failed and given answers on each item
paired      every two models on the items both were scored on: the difference in accuracy
            with its interval, an exact paired test, Holm-adjusted p-values, agreement, and
            one plain sentence per pair
changes     one model in two runs of the same exercise (paired by item): beyond noise or not
plan        how many items a sweep needs to detect a difference, from a pilot's discordance
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.audit import stats
from workbench.audit.agreement import first_keys

if TYPE_CHECKING:
    import pandas as pd

Array = np.ndarray[Any, Any]
ALPHA = 0.05


@dataclass(frozen=True)
class Counts:
    """Per model, per item (in the rows' order): answers right, scored, failed and given."""

    items: list[str]
    right: dict[str, Array]
    scored: dict[str, Array]
    errors: dict[str, Array]
    answers: dict[str, Array]

    @property
    def samples(self) -> int:
        """The most answers one model gave to one item."""
        return int(max((a.max() for a in self.answers.values() if len(a)), default=0))


def counts(rows: Sequence[dict[str, Any]], models: Sequence[str]) -> Counts:
    """Each model's answers on each item, counted."""
    items = [str(row["item"]) for row in rows]
    shape = {m: np.zeros(len(rows)) for m in models}
    right, scored, errors, answers = (
        {m: a.copy() for m, a in shape.items()} for _ in range(4)
    )  # fmt: skip
    for i, row in enumerate(rows):
        for a in row["answers"]:
            model = a["model"]
            if model not in answers:
                continue
            answers[model][i] += 1
            errors[model][i] += bool(a.get("error"))
            if a.get("correct") is not None:
                scored[model][i] += 1
                right[model][i] += bool(a["correct"])
    return Counts(items, right, scored, errors, answers)


def rates(found: Counts, model: str) -> tuple[stats.Interval, stats.Interval]:
    """(accuracy, error rate) of one model, each with its interval."""
    accuracy = stats.rate(found.right[model], found.scored[model])
    errors = stats.rate(found.errors[model], found.answers[model])
    return accuracy, errors


# -- models paired ---------------------------------------------------------------------------


def paired(rows: Sequence[dict[str, Any]], models: Sequence[str]) -> pd.DataFrame:
    """One row per pair of models: the difference in accuracy, its interval and test, agreement.

    `difference` is a's accuracy minus b's on the items both were scored on (a share; the
    sentence says it in points). `p_adjusted` is Holm's adjustment over every pair.
    """
    import pandas as pd

    found = counts(rows, models)
    keys = [first_keys(row) for row in rows]
    lines = []
    for a, b in itertools.combinations(models, 2):
        result = stats.paired(found.right[a], found.scored[a], found.right[b], found.scored[b])
        both = [k for k in keys if k.get(a) is not None and k.get(b) is not None]
        same = stats.wilson(sum(1 for k in both if k[a] == k[b]), len(both))
        lines.append(_pair_line(a, b, result, same, found))
    table = pd.DataFrame(lines, columns=PAIRED_COLUMNS)
    table["p_adjusted"] = stats.holm(table["p_value"].tolist()) if len(table) else []
    table["sentence"] = [
        paired_sentence(line, len(table), found.samples) for line in table.to_dict("records")
    ]
    return table


PAIRED_COLUMNS = [
    "a", "b", "items", "a_accuracy", "b_accuracy", "a_only", "b_only", "difference", "low",
    "high", "interval", "test", "p_value", "p_adjusted", "agreement", "agreement_low",
    "agreement_high", "sentence",
]  # fmt: skip


def _pair_line(
    a: str, b: str, result: stats.Paired, same: stats.Interval, found: Counts
) -> dict[str, Any]:
    both = (found.scored[a] > 0) & (found.scored[b] > 0)
    accuracy = [
        stats.rate(found.right[m][both], found.scored[m][both]).estimate for m in (a, b)
    ]  # fmt: skip
    return {
        "a": a, "b": b, "items": result.items, "a_accuracy": accuracy[0],
        "b_accuracy": accuracy[1], "a_only": result.a_only, "b_only": result.b_only,
        "difference": result.difference.estimate, "low": result.difference.low,
        "high": result.difference.high, "interval": result.difference.method,
        "test": result.test, "p_value": result.p_value, "p_adjusted": math.nan,
        "agreement": same.estimate, "agreement_low": same.low, "agreement_high": same.high,
        "sentence": "",
    }  # fmt: skip


def paired_sentence(line: Mapping[Any, Any], pairs: int, samples: int) -> str:
    """One pair in plain words: who is right more often, by how much, and the test."""
    a, b, n = line["a"], line["b"], int(line["items"])
    if n == 0:
        return f"{a} and {b} were never both scored on one item: nothing to compare"
    d, low, high = line["difference"], line["low"], line["high"]
    if d < 0:  # the better one first
        a, b, d, low, high = b, a, -d, -high, -low
    span = f"95% CI {_points(low)} to {_points(high)}"
    test = f"{line['test']} {_p(line['p_value'])}"
    if pairs > 1:
        test += f" (Holm-adjusted over {pairs} pairs: {_p(line['p_adjusted'])})"
    if samples > 1:
        return (
            f"{a} is right {_points(d)} points more often than {b} over the {n} items both "
            f"answered ({samples} samples each); {span}; {test}"
        )
    more = abs(int(line["a_only"]) - int(line["b_only"]))
    if more == 0:
        return (
            f"{a} and {b} are right on as many items out of {n} (each right where the other "
            f"is wrong on {int(line['a_only'])}); difference 0.0 points, {span}; {test}"
        )
    items = "item" if more == 1 else "items"
    return (
        f"{a} is right on {more} more {items} than {b} out of {n}; difference {_points(d)} "
        f"points, {span}; {test}"
    )


# -- one model in two runs -------------------------------------------------------------------


def changes(
    first: Sequence[dict[str, Any]], second: Sequence[dict[str, Any]], models: Sequence[str]
) -> pd.DataFrame:
    """Per model in both runs: its accuracy in each, the change on the items both scored.

    The items are paired by id (two runs of the same exercise). `beyond_noise` is True when
    the Holm-adjusted p (over the models) is below 0.05.
    """
    import pandas as pd

    ids = sorted({str(r["item"]) for r in first} & {str(r["item"]) for r in second})
    by_id = [{str(r["item"]): r for r in rows} for rows in (first, second)]
    before = counts([by_id[0][i] for i in ids], models)
    after = counts([by_id[1][i] for i in ids], models)
    lines = []
    for model in models:
        result = stats.paired(
            after.right[model], after.scored[model], before.right[model], before.scored[model]
        )
        both = (before.scored[model] > 0) & (after.scored[model] > 0)
        was, now = (
            stats.rate(c.right[model][both], c.scored[model][both]).estimate
            for c in (before, after)
        )
        lines.append(
            {
                "model": model, "items": result.items, "accuracy_a": was, "accuracy_b": now,
                "change": result.difference.estimate, "low": result.difference.low,
                "high": result.difference.high, "test": result.test, "p_value": result.p_value,
            }
        )  # fmt: skip
    table = pd.DataFrame(lines, columns=CHANGE_COLUMNS[:9])
    table["p_adjusted"] = stats.holm(table["p_value"].tolist()) if len(table) else []
    table["beyond_noise"] = table["p_adjusted"] < ALPHA
    samples = max(before.samples, after.samples)
    table["sentence"] = [
        change_sentence(line, len(table), samples) for line in table.to_dict("records")
    ]
    return table.set_index("model")


CHANGE_COLUMNS = [
    "model", "items", "accuracy_a", "accuracy_b", "change", "low", "high", "test", "p_value",
    "p_adjusted", "beyond_noise", "sentence",
]  # fmt: skip


def change_sentence(line: Mapping[Any, Any], models: int, samples: int) -> str:
    """One model's change between two runs in plain words, and whether it is beyond noise."""
    n = int(line["items"])
    if n == 0:
        return f"{line['model']}: no item scored in both runs; nothing to compare"
    test = f"{line['test']} {_p(line['p_value'])}"
    if models > 1:
        test += f" (Holm-adjusted over {models} models: {_p(line['p_adjusted'])})"
    verdict = "beyond noise" if line["p_adjusted"] < ALPHA else "within noise"
    sign = "+" if line["change"] > 0 else ""
    each = f" ({samples} samples each)" if samples > 1 else ""
    return (
        f"{line['model']}: accuracy {_points(line['accuracy_a'])}% -> "
        f"{_points(line['accuracy_b'])}% on the {n} items both runs scored{each} "
        f"({sign}{_points(line['change'])} points, 95% CI {_points(line['low'])} to "
        f"{_points(line['high'])}; {test}): {verdict}"
    )


# -- planning a sweep ------------------------------------------------------------------------


def plan(
    rows: Sequence[dict[str, Any]],
    models: Sequence[str],
    *,
    difference: float | None = None,
    power: float = 0.8,
    alpha: float = ALPHA,
) -> pd.DataFrame:
    """Per pair: how many items detect `difference` with `power`, given the pilot's discordance.

    The discordance (the share of items on which one model is right and the other wrong)
    comes from each pair's first answers in the pilot `rows`; `difference` defaults to the
    pilot's own. With several pairs, each is planned at alpha / pairs (Bonferroni; Holm's
    adjustment, used on the results, is never stricter than that).
    """
    import pandas as pd

    pairs = list(itertools.combinations(models, 2))
    level = alpha / max(1, len(pairs))
    found = counts([_first_samples(row) for row in rows], models)
    lines = []
    for a, b in pairs:
        both = (found.scored[a] > 0) & (found.scored[b] > 0)
        ra, rb = found.right[a][both], found.right[b][both]
        n = int(both.sum())
        discordance = float(np.mean(ra != rb)) if n else math.nan
        wanted = difference if difference is not None else float(abs(np.mean(ra - rb))) if n else 0
        needed = stats.items_needed(wanted, discordance, target=power, alpha=level) if n else None
        line = {
            "a": a, "b": b, "pilot_items": n, "discordance": discordance,
            "difference": wanted, "power": power, "alpha": level, "items_needed": needed,
        }  # fmt: skip
        line["sentence"] = plan_sentence(line, len(pairs), alpha)
        lines.append(line)
    table = pd.DataFrame(lines, columns=PLAN_COLUMNS)
    table["items_needed"] = table["items_needed"].astype("Int64")
    return table


PLAN_COLUMNS = [
    "a", "b", "pilot_items", "discordance", "difference", "power", "alpha", "items_needed",
    "sentence",
]  # fmt: skip


def plan_sentence(line: Mapping[Any, Any], pairs: int, alpha: float) -> str:
    """One pair's plan in plain words."""
    a, b, n = line["a"], line["b"], line["pilot_items"]
    if n == 0:
        return f"{a} and {b} were never both scored in the pilot: run a pilot with both"
    q, d = line["discordance"], abs(line["difference"])
    where = "of the items" if n is None else f"of the {n} pilot items"
    seen = f"{a} and {b} differ on {_points(q)}% {where}"
    if q == 0:
        return f"{seen}: give the discordance you expect (--discordance) or a larger pilot"
    if d == 0:
        return f"{seen} but are right as often: give the difference to detect (--difference)"
    if d > q:
        return f"{seen}: a {_points(d)}-point difference needs them to differ more often"
    level = f"alpha = {alpha:g}" + (f" / {pairs} pairs" if pairs > 1 else "")
    needed = line["items_needed"]
    howmany = f"{needed} items" if needed is not None else "more than 2,000,000 items"
    return (
        f"{seen}; to detect a {_points(d)}-point difference with "
        f"{round(line['power'] * 100)}% power (exact McNemar, {level}): {howmany}"
    )


def _first_samples(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "answers": [a for a in row["answers"] if a.get("sample", 0) == 0]}


def _points(share: float) -> str:
    """A share as percentage points with one decimal."""
    return "nan" if share is None or math.isnan(share) else f"{share * 100:.1f}"


def _p(p: float) -> str:
    """A p-value as said: "p = 0.004", "p < 0.001"."""
    if math.isnan(p):
        return "p not defined"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
