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

This module holds the scorers that read text and the registry (`build_scorer`); the base
`Scorer` is in `score`, `python` and `judge` in `delegated`; all are importable from here.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.audit.delegated import JUDGE_PROMPT, PANEL_RULES, Judge, Python
from workbench.audit.score import Score, Scorer, Value, normalise
from workbench.audit.structured import canonical
from workbench.errors import ExerciseProblem, ScorerError

if TYPE_CHECKING:
    from workbench.audit.exercise import Lines
    from workbench.audit.items import Item
    from workbench.config import Config

__all__ = [
    "JUDGE_PROMPT", "PANEL_RULES", "REQUIRED", "SCORERS", "Choice", "Contains", "Json", "Judge",
    "Normalised", "Numeric", "Python", "Regex", "Score", "Scorer", "Value", "build_scorer",
    "normalise",
]  # fmt: skip


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
