"""The statistics against answers computed by hand (each formula written out here, in the test)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from workbench.audit import stats

Z = 1.959963984540054


def wilson_by_hand(k: float, n: float) -> tuple[float, float]:
    """Wilson (1927): the score interval's closed form."""
    p = k / n
    centre = (p + Z**2 / (2 * n)) / (1 + Z**2 / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2)) / (1 + Z**2 / n)
    return centre - half, centre + half


@pytest.mark.parametrize(("k", "n"), [(8, 10), (0, 12), (30, 30), (81, 263)])
def test_wilson_interval_is_the_score_interval(k: int, n: int) -> None:
    found = stats.wilson(k, n)
    low, high = wilson_by_hand(k, n)
    assert found.estimate == pytest.approx(k / n)
    assert (found.low, found.high) == pytest.approx((low, high), abs=1e-12)
    assert found.method == "wilson"


def test_one_answer_per_item_gives_wilson_and_several_a_wider_interval_over_items() -> None:
    # 40 items, 3 samples each; each item's samples agree (right on 30 items, wrong on 10)
    hits = [3] * 30 + [0] * 10
    clustered = stats.rate(hits, [3] * 40)
    single = stats.rate([1] * 30 + [0] * 10, [1] * 40)
    pooled = stats.wilson(90, 120)  # what treating the 120 answers as independent would say
    assert single.method == "wilson" and clustered.method == "BCa bootstrap over items"
    assert clustered.estimate == single.estimate == 0.75
    # the samples of an item carry no more information than one: the interval is that of 40
    # items (Wald by hand: 0.75 +/- 1.96 * sqrt(0.75 * 0.25 / 40)), not of 120 answers
    wald = Z * math.sqrt(0.75 * 0.25 / 40)
    assert clustered.high - clustered.low == pytest.approx(2 * wald, rel=0.15)
    assert clustered.high - clustered.low > 1.5 * (pooled.high - pooled.low)


def test_a_rate_that_no_item_varies_on_is_wilson_over_items() -> None:
    found = stats.rate([3, 3, 3, 3], [3, 3, 3, 3])
    assert found.method == "wilson over items"
    assert (found.low, found.high) == pytest.approx(wilson_by_hand(4, 4))


def test_mcnemar_is_the_exact_binomial_test_on_the_discordant_items() -> None:
    b, c = 20, 8  # right for A only, right for B only
    by_hand = min(1.0, 2 * sum(math.comb(b + c, k) for k in range(min(b, c) + 1)) / 2 ** (b + c))
    assert stats.mcnemar(b, c) == pytest.approx(by_hand, rel=1e-9)
    assert stats.mcnemar(5, 5) == 1.0 and stats.mcnemar(0, 0) == 1.0
    assert stats.mcnemar(0, 6) == pytest.approx(2 / 2**6)


def test_paired_difference_interval_matches_the_wald_interval_by_hand() -> None:
    # 200 items: A right and B wrong on 20, the reverse on 8, both right on 50
    a = [1] * 20 + [0] * 8 + [1] * 50 + [0] * 122
    b = [0] * 20 + [1] * 8 + [1] * 50 + [0] * 122
    found = stats.paired(a, [1] * 200, b, [1] * 200)
    assert (found.items, found.a_only, found.b_only) == (200, 20, 8)
    assert found.difference.estimate == pytest.approx(0.06)
    n, d = 200, 12
    se = math.sqrt((20 + 8) - d**2 / n) / n  # the paired proportions' standard error
    assert found.difference.low == pytest.approx(0.06 - Z * se, abs=0.01)
    assert found.difference.high == pytest.approx(0.06 + Z * se, abs=0.01)
    assert found.test == "McNemar" and found.p_value == pytest.approx(stats.mcnemar(20, 8))


def test_with_samples_the_paired_test_flips_the_signs_of_the_item_differences() -> None:
    a_hits, b_hits = [3, 2, 3, 1, 3, 2], [1, 2, 0, 1, 2, 0]
    found = stats.paired(a_hits, [3] * 6, b_hits, [3] * 6)
    d = (np.array(a_hits) - np.array(b_hits)) / 3
    flips = [np.mean(d * np.array(signs)) for signs in itertools.product([1, -1], repeat=6)]
    by_hand = sum(abs(f) >= abs(d.mean()) - 1e-12 for f in flips) / len(flips)
    assert found.test == "paired permutation"
    assert found.p_value == pytest.approx(by_hand)
    assert found.difference.estimate == pytest.approx(d.mean())


def test_no_item_differing_gives_zero_with_the_bound_zero_events_allow() -> None:
    found = stats.paired([1, 0, 1], [1, 1, 1], [1, 0, 1], [1, 1, 1])
    assert found.difference.estimate == 0.0 and found.p_value == 1.0
    bound = wilson_by_hand(0, 3)[1]
    assert (found.difference.low, found.difference.high) == pytest.approx((-bound, bound))


def test_holm_adjustment_by_hand() -> None:
    # sorted: 0.01 * 3 = 0.03, 0.03 * 2 = 0.06, 0.04 * 1 -> 0.06 (kept monotone)
    assert stats.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert stats.holm([0.2, math.nan]) == pytest.approx([0.2, math.nan], nan_ok=True)


def power_by_hand(n: int, a_only: float, b_only: float, alpha: float = 0.05) -> float:
    """Every way n items split into (A only, B only, the same), each tested exactly."""
    total = 0.0
    for x in range(n + 1):
        for y in range(n + 1 - x):
            chance = (
                math.comb(n, x) * math.comb(n - x, y)
                * a_only**x * b_only**y * (1 - a_only - b_only) ** (n - x - y)
            )  # fmt: skip
            if stats.mcnemar(x, y) <= alpha:
                total += chance
    return total


@pytest.mark.parametrize(("n", "a_only", "b_only"), [(20, 0.3, 0.05), (35, 0.2, 0.1), (12, 0.5, 0)])
def test_power_is_the_exact_tests_rejection_chance(n: int, a_only: float, b_only: float) -> None:
    assert stats.power(n, a_only, b_only) == pytest.approx(power_by_hand(n, a_only, b_only))


def test_items_needed_is_the_first_n_with_enough_power_near_connors_approximation() -> None:
    # discordance 0.3, difference 0.1: Connor (1987)'s normal approximation says 234 items
    connor = (Z * math.sqrt(0.3) + 0.8416212335729143 * math.sqrt(0.3 - 0.01)) ** 2 / 0.01
    assert math.ceil(connor) == 234
    n = stats.items_needed(0.1, 0.3)
    assert n is not None and 234 <= n <= 260  # the exact test needs a few more
    assert stats.power(n, 0.2, 0.1) >= 0.8 > stats.power(n - 1, 0.2, 0.1)
    assert stats.items_needed(0.2, 0.1) is None  # a difference larger than the discordance
    assert stats.items_needed(0, 0.3) is None


def test_kappa_on_a_constructed_table() -> None:
    # humans x judge: agree on 20 PASS and 15 FAIL of 50; chance agreement 0.5, kappa 0.4
    table = [[20, 5], [10, 15]]
    found = stats.kappa(table)
    observed, chance = 35 / 50, (25 * 30 + 25 * 20) / 50**2
    assert found.kappa == pytest.approx((observed - chance) / (1 - chance)) == pytest.approx(0.4)
    assert found.agreement == pytest.approx(0.7) and found.items == 50
    assert found.low < 0.4 < found.high
    perfect = stats.kappa([[6, 0], [0, 4]])
    assert perfect.kappa == 1.0 and perfect.low == 1.0
    undefined = stats.kappa([[7, 0], [0, 0]])  # both said PASS every time
    assert math.isnan(undefined.kappa) and undefined.agreement == 1.0
