"""A preference leaderboard: a Bradley-Terry model fitted to the researcher's own decisions.

Every decision record is turned into comparisons between the models whose answers it links
(labels as recorded: an alias such as `terse` is a model of its own here):

pick        the chosen answer beats each other answer linked
better      the chosen answer beats the other
tie         a tie (half a win each, as in chess ratings)
reject      with a choice: each other answer linked beats the rejected one (it was singled
            out); with none (every answer rejected): no information
both-bad    no information: it says nothing about which is better, and counting it as a
            tie would pull every model to the middle by how hard the prompts were
rating      two answers to the same prompt (the same text), rated apart: the higher rating
            wins, equal ratings tie; a rating alone compares with nothing

Answers of the same model never compare with each other. A decision that another one
supersedes does not count (whenever the later one was made). The fit is a binomial GLM
(statsmodels) on the comparisons: each model's strength is its log-odds of beating an
average model (the mean of the strengths), with a 95% interval from the fit's Hessian
(centred like the strengths). Each model also draws one virtual tie against a model of
strength 0 (`PRIOR`), a weak prior that keeps a model with only wins (or only losses)
finite and puts models never matched with each other on one scale; a few dozen decisions
outweigh it.

What it means: the researcher's own preferences, on their own prompts, as recorded.
It is not a benchmark: other people, other prompts, or the same models on another day may
rank them otherwise, and overlapping intervals mean the order between those two is not
established.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from workbench.errors import InvalidOption

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from workbench.labbook.when import When

PRIOR = 1.0
"""Virtual ties of each model against an average model (strength 0)."""
Z = 1.959963984540054  # the normal's 97.5% quantile: 95% Wald intervals
GROUPINGS = ("tag", "month", "week")
COMPARISON_COLUMNS = ["decision", "ts", "verdict", "winner", "loser", "score", "tags"]
"""One comparison: `score` 1 when the winner won, 0.5 for a tie (winner and loser in order)."""
COLUMNS = [
    "rank", "model", "strength", "low", "high", "p_beats_average", "comparisons", "wins",
    "losses", "ties",
]  # fmt: skip


def comparisons(frame: pd.DataFrame) -> pd.DataFrame:
    """Every decision of the frame as pairwise comparisons between models (see the module)."""
    decided = frame[frame["kind"] == "decision"]
    calls = frame[frame["kind"] == "call"]
    model = dict(zip(calls["id"].astype(object), calls["model"].astype(object), strict=True))
    prompt = dict(zip(calls["id"].astype(object), calls["prompt"].astype(object), strict=True))
    superseded = {s for s in decided["supersedes"].astype(object) if isinstance(s, str)}
    rows: list[tuple[Any, ...]] = []
    ratings: dict[str, tuple[Any, ...]] = {}
    records: list[Any] = list(decided.itertuples(index=False))
    for d in records:
        if d.id in superseded:
            continue
        verdict, links = str(d.verdict), [str(x) for x in d.links]
        whose = [(c, model.get(c)) for c in links if isinstance(model.get(c), str)]
        base = (d.id, d.ts, verdict)
        if verdict in ("pick", "better") and isinstance(d.choice, str) and d.choice in model:
            won = model[d.choice]
            rows += [(*base, won, m, 1.0, d.tags) for c, m in whose if m != won]
        elif verdict == "reject" and isinstance(d.choice, str) and d.choice in model:
            lost = model[d.choice]
            rows += [(*base, m, lost, 1.0, d.tags) for c, m in whose if m != lost]
        elif verdict == "tie" and len(whose) == 2 and whose[0][1] != whose[1][1]:
            rows.append((*base, whose[0][1], whose[1][1], 0.5, d.tags))
        elif verdict == "rating" and whose and not pd.isna(d.score):
            ratings[whose[0][0]] = (d.id, d.ts, whose[0][1], int(d.score), d.tags)  # latest wins
    rows += _rated(ratings, prompt)
    out = pd.DataFrame(rows, columns=COMPARISON_COLUMNS)
    return out.sort_values("ts", kind="stable").reset_index(drop=True)


def _rated(ratings: dict[str, tuple[Any, ...]], prompt: dict[Any, Any]) -> list[tuple[Any, ...]]:
    """Ratings of answers to the same prompt, by different models, as comparisons."""
    by_prompt: dict[Any, list[tuple[Any, ...]]] = {}
    for call, rating in ratings.items():
        by_prompt.setdefault(prompt.get(call), []).append(rating)
    rows = []
    for text, rated in by_prompt.items():
        if not isinstance(text, str):
            continue
        for one, two in itertools.combinations(rated, 2):
            if one[2] == two[2]:
                continue
            first, second = (one, two) if one[3] >= two[3] else (two, one)
            later = max(one, two, key=lambda r: r[1])  # the comparison is as old as its last rating
            tags = sorted(set(one[4]) | set(two[4]))
            score = 0.5 if one[3] == two[3] else 1.0
            rows.append((later[0], later[1], "rating", first[2], second[2], score, tags))
    return rows


@dataclass(frozen=True)
class Fit:
    """Strengths (log-odds) and their covariance, as fitted."""

    models: list[str]
    strength: np.ndarray[Any, Any]
    cov: np.ndarray[Any, Any]

    @property
    def se(self) -> np.ndarray[Any, Any]:
        """Each strength's standard error."""
        return np.asarray(np.sqrt(np.clip(np.diag(self.cov), 0.0, None)), dtype=float)

    def centered(self) -> Fit:
        """Strengths measured from their mean (the average model), the covariance to match.

        Only differences of strengths are identified by comparisons: centring drops the
        common level (which the prior alone pins down) from every interval.
        """
        k = len(self.models)
        c = np.eye(k) - np.full((k, k), 1.0 / k) if k else np.zeros((0, 0))
        return Fit(self.models, c @ self.strength, c @ self.cov @ c.T)


def fit(found: pd.DataFrame, *, prior: float = PRIOR, reference: str | None = None) -> Fit:
    """The Bradley-Terry model fitted to comparisons (a binomial GLM, statsmodels).

    With `prior` 0 the model needs an anchor: `reference` (default: the last model in
    alphabetical order) is fixed at strength 0 and the others are measured from it.
    """
    import statsmodels.api as sm

    models = sorted(set(found["winner"]) | set(found["loser"]))
    k = len(models)
    if not k:
        return Fit([], np.zeros(0), np.zeros((0, 0)))
    at = {m: i for i, m in enumerate(models)}
    grouped = found.groupby(["winner", "loser", "score"], sort=True).size().reset_index()
    x = np.zeros((len(grouped), k))
    x[np.arange(len(grouped)), [at[w] for w in grouped["winner"]]] = 1.0
    x[np.arange(len(grouped)), [at[lo] for lo in grouped["loser"]]] = -1.0
    y = grouped["score"].to_numpy(dtype=float)
    weights = grouped[0].to_numpy(dtype=float)
    if prior > 0:  # one virtual tie of each model against a model of strength 0
        x = np.vstack([x, np.eye(k)])
        y = np.concatenate([y, np.full(k, 0.5)])
        weights = np.concatenate([weights, np.full(k, prior)])
        keep = list(range(k))
    else:
        fixed = at[reference if reference is not None else models[-1]]
        keep = [i for i in range(k) if i != fixed]
    result = sm.GLM(y, x[:, keep], family=sm.families.Binomial(), freq_weights=weights).fit()
    strength, cov = np.zeros(k), np.zeros((k, k))
    strength[keep] = np.asarray(result.params)
    cov[np.ix_(keep, keep)] = np.asarray(result.cov_params())
    return Fit(models, strength, cov)


def table(found: pd.DataFrame, *, prior: float = PRIOR) -> pd.DataFrame:
    """One row per model, strongest first: strength, 95% interval, record (wins, losses, ties)."""
    fitted = fit(found, prior=prior)
    fitted = fitted.centered() if prior > 0 else fitted
    rows = []
    for i, model in enumerate(fitted.models):
        won = found[found["winner"] == model]
        lost = found[found["loser"] == model]
        ties = int((won["score"] == 0.5).sum() + (lost["score"] == 0.5).sum())
        s, se = float(fitted.strength[i]), float(fitted.se[i])
        rows.append(
            {
                "model": model, "strength": s, "low": s - Z * se, "high": s + Z * se,
                "p_beats_average": 1 / (1 + math.exp(-s)), "comparisons": len(won) + len(lost),
                "wins": int((won["score"] == 1).sum()), "losses": int((lost["score"] == 1).sum()),
                "ties": ties,
            }
        )  # fmt: skip
    out = pd.DataFrame(rows, columns=COLUMNS[1:])
    out = out.sort_values("strength", ascending=False, kind="stable").reset_index(drop=True)
    out.insert(0, "rank", range(1, len(out) + 1))
    return out


@dataclass(frozen=True)
class Leaderboard:
    """The fitted table (a DataFrame, per group when grouped), its comparisons, and a plot."""

    table: pd.DataFrame
    comparisons: pd.DataFrame
    by: str | None = None

    def to_frame(self) -> pd.DataFrame:
        """The table."""
        return self.table

    def summary(self) -> str:
        """One line: how many decisions and comparisons, and the order found."""
        decisions = self.comparisons["decision"].nunique()
        if self.table.empty:
            return "no decision compares two models yet: pick, prefer or rate answers first"
        order = " > ".join(self.table["model"].astype(str)) if self.by is None else ""
        said = f"{decisions} decisions, {len(self.comparisons)} comparisons"
        return f"{said}: {order}" if order else f"{said}, by {self.by}"

    def plot(self) -> Figure:
        """Each model's strength with its 95% interval (one panel per group when grouped)."""
        import matplotlib

        matplotlib.use("Agg", force=False)
        from matplotlib.figure import Figure

        groups = [(None, self.table)] if self.by is None else list(self.table.groupby("group"))
        figure = Figure(figsize=(6, 0.6 + 0.45 * max(1, len(self.table))), layout="constrained")
        axes = figure.subplots(len(groups) or 1, 1, squeeze=False)[:, 0]
        for ax, (name, part) in zip(axes, groups, strict=False):
            part = part.iloc[::-1]
            y = np.arange(len(part))
            s = part["strength"].to_numpy(dtype=float)
            ax.errorbar(
                s, y, xerr=[s - part["low"].to_numpy(float), part["high"].to_numpy(float) - s],
                fmt="o", color="#4c72b0", capsize=4,
            )  # fmt: skip
            ax.axvline(0, color="#999999", linewidth=0.8)
            ax.set_yticks(y, [str(m) for m in part["model"]])
            ax.set_title(str(name) if name is not None else "preference strength (95% CI)")
        axes[-1].set_xlabel("log-odds of being preferred to an average model")
        if not groups or self.table.empty:
            axes[0].set_title("no comparisons yet")
        return figure

    def _repr_html_(self) -> str:
        import base64
        import html
        import io

        buffer = io.BytesIO()
        self.plot().savefig(buffer, format="png", dpi=80)
        image = base64.b64encode(buffer.getvalue()).decode()
        return (
            f"<p><b>{html.escape(self.summary())}</b></p>{self.table.to_html(index=False)}"
            f'<img src="data:image/png;base64,{image}" alt="leaderboard plot"/>'
        )

    def __repr__(self) -> str:
        return f"<Leaderboard {self.summary()}>\n{self.table.to_string(index=False)}"


def leaderboard(
    frame: pd.DataFrame,
    *,
    tag: str | Sequence[str] | None = None,
    since: When | None = None,
    until: When | None = None,
    by: str | None = None,
    prior: float = PRIOR,
) -> Leaderboard:
    """The leaderboard of the decisions in `frame` (calls and decisions) with these filters.

    `tag`: decisions with any of these tags; `since`/`until`: decisions made in that time;
    `by`: "tag" (a table per tag), "month" or "week" (a table per period), or None.
    """
    from workbench.labbook.when import utc

    if by is not None and by not in GROUPINGS:
        raise InvalidOption(f"by is one of {', '.join(GROUPINGS)} (or None), not {by!r}")
    found = comparisons(frame)
    if tag is not None:
        wanted = {tag} if isinstance(tag, str) else set(tag)
        found = found[[bool(wanted & set(t)) for t in found["tags"]]]
    if since is not None:
        found = found[found["ts"] >= pd.Timestamp(utc(since), tz="UTC")]
    if until is not None:
        found = found[found["ts"] <= pd.Timestamp(utc(until, end=True), tz="UTC")]
    if by is None:
        return Leaderboard(table(found, prior=prior), found.reset_index(drop=True))
    parts = [
        table(part, prior=prior).assign(group=name).set_index("group").reset_index()
        for name, part in _groups(found, by)
    ]
    empty = pd.DataFrame(columns=["group", *COLUMNS])
    joined = pd.concat(parts, ignore_index=True) if parts else empty
    return Leaderboard(joined, found.reset_index(drop=True), by)


def _groups(found: pd.DataFrame, by: str) -> Iterable[tuple[str, pd.DataFrame]]:
    if by == "tag":
        names = sorted({t for tags in found["tags"] for t in tags})
        for name in names:
            yield name, found[[name in tags for tags in found["tags"]]]
        return
    freq = "M" if by == "month" else "W"
    periods = pd.DatetimeIndex(found["ts"]).tz_convert(None).to_period(freq).astype(str)
    for name in sorted(set(periods)):
        yield name, found[periods == name]
