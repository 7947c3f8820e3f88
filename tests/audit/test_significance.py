"""Tables from result rows: intervals on every rate, pairs with sentences, runs compared, plans."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from tests.audit.test_stats import wilson_by_hand
from workbench.audit import report, significance, stats


def rows_of(table: dict[str, list[list[bool | None]]]) -> list[dict[str, Any]]:
    """Result rows: model -> per item, each sample's verdict (None: a failed call)."""
    models = list(table)
    items = len(next(iter(table.values())))
    rows = []
    for i in range(items):
        answers = [
            {
                "model": m, "sample": s, "correct": v, "error": "X: failed" if v is None else None,
                "answer": None if v is None else ("right" if v else f"wrong-{m}"),
                "key": None if v is None else ("right" if v else f"wrong-{m}"),
                "cost_usd": None if v is None else 0.001, "latency_s": 0.1,
            }
            for m in models
            for s, v in enumerate(table[m][i])
        ]  # fmt: skip
        rows.append({"item": f"i{i}", "index": i, "outcome": "disagree", "answers": answers})
    return rows


def singles(*verdicts: list[int]) -> list[list[bool | None]]:
    return [[bool(v)] for v in verdicts[0]]


# 200 items: gpt right and claude wrong on 20, the reverse on 8, both right on 50
GPT = [1] * 20 + [0] * 8 + [1] * 50 + [0] * 122
CLAUDE = [0] * 20 + [1] * 8 + [1] * 50 + [0] * 122


def test_per_model_has_wilson_intervals_on_accuracy_and_error_rate() -> None:
    table = {"gpt": singles(GPT), "claude": singles(CLAUDE)}
    table["claude"][-1] = [None]  # one failed call: an error, never scored
    found = report.per_model(rows_of(table))
    assert found.loc["gpt", "accuracy"] == pytest.approx(70 / 200)
    low, high = wilson_by_hand(70, 200)
    assert (found.loc["gpt", "accuracy_low"], found.loc["gpt", "accuracy_high"]) == pytest.approx(
        (low, high)
    )
    assert found.loc["claude", "scored"] == 199 and found.loc["claude", "errors"] == 1
    assert found.loc["claude", "error_rate"] == pytest.approx(1 / 200)
    assert found.loc["claude", "error_high"] == pytest.approx(wilson_by_hand(1, 200)[1])
    assert found.loc["gpt", "interval"] == "wilson"


def test_several_samples_per_item_give_an_interval_over_items() -> None:
    # 3 samples per item, the same verdict within each item: as informative as 30 items
    per_item = [True] * 18 + [False] * 12
    table = {"a": [[v] * 3 for v in per_item], "b": [[True, False, True]] * 30}
    found = report.per_model(rows_of(table))
    assert found.loc["a", "interval"] == "BCa bootstrap over items"
    width = found.loc["a", "accuracy_high"] - found.loc["a", "accuracy_low"]
    naive = stats.wilson(54, 90)
    assert width > 1.5 * (naive.high - naive.low)
    # b varies only within items: every item has the same rate, so nothing to resample
    assert found.loc["b", "interval"] == "wilson over items"


def test_the_plot_draws_the_accuracy_intervals() -> None:
    figure = report.plot(rows_of({"gpt": singles(GPT), "claude": singles(CLAUDE)}))
    bars = figure.axes[0]
    assert "95% CI" in bars.get_title()
    [errorbars] = [c for c in bars.containers if type(c).__name__ == "ErrorbarContainer"]
    segments = errorbars.lines[2][0].get_segments()
    low, high = wilson_by_hand(70, 200)
    gpt = segments[0]  # the first bar's interval: from its low to its high bound
    assert (gpt[0][1], gpt[1][1]) == pytest.approx((low, high))


def test_paired_table_and_sentence_say_the_difference_its_interval_and_mcnemar() -> None:
    table = significance.paired(
        rows_of({"gpt": singles(GPT), "claude": singles(CLAUDE)}), ["gpt", "claude"]
    )
    [line] = table.to_dict("records")
    assert (line["items"], line["a_only"], line["b_only"]) == (200, 20, 8)
    assert line["difference"] == pytest.approx(0.06)
    p = stats.mcnemar(20, 8)
    assert line["p_value"] == pytest.approx(p) and line["p_adjusted"] == pytest.approx(p)
    assert line["agreement"] == pytest.approx(50 / 200)  # the same answer: both right
    assert line["agreement_low"] == pytest.approx(wilson_by_hand(50, 200)[0])
    low, high = f"{line['low'] * 100:.1f}", f"{line['high'] * 100:.1f}"
    assert line["sentence"] == (
        f"gpt is right on 12 more items than claude out of 200; difference 6.0 points, "
        f"95% CI {low} to {high}; McNemar p = {p:.3f}"
    )


def test_the_better_model_is_named_first_and_many_pairs_are_holm_adjusted() -> None:
    worse = [0] * 60 + [1] * 140
    rows = rows_of(
        {
            "claude": singles(CLAUDE),
            "gpt": singles(GPT),
            "local": singles([0] * 200),
            "w": singles(worse),
        }
    )
    table = significance.paired(rows, ["claude", "gpt", "local", "w"])
    assert len(table) == 6
    assert table["p_adjusted"].tolist() == pytest.approx(stats.holm(table["p_value"].tolist()))
    first = table.iloc[0]
    assert first["a"] == "claude" and first["difference"] == pytest.approx(-0.06)
    assert first["sentence"].startswith("gpt is right on 12 more items than claude out of 200")
    assert "(Holm-adjusted over 6 pairs: p = " in first["sentence"]


def test_with_samples_the_sentence_says_points_and_the_permutation_test() -> None:
    rows = rows_of({"a": [[True, True, False]] * 10, "b": [[True, False, False]] * 10})
    [sentence] = significance.paired(rows, ["a", "b"])["sentence"]
    assert re.fullmatch(
        r"a is right 33\.3 points more often than b over the 10 items both answered "
        r"\(3 samples each\); 95% CI [\d.]+ to [\d.]+; paired permutation p = 0\.002",
        sentence,
    ), sentence  # every one of the 2^10 sign patterns: only the two extremes are as far


def test_a_change_between_runs_is_beyond_noise_or_within_it() -> None:
    before = rows_of({"gpt": singles([1] * 50 + [0] * 50), "claude": singles([1] * 50 + [0] * 50)})
    # gpt now right on 20 more items (and wrong on none it had right); claude changes 2 items
    after = rows_of(
        {
            "gpt": singles([1] * 70 + [0] * 30),
            "claude": singles([1] * 49 + [0] + [1] + [0] * 49),
        }
    )
    table = significance.changes(before, after, ["gpt", "claude"])
    assert table.loc["gpt", "change"] == pytest.approx(0.2)
    assert table.loc["gpt", "p_value"] == pytest.approx(stats.mcnemar(20, 0))
    assert bool(table.loc["gpt", "beyond_noise"]) and not bool(table.loc["claude", "beyond_noise"])
    assert table.loc["gpt", "sentence"].startswith(
        "gpt: accuracy 50.0% -> 70.0% on the 100 items both runs scored (+20.0 points"
    )
    assert table.loc["gpt", "sentence"].endswith("): beyond noise")
    assert table.loc["claude", "sentence"].endswith("): within noise")


def test_plan_from_a_pilot_uses_its_discordance_and_splits_alpha_over_pairs() -> None:
    # pilot of 40 items: a right and b wrong on 8, the reverse on 4 (discordance 0.3)
    a = [1] * 8 + [0] * 4 + [1] * 10 + [0] * 18
    b = [0] * 8 + [1] * 4 + [1] * 10 + [0] * 18
    rows = rows_of({"a": singles(a), "b": singles(b)})
    [line] = significance.plan(rows, ["a", "b"], difference=0.1).to_dict("records")
    assert line["discordance"] == pytest.approx(0.3) and line["pilot_items"] == 40
    assert line["items_needed"] == stats.items_needed(0.1, 0.3)
    assert line["sentence"] == (
        f"a and b differ on 30.0% of the 40 pilot items; to detect a 10.0-point difference "
        f"with 80% power (exact McNemar, alpha = 0.05): {line['items_needed']} items"
    )
    c = [*b[:12], 0, 0, *b[14:]]  # differs from b on 2 items (5%)
    three = rows_of({"a": singles(a), "b": singles(b), "c": singles(c)})
    planned = significance.plan(three, ["a", "b", "c"], difference=0.1)
    assert planned["alpha"].tolist() == pytest.approx([0.05 / 3] * 3)
    assert planned.iloc[0]["items_needed"] > line["items_needed"]
    assert planned.iloc[2]["sentence"] == (
        "b and c differ on 5.0% of the 40 pilot items: a 10.0-point difference needs them to "
        "differ more often"
    )


def test_nothing_in_common_says_so() -> None:
    rows = rows_of({"a": [[None]] * 3, "b": singles([1, 0, 1])})
    [sentence] = significance.paired(rows, ["a", "b"])["sentence"]
    assert sentence == "a and b were never both scored on one item: nothing to compare"
    assert pd.isna(report.per_model(rows).loc["a", "accuracy"])
    assert math.isnan(significance.paired(rows, ["a", "b"]).iloc[0]["p_value"])


def test_the_sentence_quoted_in_the_docs_is_the_one_made() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "audit.md").read_text()
    quoted = re.search(r"^> (gpt is right on .*?)\n> (.*?)\n", page, re.MULTILINE)
    assert quoted is not None
    rows = rows_of({"gpt": singles(GPT), "claude": singles(CLAUDE)})
    [sentence] = significance.paired(rows, ["gpt", "claude"])["sentence"]
    assert sentence == f"{quoted.group(1)} {quoted.group(2)}"
