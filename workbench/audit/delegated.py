"""Scorers that hand the verdict on: to a user's Python function, or to a judge model (or panel)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.audit.functions import load_function
from workbench.audit.score import Score, Scorer, Value, normalise
from workbench.audit.structured import canonical
from workbench.errors import ScorerError

if TYPE_CHECKING:
    from workbench.audit.items import Item


class Python(Scorer):
    """Calls a function named in the exercise: f(answer, expected, item) -> a verdict.

    The verdict is True or False, alone, as `(verdict, why)` or as a dict
    `{"correct": verdict, "why": ..., "answer": ...}` (`answer`: the key agreement compares).
    With a schema, the function gets the answer's parsed value instead of its text.
    None is a verdict only when the item expects nothing. Anything else (a string, a number),
    or an exception, is a `ScorerError` naming the function and the item.
    """

    name = "python"
    options = ("function",)
    reads_values = True

    def __init__(self, *, base: Path | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.spec = str(options["function"])
        self.function = load_function(self.spec, base or Path.cwd())

    def score(self, text: str, expected: Any, item: Item, value: Value | None = None) -> Score:
        """See `Scorer.score`."""
        given = text if value is None else value.data
        try:
            result = self.function(given, expected, dict(item.fields))
        except Exception as e:
            raise ScorerError(
                f"the python scorer {self.spec} failed on item {item.id}: "
                f"{type(e).__name__}: {e}; fix it, then resume the run",
                scorer=self.spec,
            ) from e
        answer: str | None = (normalise(text) or None) if value is None else canonical(value.data)
        why = ""
        if isinstance(result, dict):
            answer = result.get("answer", answer)
            correct, why = result.get("correct"), str(result.get("why", ""))
        elif isinstance(result, tuple) and len(result) == 2:
            correct, why = result[0], str(result[1])
        else:
            correct = result
        verdict = self._verdict(correct, expected, item)
        return Score(answer, verdict, why or f"{self.spec} said {verdict}")

    def _verdict(self, value: Any, expected: Any, item: Item) -> bool | None:
        if isinstance(value, bool):
            return value
        if type(value).__module__ == "numpy" and type(value).__name__ in ("bool_", "bool"):
            return bool(value)  # numpy's booleans are verdicts too
        if value is None and expected is None:
            return None
        raise ScorerError(
            f"the python scorer {self.spec} gave no verdict on item {item.id}: it returned "
            f"{value!r} ({type(value).__name__}); return True or False, (verdict, why) or "
            '{"correct": verdict, "why": ...}',
            scorer=self.spec,
        )


JUDGE_PROMPT = """You grade one answer to an exercise. Reply with PASS or FAIL on the first line, \
then one sentence saying why.

Rubric: {rubric}
{reason}Question:
{question}
{expected}Answer to grade:
{answer}"""


PANEL_RULES = ("majority", "unanimous")


class Judge(Scorer):
    """A chosen model (or a panel of them) grades each answer against a rubric (PASS/FAIL, why)."""

    name = "judge"
    options = ("model", "rubric", "panel")
    agree_on_verdict = True

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        names = options.get("model")
        found = [names] if isinstance(names, str) else list(names or [])
        if not found or not all(isinstance(n, str) and n.strip() for n in found):
            raise ScorerError("the judge scorer's model is a model name or a list of them")
        if len(set(found)) != len(found):
            raise ScorerError(f"a judge is named twice in {found}: name each model once")
        rule = options.get("panel", "majority")
        if rule not in PANEL_RULES:
            raise ScorerError(f"the judge panel's rule is majority or unanimous, not {rule!r}")
        self.models: list[str] = found
        self.rule: str = rule

    @property
    def is_panel(self) -> bool:
        """True when several judges vote."""
        return len(self.models) > 1

    def vote(self, verdicts: Sequence[bool | None]) -> tuple[bool | None, bool]:
        """(the panel's verdict, whether the judges split) from each judge's verdict.

        majority: the verdict most judges gave (None on a tie, or when none gave one);
        unanimous: PASS only when every judge passed, FAIL when one failed (else None). Either
        way the judges split when they did not all say the same (no verdict included).
        """
        given = [v for v in verdicts if v is not None]
        split = len(set(verdicts)) > 1
        if self.rule == "unanimous":
            if False in given:
                return False, split
            return (True if len(given) == len(verdicts) and given else None), split
        if not given:
            return None, split
        passed = sum(given)
        failed = len(given) - passed
        return (None if passed == failed else passed > failed), split

    def read(self, text: str) -> str | None:
        """See `Scorer.read`."""
        return normalise(text) or None

    def prompt(self, question: str, answer: str, expected: Any, reason: str) -> str:
        """What the judge model is asked about one answer."""
        return JUDGE_PROMPT.format(
            rubric=self.config.get("rubric", "Is the answer correct and complete?"),
            reason=f"Why the rule exists: {reason}\n" if reason else "",
            question=question,
            expected=f"Expected answer: {expected}\n" if expected is not None else "",
            answer=answer,
        )

    @staticmethod
    def verdict(text: str) -> tuple[bool | None, str]:
        """(passed, why) from the judge's reply; None when it gave no verdict."""
        match = re.search(r"\b(PASS|FAIL)\b", text, re.IGNORECASE)
        why = " ".join(text.split())[:300] or "empty reply"
        if match is None:
            return None, f"the judge gave no verdict: {why}"
        return match.group(1).upper() == "PASS", f"judge: {why}"
