"""The statistics behind the audit's tables, each from scipy or statsmodels, none by hand.

rate        a share (accuracy, error rate, agreement) with its 95% interval: Wilson's score
            interval (statsmodels) when each item gives one answer; with several samples per
            item, a BCa bootstrap over items (scipy), since answers to one item are not
            independent of each other
paired      two models on the same items: the difference in accuracy, a BCa bootstrap
            interval over items, and an exact paired test (McNemar's, on the discordant items,
            with one sample per item; a sign-flip permutation test on the per-item
            differences with several)
adjust      p-values of many pairs adjusted by Holm's method (statsmodels)
power       the power of the exact McNemar test on n items, from the binomial distribution
            of the discordant items (scipy), and the fewest items that reach a power
kappa       Cohen's kappa of two raters with its interval (statsmodels)

Bootstraps use a fixed seed, so a table is the same every time it is made.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

LEVEL = 0.95
RESAMPLES = 2000
SEED = 0

Array = np.ndarray[Any, Any]


@dataclass(frozen=True)
class Interval:
    """An estimate with its 95% interval, and the method that gave the interval."""

    estimate: float
    low: float
    high: float
    method: str


def wilson(successes: float, trials: float) -> Interval:
    """Wilson's score interval for a proportion (NaN with no trials)."""
    from statsmodels.stats.proportion import proportion_confint

    if trials <= 0:
        return Interval(math.nan, math.nan, math.nan, "none")
    low, high = proportion_confint(successes, trials, alpha=1 - LEVEL, method="wilson")
    return Interval(successes / trials, float(low), float(high), "wilson")


def rate(hits: ArrayLike, counts: ArrayLike) -> Interval:
    """A share over items: hits[i] of counts[i] in item i; items with no count are left out.

    One answer per item: Wilson. Several: a BCa bootstrap over items of sum(hits)/sum(counts).
    """
    k, n = _arrays(hits, counts)
    keep = n > 0
    k, n = k[keep], n[keep]
    if not len(n) or n.max() <= 1:
        return wilson(float(k.sum()), float(n.sum()))
    estimate = float(k.sum() / n.sum())
    per_item = k / n
    if np.all(per_item == per_item[0]):  # nothing to resample: items as single trials
        found = wilson(float(per_item.sum()), float(len(n)))
        return Interval(estimate, found.low, found.high, "wilson over items")

    def ratio(k: Array, n: Array, axis: int = -1) -> Array:
        return np.asarray(k.sum(axis=axis) / n.sum(axis=axis))

    low, high, method = _bootstrap((k, n), ratio)
    return Interval(estimate, low, high, method)


@dataclass(frozen=True)
class Paired:
    """Two models on the same items: who is right where, the difference and the test."""

    items: int
    a_only: int
    """Items where A is right and B wrong (with several samples: A's rate is higher)."""
    b_only: int
    difference: Interval
    """A's accuracy minus B's, over the items both answered (a share, not points)."""
    p_value: float
    test: str


def paired(
    a_hits: ArrayLike, a_counts: ArrayLike, b_hits: ArrayLike, b_counts: ArrayLike
) -> Paired:
    """A against B on the items both were scored on (per item: hits of counts)."""
    ak, an = _arrays(a_hits, a_counts)
    bk, bn = _arrays(b_hits, b_counts)
    keep = (an > 0) & (bn > 0)
    ra, rb = ak[keep] / an[keep], bk[keep] / bn[keep]
    d = ra - rb
    n = len(d)
    a_only, b_only = int((d > 0).sum()), int((d < 0).sum())
    if n == 0:
        nothing = Interval(math.nan, math.nan, math.nan, "none")
        return Paired(0, 0, 0, nothing, math.nan, "none")
    single = an[keep].max() <= 1 and bn[keep].max() <= 1
    return Paired(n, a_only, b_only, _difference(d), *_paired_test(d, a_only, b_only, single))


def _difference(d: Array) -> Interval:
    """The mean per-item difference with its interval (bootstrap over items)."""
    estimate = float(d.mean())
    if np.all(d == d[0]):
        # nothing to resample: widen by what zero differing items out of n still allows
        margin = wilson(0, len(d)).high
        low, high = max(-1.0, estimate - margin), min(1.0, estimate + margin)
        return Interval(estimate, low, high, "wilson bound, no item differs")

    def mean(d: Array, axis: int = -1) -> Array:
        return np.asarray(d.mean(axis=axis))

    low, high, method = _bootstrap((d,), mean)
    return Interval(estimate, low, high, method)


def _paired_test(d: Array, a_only: int, b_only: int, single: bool) -> tuple[float, str]:
    """(p, the test's name): exact McNemar with one sample per item, else a sign-flip test."""
    if single:
        return mcnemar(a_only, b_only), "McNemar"
    from scipy import stats

    if not np.any(d):
        return 1.0, "paired permutation"
    found = stats.permutation_test(
        (d,),
        np.mean,
        permutation_type="samples",  # one sample: the signs of the differences are flipped
        n_resamples=RESAMPLES * 5,  # exact (every sign pattern) up to 13 items
        rng=np.random.default_rng(SEED),
    )
    return float(found.pvalue), "paired permutation"


def mcnemar(a_only: int, b_only: int) -> float:
    """McNemar's exact test: p of so lopsided a split of the discordant items."""
    from statsmodels.stats.contingency_tables import mcnemar as test

    if a_only + b_only == 0:
        return 1.0
    return float(test(np.array([[0, a_only], [b_only, 0]]), exact=True).pvalue)


def holm(p_values: Sequence[float]) -> list[float]:
    """p-values adjusted for the number of comparisons by Holm's step-down method."""
    from statsmodels.stats.multitest import multipletests

    values = np.asarray(p_values, dtype=float)
    out = np.full(len(values), np.nan)
    known = ~np.isnan(values)
    if known.any():
        out[known] = multipletests(values[known], method="holm")[1]
    return [float(p) for p in out]


def power(items: int, a_only: float, b_only: float, alpha: float = 0.05) -> float:
    """The power of the two-sided exact McNemar test on `items` items.

    `a_only` and `b_only` are the chances that an item is right for A only, or for B only.
    The number of discordant items is binomial (items, a_only + b_only); given it, the test
    rejects when A's share of them is below or above the exact binomial test's critical
    values, which the binomial distribution of A's share under the alternative reaches with
    the summed probability.
    """
    from scipy import stats

    discordance = a_only + b_only
    if items <= 0 or discordance <= 0:
        return 0.0
    counts = np.arange(items + 1)
    weights = stats.binom.pmf(counts, items, discordance)
    # largest k with P(X <= k | n, 1/2) <= alpha/2: rejected when X <= k or X >= n - k
    k = stats.binom.ppf(alpha / 2, counts, 0.5)
    k = np.where(stats.binom.cdf(k, counts, 0.5) <= alpha / 2, k, k - 1)
    share = a_only / discordance
    reject = np.where(
        k >= 0,
        stats.binom.cdf(k, counts, share) + stats.binom.sf(counts - k - 1, counts, share),
        0.0,
    )
    return float(np.sum(weights * np.minimum(reject, 1.0)))


def items_needed(
    difference: float, discordance: float, *, target: float = 0.8, alpha: float = 0.05
) -> int | None:
    """The fewest items at which the exact McNemar test reaches `target` power (None: never).

    `difference` is the accuracy difference to detect, `discordance` the share of items on
    which the two models differ (right for one, wrong for the other); it cannot be below the
    difference. The exact test's power is not monotone in n (its levels are discrete): the
    answer is the smallest n past which the power stays at or above the target for the
    next tenth of n.
    """
    if not 0 < abs(difference) <= discordance <= 1:
        return None
    a_only, b_only = (discordance + abs(difference)) / 2, (discordance - abs(difference)) / 2
    if b_only <= 0:
        b_only = 0.0

    def enough(n: int) -> bool:
        return power(n, a_only, b_only, alpha) >= target

    high = 8
    while not enough(high):
        high *= 2
        if high > 2_000_000:
            return None
    low = high // 2
    while high - low > 1:  # nearly monotone: the bisection finds the region, then a walk
        middle = (low + high) // 2
        low, high = (low, middle) if enough(middle) else (middle, high)
    n = high
    while n > 1 and enough(n - 1):
        n -= 1
    return n


@dataclass(frozen=True)
class Kappa:
    """Cohen's kappa of two raters on the same things, with its interval and agreement."""

    kappa: float
    low: float
    high: float
    agreement: float
    items: int


def kappa(table: ArrayLike) -> Kappa:
    """Cohen's kappa from a square table (rows: one rater's categories, columns: the other's).

    Undefined (NaN) when chance alone gives complete agreement (both raters used one
    category): there is then nothing to tell agreement from chance.
    """
    from statsmodels.stats.inter_rater import cohens_kappa

    square = np.asarray(table, dtype=float)
    total = float(square.sum())
    if total == 0:
        return Kappa(math.nan, math.nan, math.nan, math.nan, 0)
    agreement = float(np.trace(square) / total)
    chance = float((square.sum(axis=0) * square.sum(axis=1)).sum() / total**2)
    if chance >= 1:
        return Kappa(math.nan, math.nan, math.nan, agreement, int(total))
    with np.errstate(divide="ignore", invalid="ignore"):  # a perfect table has no spread
        found = cohens_kappa(square)
    low, high = float(found.kappa_low), float(found.kappa_upp)
    if math.isnan(low):
        low = high = float(found.kappa)
    return Kappa(float(found.kappa), low, high, agreement, int(total))


def _bootstrap(
    data: tuple[Array, ...], statistic: Callable[..., Array]
) -> tuple[float, float, str]:
    """(low, high, method): BCa over items; the percentile interval where BCa cannot be made."""
    from scipy import stats

    for method in ("BCa", "percentile"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # scipy warns (and gives NaN) where BCa fails
            try:
                found = stats.bootstrap(
                    data,
                    statistic,
                    paired=True,
                    vectorized=True,
                    n_resamples=RESAMPLES,
                    confidence_level=LEVEL,
                    method=method,
                    rng=np.random.default_rng(SEED),
                )
            except (RuntimeWarning, UserWarning, ValueError):
                continue
        low, high = found.confidence_interval
        if not (math.isnan(low) or math.isnan(high)):
            return float(low), float(high), f"{method} bootstrap over items"
    return math.nan, math.nan, "none"


def _arrays(hits: ArrayLike, counts: ArrayLike) -> tuple[Array, Array]:
    k, n = np.asarray(hits, dtype=float), np.asarray(counts, dtype=float)
    if k.shape != n.shape:
        raise ValueError(f"{k.size} hit counts for {n.size} items")
    return k, n
