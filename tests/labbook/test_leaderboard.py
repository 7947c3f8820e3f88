"""The preference leaderboard: a published Bradley-Terry fit, verdicts as comparisons, and a
known order recovered from decisions simulated and recorded in a real lab notebook."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

import workbench as wb
from workbench.errors import InvalidOption
from workbench.labbook.book import LabBook, files
from workbench.labbook.leaderboard import comparisons, fit, leaderboard
from workbench.labbook.query import read_frame
from workbench.providers.base import Prompt, Reply, Usage
from workbench.providers.registry import ModelSpec
from workbench.run import Job

# Agresti, Categorical Data Analysis (2nd ed., 2002), Tables 10.10 and 10.11: the 1987 American
# League East, 13 games per pair; wins of the row team over the column team, and the
# Bradley-Terry estimates with Baltimore fixed at 0.
TEAMS = ["Milwaukee", "Detroit", "Toronto", "New York", "Boston", "Cleveland", "Baltimore"]
WINS = [
    [0, 7, 9, 7, 7, 9, 11],
    [6, 0, 7, 5, 11, 9, 9],
    [4, 6, 0, 7, 7, 8, 12],
    [6, 8, 6, 0, 6, 7, 10],
    [6, 2, 6, 7, 0, 7, 12],
    [4, 4, 5, 6, 6, 0, 6],
    [2, 4, 1, 3, 1, 7, 0],
]
PUBLISHED = {
    "Milwaukee": 1.58, "Detroit": 1.44, "Toronto": 1.29, "New York": 1.25, "Boston": 1.11,
    "Cleveland": 0.68, "Baltimore": 0.0,
}  # fmt: skip


def test_the_fit_reproduces_agrestis_baseball_estimates() -> None:
    rows = [
        ("d", None, "better", TEAMS[i], TEAMS[j], 1.0, [])
        for i in range(7)
        for j in range(7)
        for _ in range(WINS[i][j])
    ]
    found = pd.DataFrame(
        rows, columns=["decision", "ts", "verdict", "winner", "loser", "score", "tags"]
    )
    fitted = fit(found, prior=0, reference="Baltimore")
    estimates = dict(zip(fitted.models, fitted.strength, strict=True))
    assert estimates == pytest.approx(PUBLISHED, abs=0.005)


class Notebook:
    """A real lab notebook: calls recorded through LabBook, decisions on them."""

    def __init__(self, root: Path, when: datetime | None = None) -> None:
        clock = (lambda: when) if when is not None else None
        self.book = LabBook(root, f"s{random.random():.12f}"[2:], source="test", clock=clock)
        self.prompts = 0

    def answers(self, *models: str, prompt: str | None = None) -> list[str]:
        """One recorded answer per model to one (new) prompt; their record ids."""
        self.prompts += 1
        asked = Prompt.of(prompt or f"prompt {self.prompts} of {self.book.session}")
        futures = [
            self.book.record_call(
                Job(ModelSpec(m, "local", m), asked),
                Reply(m, f"local:{m}", f"{m} says", Usage(3, 2)),
            )
            for m in models
        ]
        return [str(f.result()["id"]) for f in futures if f is not None]


@pytest.fixture
def root(isolated: Path) -> Iterator[Path]:
    folder = isolated / "labbook"
    folder.mkdir()
    yield folder


def frame_of(root: Path) -> pd.DataFrame:
    return read_frame(files(root), kind=["decision", "call"])


def test_each_verdict_counts_as_the_readme_says(root: Path) -> None:
    lab = Notebook(root)
    a, b, c = lab.answers("a", "b", "c")
    pick = lab.book.decide("pick", [a, b, c], choice=b)
    reject = lab.book.decide("reject", [a, b, c], choice=c, reason="wrong")
    x, y = lab.answers("a", "c")
    lab.book.decide("tie", [x, y])
    lab.book.decide("both-bad", [x, y])  # no information
    lab.book.decide("reject", [x, y])  # every answer rejected: no information
    old = lab.book.decide("better", [x, y], choice=y)
    lab.book.decide("better", [x, y], choice=x, supersedes=old["id"])  # changed my mind
    p, q = lab.answers("a", "b", prompt="rate me")
    r = lab.answers("c", prompt="rate me")[0]
    lab.book.decide("rating", [p], score=4)
    lab.book.decide("rating", [q], score=2)
    lab.book.decide("rating", [r], score=4)
    s, t = lab.answers("b", "b")  # two answers of one model never compare
    lab.book.decide("pick", [s, t], choice=s)
    lab.book.close()
    found = comparisons(frame_of(root))
    got = sorted(
        zip(found["verdict"], found["winner"], found["loser"], found["score"], strict=True)
    )
    assert got == sorted(
        [
            ("pick", "b", "a", 1.0), ("pick", "b", "c", 1.0),
            ("reject", "a", "c", 1.0), ("reject", "b", "c", 1.0),
            ("tie", "a", "c", 0.5),
            ("better", "a", "c", 1.0),
            ("rating", "a", "b", 1.0), ("rating", "c", "b", 1.0), ("rating", "a", "c", 0.5),
        ]
    )  # fmt: skip
    assert old["id"] not in set(found["decision"])
    assert {pick["id"], reject["id"]} <= set(found["decision"])


STRENGTH = {"m1": 1.0, "m2": 0.3, "m3": -0.3, "m4": -1.0}


def chance(a: str, b: str) -> float:
    return 1 / (1 + math.exp(STRENGTH[b] - STRENGTH[a]))


def simulate(lab: Notebook, rng: random.Random, decisions: int) -> None:
    """Decisions of every kind, drawn from the Bradley-Terry model with STRENGTH."""
    models = list(STRENGTH)
    for _ in range(decisions):
        kind = rng.random()
        if kind < 0.4:  # a pair judged: better, or a tie now and then
            a, b = rng.sample(models, 2)
            x, y = lab.answers(a, b)
            if rng.random() < 0.15:
                lab.book.decide("tie", [x, y])
            else:
                lab.book.decide("better", [x, y], choice=x if rng.random() < chance(a, b) else y)
        elif kind < 0.65:  # a pick among three, by Luce's choice rule
            three = rng.sample(models, 3)
            ids = lab.answers(*three)
            weights = [math.exp(STRENGTH[m]) for m in three]
            lab.book.decide("pick", ids, choice=rng.choices(ids, weights)[0])
        elif kind < 0.8:  # one answer of three rejected, the weakest most often
            three = rng.sample(models, 3)
            ids = lab.answers(*three)
            weights = [math.exp(-STRENGTH[m]) for m in three]
            lab.book.decide("reject", ids, choice=rng.choices(ids, weights)[0])
        elif kind < 0.95:  # two answers to one prompt rated apart
            a, b = rng.sample(models, 2)
            for model, record in zip((a, b), lab.answers(a, b), strict=True):
                score = min(5, max(1, round(3 + STRENGTH[model] + rng.gauss(0, 1))))
                lab.book.decide("rating", [record], score=score)
        else:
            a, b = rng.sample(models, 2)
            lab.book.decide("both-bad", lab.answers(a, b))


def test_the_leaderboard_recovers_a_known_order_from_simulated_decisions(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lab = Notebook(root)
    simulate(lab, random.Random(11), 400)
    # 30 mistaken verdicts (the weakest preferred to the strongest), each later superseded
    for _ in range(30):
        x, y = lab.answers("m4", "m1")
        wrong = lab.book.decide("better", [x, y], choice=x)
        lab.book.decide("better", [x, y], choice=y, supersedes=wrong["id"])
    lab.book.close()
    monkeypatch.setenv("WORKBENCH_LABBOOK", str(root))
    board = wb.log.leaderboard()
    table = board.table
    assert table["model"].tolist() == ["m1", "m2", "m3", "m4"]
    assert table["rank"].tolist() == [1, 2, 3, 4]
    assert table["strength"].sum() == pytest.approx(0.0, abs=1e-9)  # measured from the average
    assert (table["low"] < table["strength"]).all() and (table["strength"] < table["high"]).all()
    top, bottom = table.iloc[0], table.iloc[-1]
    assert top["low"] > bottom["high"], "the strongest and the weakest are told apart"
    assert top["p_beats_average"] > 0.5 > bottom["p_beats_average"]
    assert (table["wins"] + table["losses"] + table["ties"] == table["comparisons"]).all()
    assert board.summary().endswith(": m1 > m2 > m3 > m4")
    figure = board.plot()
    assert [t.get_text() for t in figure.axes[0].get_yticklabels()] == ["m4", "m3", "m2", "m1"]
    assert '<img src="data:image/png;base64,' in board._repr_html_()


def test_tags_and_periods(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    january = Notebook(root, datetime(2026, 1, 15, 12, tzinfo=UTC))
    for _ in range(6):
        x, y = january.answers("gpt", "local")
        january.book.decide("better", [x, y], choice=x, tags=["code"])
    january.book.close()
    february = Notebook(root, datetime(2026, 2, 10, 12, tzinfo=UTC))
    for _ in range(6):
        x, y = february.answers("gpt", "local")
        february.book.decide("better", [x, y], choice=y, tags=["prose"])
    february.book.close()
    monkeypatch.setenv("WORKBENCH_LABBOOK", str(root))
    assert wb.log.leaderboard(tag="code").table["model"].tolist() == ["gpt", "local"]
    assert wb.log.leaderboard(tag="prose").table["model"].tolist() == ["local", "gpt"]
    assert wb.log.leaderboard(since="2026-02-01").table["model"].tolist() == ["local", "gpt"]
    assert wb.log.leaderboard(until="2026-01-31").table["model"].tolist() == ["gpt", "local"]
    monthly = wb.log.leaderboard(by="month").table
    assert monthly.groupby("group")["model"].first().to_dict() == {
        "2026-01": "gpt", "2026-02": "local",
    }  # fmt: skip
    by_tag = wb.log.leaderboard(by="tag")
    assert set(by_tag.table["group"]) == {"code", "prose"}
    assert len(by_tag.plot().axes) == 2
    with pytest.raises(InvalidOption, match="by is one of tag, month, week"):
        wb.log.leaderboard(by="year")


def test_no_decisions_is_an_empty_board_that_says_so(root: Path) -> None:
    board = leaderboard(frame_of(root))
    assert board.table.empty
    assert board.summary().startswith("no decision compares two models yet")
    board.plot()
