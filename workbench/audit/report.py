"""A run's results as pandas tables, a Styler with disagreements highlighted, and plots."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import TYPE_CHECKING, Any

from workbench.audit.agreement import NEEDS_HUMAN, OUTCOMES, pairwise

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure
    from pandas.io.formats.style import Styler

COLOURS = {
    "agree-correct": "#d9f2d9",
    "agree-wrong": "#ffe0b3",
    "disagree": "#ffc7c7",
    "judges-split": "#f3d1f4",
    "no-expected": "#e8eef7",
    "error": "#e0e0e0",
}


def models_of(rows: Sequence[dict[str, Any]]) -> list[str]:
    """The model labels of a run, in the order first seen."""
    seen: list[str] = []
    for row in rows:
        for answer in row["answers"]:
            if answer["model"] not in seen:
                seen.append(answer["model"])
    return seen


def outcomes(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """One row per item: outcome, expected, and each model's read answer (first sample)."""
    import pandas as pd

    models = models_of(rows)
    table = []
    for row in rows:
        line: dict[str, Any] = {
            "item": row["item"],
            "outcome": row["outcome"],
            "expected": row["expected"],
        }
        first: dict[str, dict[str, Any]] = {}
        for a in row["answers"]:
            if a["sample"] == 0:
                first.setdefault(a["model"], a)
        for model in models:
            a = first.get(model)
            line[model] = None if a is None else (a["answer"] if not a["error"] else "⚠ error")
        line["needs_human"] = row["outcome"] in NEEDS_HUMAN
        table.append(line)
    frame = pd.DataFrame(table, columns=["item", "outcome", "expected", *models, "needs_human"])
    frame["outcome"] = pd.Categorical(frame["outcome"], categories=list(OUTCOMES))
    return frame.set_index("item")


def answers(rows: Sequence[dict[str, Any]], *, expand: bool = False) -> pd.DataFrame:
    """One row per answer: text, value, what was read, right or not and why, cost, tokens.

    What is unknown (a token count the provider did not send, an unpriced model's cost)
    is <NA>, never 0. With a schema, `data` is each answer's parsed value; `expand=True`
    spreads its fields into `data.<field>` columns (nested ones dotted), so extractions
    compare cell by cell across models.
    """
    import pandas as pd

    columns = [
        "item", "model", "sample", "text", "data", "answer", "correct", "why", "error",
        "cost_usd", "latency_s", "input_tokens", "output_tokens", "record",
    ]  # fmt: skip
    pairs = [(row["item"], a) for row in rows for a in row["answers"]]
    data = {"item": [item for item, _ in pairs]}  # column by column: a third of the time
    data.update({k: [a.get(k) for _, a in pairs] for k in columns[1:]})
    frame = pd.DataFrame(data, columns=columns)
    frame["correct"] = frame["correct"].astype("boolean")
    for col in ("cost_usd", "latency_s"):
        frame[col] = frame[col].astype("Float64")
    for col in ("input_tokens", "output_tokens"):
        frame[col] = frame[col].astype("Int64")
    return spread(frame) if expand else frame


def spread(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with each answer's value (a JSON object) spread into `data.<field>` columns.

    A field an answer lacks (or an answer with no value) is <NA>; nested objects give
    dotted names (`data.author.name`); lists stay whole in their cell.
    """
    import pandas as pd

    values = [v if isinstance(v, dict) else {} for v in frame["data"]]
    fields = pd.json_normalize(values, sep=".").add_prefix("data.")
    fields.index = frame.index
    for column in fields.columns:  # pandas' nullable dtypes: a missing field is <NA>
        fields[column] = fields[column].convert_dtypes()
    return pd.concat([frame, fields], axis=1)


def per_model(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Accuracy (of the answers scored) and error rate with 95% intervals, cost and latency.

    A failed or cut-short call is an error, never scored, so never in the accuracy. The
    cost is <NA> when an answer's cost is unknown (an unpriced model): a sum over the
    priced ones alone would pass for the whole. The intervals are Wilson's with one answer
    per item, a bootstrap over items with several (`interval` names the method; see `stats`).
    """
    from workbench.audit.significance import counts, rates

    frame = answers(rows)
    models = models_of(rows)
    frame["unpriced"] = frame["error"].isna() & frame["cost_usd"].isna()
    # counted on whole columns first: pandas' own sums, not a Python call per model and column
    frame["failed"] = frame["error"].notna().to_numpy()
    frame["judged"] = frame["correct"].notna().to_numpy()
    frame["right"] = frame["correct"].fillna(False).to_numpy(dtype=bool)
    grouped = frame.groupby("model", sort=False)
    table = grouped.agg(
        answers=("item", "size"),
        errors=("failed", "sum"),
        scored=("judged", "sum"),
        right=("right", "sum"),
        cost_usd=("cost_usd", lambda s: s.sum(min_count=1)),
        unpriced=("unpriced", "any"),
        mean_latency_s=("latency_s", "mean"),
    )
    table["cost_usd"] = table["cost_usd"].astype("Float64").mask(table.pop("unpriced"))
    for name in ("scored", "right"):  # counted from a nullable column: nullable, as they were
        table[name] = table[name].astype("Int64")
    table = table.reindex(models)
    found = counts(rows, models)
    figures = {m: rates(found, m) for m in models}
    for name, at in (("accuracy", 0), ("error_rate", 1)):
        low, high = f"{name.split('_')[0]}_low", f"{name.split('_')[0]}_high"
        table[name] = _nullable([figures[m][at].estimate for m in models])
        table[low] = _nullable([figures[m][at].low for m in models])
        table[high] = _nullable([figures[m][at].high for m in models])
    table["interval"] = [figures[m][0].method for m in models]
    order = [
        "answers", "errors", "error_rate", "error_low", "error_high", "scored", "right",
        "accuracy", "accuracy_low", "accuracy_high", "interval", "cost_usd", "mean_latency_s",
    ]  # fmt: skip
    return table[order]


def _nullable(values: Sequence[float]) -> Any:
    """Floats with NaN (nothing to estimate from) as <NA>."""
    import pandas as pd

    return pd.array([None if v != v else v for v in values], dtype="Float64")


def paired(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Every two models on the same items: difference, interval, exact test, sentence."""
    from workbench.audit.significance import paired as pairs

    return pairs(rows, models_of(rows))


def agreement(rows: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Pairwise agreement between models: the share of items with the same answer."""
    return pairwise(rows, models_of(rows))


def counts(rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """How many items had each outcome."""
    found = {name: 0 for name in OUTCOMES}
    for row in rows:
        found[row["outcome"]] += 1
    return found


def live_cost(row: dict[str, Any]) -> float:
    """What an item's answers sent live cost (answers reused or replayed cost nothing now)."""
    return sum(a["cost_usd"] or 0.0 for a in row["answers"] if a.get("live"))


def styled(table: pd.DataFrame) -> Styler:
    """The outcome table with each row coloured by its outcome (disagreements in red)."""
    import numpy as np
    import pandas as pd

    def colour(frame: pd.DataFrame) -> pd.DataFrame:
        # every cell of a row in its outcome's colour, made at once (not a call per row)
        css = {name: f"background-color: {shade}" for name, shade in COLOURS.items()}
        rows = [css.get(str(outcome), "") for outcome in frame["outcome"]]
        cells = np.repeat(np.array(rows, dtype=object)[:, None], frame.shape[1], axis=1)
        return pd.DataFrame(cells, index=frame.index, columns=frame.columns)

    return table.style.apply(colour, axis=None)


def plot(rows: Sequence[dict[str, Any]]) -> Figure:
    """Accuracy and cost per model, and the agreement matrix, side by side."""
    return figure(per_model(rows), agreement(rows))


# The figure's layout, in inches, worked out from the labels' lengths rather than by a layout
# engine: constrained layout measures every label in a draw of its own before the real one,
# which doubled what saving the figure cost.
WIDTH, HEIGHT = 12.0, 3.6
CHAR = 0.085  # the width of a 10-point character, at most (DejaVu Sans)
SMALLEST = 2.0  # no panel narrower or lower than this, in inches, however long the names


def figure(stats: pd.DataFrame, matrix: pd.DataFrame) -> Figure:
    """The plot of `per_model`'s table and `agreement`'s matrix (see `plot`)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import numpy as np
    from matplotlib.figure import Figure

    names = [str(m) for m in stats.index]
    longest = max((len(n) for n in names), default=1)
    top, bottom = 0.35, max(0.45, 0.3 + CHAR * longest * 0.5)  # names at 30 degrees
    side = max(SMALLEST, HEIGHT - top - bottom)  # the agreement matrix is square
    gap = 0.35 + CHAR * longest  # room for the matrix's names on its left
    left, between, bar_room = 0.5, 0.75, 0.8  # the colour bar, its ticks
    # long names make the figure bigger rather than its panels smaller than SMALLEST
    width = max(WIDTH, left + between + gap + side + bar_room + 2 * SMALLEST)
    height = top + side + bottom
    panel = (width - left - between - gap - side - bar_room) / 2
    chart = Figure(figsize=(width, height))

    def box(x: float, wide: float) -> tuple[float, float, float, float]:
        return (x / width, bottom / height, wide / width, side / height)

    ax1 = chart.add_axes(box(left, panel))
    ax2 = chart.add_axes(box(left + panel + between, panel))
    ax3 = chart.add_axes(box(left + 2 * panel + between + gap, side))
    bar = chart.add_axes(box(left + 2 * panel + between + gap + side + 0.15, 0.18))
    accuracy = stats["accuracy"].astype(float).to_numpy()  # NaN: nothing scored
    low = stats["accuracy_low"].astype(float).to_numpy()
    high = stats["accuracy_high"].astype(float).to_numpy()
    known = ~(np.isnan(accuracy) | np.isnan(low) | np.isnan(high))
    spread = np.where(known, [accuracy - low, high - accuracy], 0.0).clip(min=0.0)
    ax1.bar(names, np.nan_to_num(accuracy), color="#4c72b0", yerr=spread, capsize=4,
            ecolor="#222222")  # fmt: skip
    ax1.set_ylim(0, 1)
    # y=1 where matplotlib would put it: saying so spares it measuring the axes again to
    # check no tick label is in the way (none can be: no offset, nothing on top)
    ax1.set_title("accuracy per model (95% CI)", y=1.0)
    cost = stats["cost_usd"].astype(float).to_numpy()  # NaN: not priced
    ax2.bar(names, np.nan_to_num(cost), color="#dd8452")
    ax2.set_title("cost per model (USD)")
    for ax, values in ((ax1, accuracy), (ax2, cost)):  # unknown is said, not drawn as 0
        for at in np.flatnonzero(np.isnan(values)):
            ax.text(float(at), 0, "n/a", ha="center", va="bottom", color="#555555")
    image = ax3.imshow(matrix.astype(float).to_numpy(), vmin=0, vmax=1, cmap="RdYlGn")
    ax3.set_xticks(range(len(names)), names, rotation=30)
    ax3.set_yticks(range(len(names)), names)
    ax3.set_title("pairwise agreement", y=1.0)
    chart.colorbar(image, cax=bar)
    return chart


def summary(
    rows: Sequence[dict[str, Any]], manifest: dict[str, Any], reviewed: Collection[str] = ()
) -> str:
    """One line: status, items done, outcomes, how many still need a human, spend.

    Items a human already reviewed (`reviewed`, their ids) do not need one any more.
    """
    found = counts(rows)
    total = manifest.get("total_items", len(rows))
    parts = ", ".join(f"{n} {name}" for name, n in found.items() if n)
    human = sum(1 for row in rows if row["outcome"] in NEEDS_HUMAN and row["item"] not in reviewed)
    spent = float(manifest.get("spent_usd", 0.0))
    budget = manifest.get("budget_usd")
    money = f"${spent:.4f}" + (f" of ${budget:.4f}" if budget is not None else "")
    done = sum(1 for row in rows if row["item"] in reviewed)
    return (
        f"audit {manifest.get('name')} [{manifest.get('status')}]: {len(rows)}/{total} items "
        f"done ({parts or 'none'}); {human} need a human"
        + (f" ({done} reviewed)" if done else "")
        + f"; spent {money}"
    )
