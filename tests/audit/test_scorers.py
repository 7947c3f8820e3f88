"""Scorers read answers and say why; agreement turns scores into an outcome per item."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.audit.helpers import write
from workbench.audit.agreement import outcome, pairwise, score_all
from workbench.audit.exercise import loads
from workbench.audit.items import Item
from workbench.audit.scorers import Judge, Score, Scorer
from workbench.errors import ExerciseError, ScorerError
from workbench.providers.base import Reply, ReplyError

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


CHECKS = """
import numpy

def says(answer, expected, item):
    return {"yes": "yes", "one": 1, "np": numpy.bool_(True), "none": None,
            "pair": (True, "fine"), "bad-pair": ("no", "?"), "dict": {"correct": "no"},
            "dict-ok": {"correct": False, "why": "wrong"}}[answer]

def broken(answer, expected, item):
    return {}[answer]
"""


@pytest.mark.parametrize(
    ("answer", "expected", "correct"),
    [
        ("np", "x", True),
        ("pair", "x", True),
        ("dict-ok", "x", False),
        ("none", None, None),  # nothing expected: no verdict is asked for
    ],
)
def test_a_python_scorer_gives_a_verdict(
    isolated: Path, answer: str, expected: Any, correct: bool | None
) -> None:
    write(isolated, "checks.py", CHECKS)
    s = scorer("{type: python, function: 'checks.py:says'}", base=isolated)
    assert s.score(answer, expected, ITEM).correct is correct


@pytest.mark.parametrize(
    ("answer", "shown"),
    [
        ("yes", "'yes' (str)"),
        ("one", "1 (int)"),
        ("none", "None (NoneType)"),
        ("bad-pair", "'no' (str)"),
        ("dict", "'no' (str)"),
    ],
)
def test_anything_else_from_a_python_scorer_is_an_error_naming_it(
    isolated: Path, answer: str, shown: str
) -> None:
    write(isolated, "checks.py", CHECKS)
    s = scorer("{type: python, function: 'checks.py:says'}", base=isolated)
    with pytest.raises(ScorerError) as caught:
        s.score(answer, "expected", ITEM)
    message = str(caught.value)
    assert message.startswith("the python scorer checks.py:says gave no verdict on item q1: ")
    assert shown in message and "\n" not in message
    assert caught.value.scorer == "checks.py:says"


def test_a_python_scorer_that_raises_is_an_error_naming_it(isolated: Path) -> None:
    write(isolated, "checks.py", CHECKS)
    s = scorer("{type: python, function: 'checks.py:broken'}", base=isolated)
    with pytest.raises(ScorerError, match=r"checks.py:broken failed on item q1: KeyError: 'x'"):
        s.score("x", "expected", ITEM)


@pytest.mark.parametrize(
    ("spec", "files", "complaint"),
    [
        ("nothing", {}, "must look like module:name or file.py:name"),
        ("missing.py:f", {}, "no Python file 'missing.py'"),
        ("checks.py:absent", {"checks.py": CHECKS}, "has no function 'absent'"),
        ("bad.py:f", {"bad.py": "def f(:\n"}, "cannot load bad.py: SyntaxError"),
        ("boom.py:f", {"boom.py": "raise RuntimeError('at import')\n"}, "RuntimeError: at import"),
        ("no_such_module:f", {}, "cannot import 'no_such_module'"),
    ],
)
def test_a_bad_python_scorer_spec_is_an_exercise_problem(
    isolated: Path, spec: str, files: dict[str, str], complaint: str
) -> None:
    for name, text in files.items():
        write(isolated, name, text)
    with pytest.raises(ExerciseError, match=re.escape(complaint)):
        scorer(f"{{type: python, function: '{spec}'}}", base=isolated)


def test_incomplete_answers_and_errors_are_never_scored() -> None:
    s = scorer("normalised")
    item = Item("q1", {"q": "?"}, "The capital")
    cut = ReplyError("IncompleteAnswer", "the stream ended without a finish reason")
    replies = [
        Reply("a", "openai:a", text="The capital"),
        Reply("b", "openai:b", text="The capital", error=cut),  # the partial text is kept
        Reply("c", "openai:c", text="", error=ReplyError("ServerError", "500")),
    ]
    scores = score_all(s, replies, [r.text for r in replies], item)
    assert scores[0] is not None and scores[0].correct is True
    assert scores[1:] == [None, None]
    assert outcome(s, scores, item.expected) == ("error", None)
