"""Scorers: how an answer is read (the key agreement compares) and whether it is right, and why.

exact       the stripped text equals the expected text
normalised  equal after lower-casing and dropping punctuation and extra spaces
contains    the normalised expected text occurs in the normalised answer
regex       the pattern's first group (or match) equals the expected text
numeric     the last (or first) number is within `tolerance` of the expected number
json        the JSON in the answer equals the expected value (with a schema: the parsed value)
choice      the letter chosen among `choices` (default ABCD) equals the expected letter
python      `function: module:name` or `file.py:name`, called as f(answer, expected, item)
            (with a schema, `answer` is the parsed value)
judge       `model` grades each answer against a `rubric`; its calls are recorded too.
            `model` may name several: a panel, whose verdict is the `panel` rule's
            (`majority`, the default, or `unanimous`: PASS only when every judge passes)

With a schema, `json` (the default then) and `python` compare values, never text: 1 and 1.0,
or the same keys in another order, are the same answer. The others read the text.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from workbench.audit.functions import load_function
from workbench.audit.structured import canonical
from workbench.errors import ExerciseProblem, ScorerError

if TYPE_CHECKING:
    from workbench.audit.exercise import Lines
    from workbench.audit.items import Item
    from workbench.config import Config


@dataclass(frozen=True)
class Value:
    """A structured answer's parsed value (the exercise has a schema); `data` may be None (null)."""

    data: Any


@dataclass(frozen=True)
class Score:
    """One answer read and judged: `answer` is what agreement compares (None: none found)."""

    answer: str | None
    correct: bool | None
    """None when nothing is expected (or a judge gave no verdict)."""
    why: str


class Scorer:
    """Reads answers and scores them against an expected output."""

    name: ClassVar[str] = "exact"
    options: ClassVar[tuple[str, ...]] = ()
    agree_on_verdict: ClassVar[bool] = False
    """True when models agree by their verdicts rather than their answers (the judge)."""
    reads_values: ClassVar[bool] = False
    """True when it reads a structured answer's parsed value rather than its text."""

    def __init__(self, **options: Any) -> None:
        self.config = options

    def read(self, text: str) -> str | None:
        """The answer in a reply, normalised the way this scorer compares it."""
        return text.strip()

    def read_value(self, data: Any) -> str | None:
        """A structured answer's value, read the way this scorer compares it."""
        return canonical(data)

    def expect(self, expected: Any) -> str:
        """The expected value, normalised like answers."""
        return str(expected).strip()

    def same(self, a: str, b: str) -> bool:
        """Whether two read answers count as the same answer."""
        return a == b

    def score(self, text: str, expected: Any, item: Item, value: Value | None = None) -> Score:
        """Read the answer and compare it with `expected` (None: nothing expected).

        A scorer that reads values reads `value` (a structured answer's) instead of the text.
        """
        answer = self.read_value(value.data) if value and self.reads_values else self.read(text)
        if expected is None:
            return Score(answer, None, "nothing expected: agreement only")
        if answer is None:
            return Score(None, False, f"no answer found by the {self.name} scorer")
        want = self.expect(expected)
        ok = self.same(answer, want)
        return Score(answer, ok, f"{answer!r} {'==' if ok else '!='} expected {want!r}")

    def agree(self, keys: Sequence[str | None]) -> bool:
        """True when every key is found and the same as the first."""
        if not keys or any(k is None for k in keys):
            return False
        first = keys[0]
        assert first is not None
        return all(self.same(first, k) for k in keys if k is not None)


def normalise(text: str) -> str:
    """Lower case, accents folded, punctuation dropped, spaces collapsed."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.sub(r"[^\w\s]", " ", text).split())


class Normalised(Scorer):
    """Equal after normalising case, punctuation and spaces."""

    name = "normalised"

    def read(self, text: str) -> str | None:
        """See `Scorer.read`."""
        return normalise(text) or None

    def expect(self, expected: Any) -> str:
        """See `Scorer.expect`."""
        return normalise(str(expected))


class Contains(Normalised):
    """The expected text occurs in the answer (both normalised)."""

    name = "contains"

    def score(self, text: str, expected: Any, item: Item, value: Value | None = None) -> Score:
        """See `Scorer.score` (it reads the text)."""
        answer = self.read(text)
        if expected is None:
            return Score(answer, None, "nothing expected: agreement only")
        want = self.expect(expected)
        found = answer is not None and f" {want} " in f" {answer} "
        why = f"{'contains' if found else 'does not contain'} {want!r}"
        return Score(want if found else answer, found, why)


class Regex(Scorer):
    """The pattern's first group (or whole match) is the answer."""

    name = "regex"
    options = ("pattern", "ignore_case")

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        flags = re.IGNORECASE if options.get("ignore_case") else 0
        self.pattern = re.compile(options["pattern"], flags | re.MULTILINE)

    def read(self, text: str) -> str | None:
        """See `Scorer.read`."""
        match = self.pattern.search(text)
        if match is None:
            return None
        found = match.group(1) if self.pattern.groups else match.group(0)
        return found.strip().casefold() if self.config.get("ignore_case") else found.strip()

    def expect(self, expected: Any) -> str:
        """See `Scorer.expect`."""
        want = str(expected).strip()
        return want.casefold() if self.config.get("ignore_case") else want


_NUMBER = re.compile(r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)?(?:\.\d+)?(?:[eE][-+]?\d+)?")


class Numeric(Scorer):
    """A number within `tolerance` (absolute, or `relative: true`) of the expected one."""

    name = "numeric"
    options = ("tolerance", "relative", "pick")

    def read(self, text: str) -> str | None:
        """See `Scorer.read`."""
        found = [m.group(0) for m in _NUMBER.finditer(text) if re.search(r"\d", m.group(0))]
        if not found:
            return None
        raw = found[0] if self.config.get("pick") == "first" else found[-1]
        return repr(float(raw.replace(",", "")))

    def expect(self, expected: Any) -> str:
        """See `Scorer.expect`."""
        return repr(float(expected))

    def same(self, a: str, b: str) -> bool:
        """See `Scorer.same`."""
        x, y = float(a), float(b)
        tolerance = float(self.config.get("tolerance", 0.0))
        if self.config.get("relative"):
            return math.isclose(x, y, rel_tol=tolerance, abs_tol=0.0)
        return abs(x - y) <= tolerance + 1e-12


class Json(Scorer):
    """The JSON value in the answer (code fences allowed) equals the expected value.

    With a schema, the answer's parsed value is compared (the text is not read again).
    """

    name = "json"
    reads_values = True

    def read(self, text: str) -> str | None:
        """See `Scorer.read`."""
        body = text.strip()
        fenced = re.search(r"```(?:json)?\s*(.*?)```", body, re.DOTALL)
        if fenced:
            body = fenced.group(1)
        decoder = json.JSONDecoder()
        for start, char in enumerate(body):
            if char in "{[":
                try:
                    value, _ = decoder.raw_decode(body[start:])
                except json.JSONDecodeError:
                    continue
                return canonical(value)
        try:
            return canonical(json.loads(body))
        except json.JSONDecodeError:
            return None

    def expect(self, expected: Any) -> str:
        """See `Scorer.expect`."""
        if isinstance(expected, str):
            try:
                return canonical(json.loads(expected))
            except json.JSONDecodeError:
                pass
        return canonical(expected)


class Choice(Scorer):
    """The letter chosen among `choices` (default ABCD)."""

    name = "choice"
    options = ("choices",)

    def read(self, text: str) -> str | None:
        """See `Scorer.read`."""
        letters = re.escape(str(self.config.get("choices", "ABCD")))
        patterns = (
            rf"answer\s*(?:is|:)?\s*\**\(?([{letters}])\)?(?![A-Za-z])",
            rf"^\s*\**\(?([{letters}])(?:[).:\s*]|$)",
            rf"\(([{letters}])\)",
        )
        for pattern in patterns:
            match = re.search(pattern, text, re.IGNORECASE | re.MULTILINE)
            if match:
                return match.group(1).upper()
        lone = re.findall(rf"(?<![A-Za-z])([{letters}])(?![A-Za-z])", text)
        return lone[-1] if lone else None

    def expect(self, expected: Any) -> str:
        """See `Scorer.expect`."""
        return str(expected).strip().upper()


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


SCORERS: dict[str, type[Scorer]] = {
    cls.name: cls for cls in (Scorer, Normalised, Contains, Regex, Numeric, Json, Choice, Python)
}
SCORERS["judge"] = Judge
REQUIRED = {"regex": ("pattern",), "python": ("function",), "judge": ("model",)}


def build_scorer(
    spec: Any, lines: Lines, base: Path, config: Config | None
) -> tuple[Scorer | None, list[ExerciseProblem]]:
    """The scorer an exercise names, or the problems with its settings."""
    here: tuple[str, ...] = ("scorer",)
    options = {"type": spec} if isinstance(spec, str) else dict(spec)
    kind = str(options.pop("type"))
    if isinstance(spec, dict):
        here = ("scorer", "type")
    cls = SCORERS.get(kind)
    if cls is None:
        known = ", ".join(sorted(SCORERS))
        return None, [lines.problem(here, f"unknown scorer {kind!r}: use one of {known}")]
    problems = []
    for name in REQUIRED.get(kind, ()):
        if name not in options:
            problems.append(lines.problem(("scorer",), f"the {kind} scorer needs {name}: ..."))
    for name in options:
        if name not in cls.options:
            allowed = ", ".join(cls.options) or "no options"
            problems.append(
                lines.problem(("scorer", name), f"the {kind} scorer takes {allowed}, not {name!r}")
            )
    if problems:
        return None, problems
    try:
        if cls is Python:
            return Python(base=base, **options), []
        scorer = cls(**options)
    except (ScorerError, re.error) as e:
        field = {Python: "function", Judge: "model"}.get(cls, "pattern")
        return None, [lines.problem(("scorer", field), str(e))]
    if isinstance(scorer, Judge) and config is not None:
        from workbench.errors import UnknownModel
        from workbench.providers import registry

        try:
            for name in scorer.models:
                registry.resolve(name, config)
        except UnknownModel as e:
            message = f"unknown judge model {e.name!r}: `workbench models` lists them"
            return None, [lines.problem(("scorer", "model"), message)]
    return scorer, []
