"""Scorers read answers and say why; agreement turns scores into an outcome per item."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.audit.helpers import write
from workbench.audit.agreement import outcome, pairwise
from workbench.audit.exercise import loads
from workbench.audit.items import Item
from workbench.audit.scorers import Judge, Score, Scorer

ITEM = Item("q1", {"q": "?"})


def scorer(spec: str, base: Path | None = None) -> Scorer:
    text = f"name: s\ntemplate: '{{q}}'\nitems: [{{q: x}}]\nscorer: {spec}\n"
    return loads(text, base=base).scorer


@pytest.mark.parametrize(
    ("spec", "answer", "expected", "read", "correct"),
    [
        ("exact", " Paris ", "Paris", "Paris", True),
        ("exact", "paris", "Paris", "paris", False),
        ("normalised", "PARIS!", "paris", "paris", True),
        ("contains", "The capital is Paris.", "Paris", "paris", True),
        ("contains", "Lyon, I think", "Paris", "lyon i think", False),
        ("{type: regex, pattern: 'ANSWER: (\\w+)'}", "so ANSWER: 42", "42", "42", True),
        ("{type: regex, pattern: 'x=(\\d+)', ignore_case: true}", "X=7", "7", "7", True),
        ("{type: numeric, tolerance: 0.01}", "It is 3.141 or so", 3.14, "3.141", True),
        ("{type: numeric}", "1,000 apples, then 12", 12, "12.0", True),
        ("{type: numeric, pick: first}", "1,000 apples, then 12", 12, "1000.0", False),
        ("{type: numeric, tolerance: 0.05, relative: true}", "104", 100, "104.0", True),
        (
            "json",
            'Sure: ```json\n{"b": 2, "a": 1}\n```',
            '{"a": 1, "b": 2}',
            '{"a": 1, "b": 2}',
            True,
        ),
        ("json", "[1, 2]", [1, 3], "[1, 2]", False),
        ("choice", "The answer is (C).", "c", "C", True),
        ("choice", "B) because A is wrong", "B", "B", True),
        ("{type: choice, choices: ABCDE}", "I pick E", "E", "E", True),
    ],
)
def test_scorers_read_and_judge_answers(
    spec: str, answer: str, expected: Any, read: str, correct: bool
) -> None:
    s = scorer(spec)
    score = s.score(answer, expected, ITEM)
    assert (score.answer, score.correct) == (read, correct)
    assert score.why, "every score records why"


def test_no_expected_means_agreement_only() -> None:
    score = scorer("normalised").score("Paris", None, ITEM)
    assert score == Score("paris", None, "nothing expected: agreement only")


def test_a_python_scorer_named_in_the_file(isolated: Path) -> None:
    write(
        isolated,
        "checks.py",
        """
        def even(answer, expected, item):
            n = int(answer.strip())
            return {"answer": str(n % 2), "correct": n % 2 == expected, "why": f"{n} mod 2"}
        """,
    )
    s = scorer("{type: python, function: 'checks.py:even'}", base=isolated)
    assert s.score("14", 0, ITEM) == Score("0", True, "14 mod 2")
    assert s.score("7", 0, ITEM).correct is False


def test_the_judge_reads_its_verdict() -> None:
    assert Judge.verdict("PASS\nIt names Paris.") == (True, "judge: PASS It names Paris.")
    assert Judge.verdict("fail: wrong city")[0] is False
    assert Judge.verdict("I am not sure")[0] is None
    prompt = Judge(model="gpt", rubric="Names the city.").prompt("Capital?", "Paris", "Paris", "")
    assert "Rubric: Names the city." in prompt and "Expected answer: Paris" in prompt


def test_outcomes_from_scores() -> None:
    s = scorer("normalised")

    def run(answers: list[str | None], expected: Any) -> tuple[str, bool | None]:
        scores = [None if a is None else s.score(a, expected, ITEM) for a in answers]
        return outcome(s, scores, expected)

    assert run(["Paris", "paris."], "Paris") == ("agree-correct", True)
    assert run(["Lyon", "lyon"], "Paris") == ("agree-wrong", True)
    assert run(["Paris", "Lyon"], "Paris") == ("disagree", False)
    assert run(["Paris", "Paris"], None) == ("no-expected", True)
    assert run(["Paris", "Lyon"], None) == ("disagree", False)
    assert run(["Paris", None], "Paris") == ("error", None)


def test_numeric_agreement_uses_the_tolerance() -> None:
    s = scorer("{type: numeric, tolerance: 0.1}")
    scores = [s.score(a, 2.0, ITEM) for a in ("2.04", "1.95", "2")]
    assert outcome(s, scores, 2.0) == ("agree-correct", True)


def test_pairwise_agreement_matrix() -> None:
    def row(keys: dict[str, str | None]) -> dict[str, Any]:
        answers = [
            {"model": m, "sample": 0, "key": k, "error": None if k else "X: failed"}
            for m, k in keys.items()
        ]
        return {"answers": answers}

    rows = [
        row({"a": "1", "b": "1", "c": "2"}),
        row({"a": "3", "b": "4", "c": "3"}),
        row({"a": "5", "b": "5", "c": None}),
    ]
    matrix = pairwise(rows, ["a", "b", "c"])
    assert matrix.loc["a", "b"] == pytest.approx(2 / 3)
    assert matrix.loc["a", "c"] == pytest.approx(1 / 2)
    assert matrix.loc["b", "c"] == 0
    assert matrix.loc["c", "c"] == 1
