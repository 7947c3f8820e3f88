"""The base scorer (how an answer is read, compared and agreed on) and the Score it gives."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from workbench.audit.structured import canonical

if TYPE_CHECKING:
    from workbench.audit.items import Item


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
