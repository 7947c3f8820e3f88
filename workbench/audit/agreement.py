"""Agreement: how the models' answers to one item agree, and what that means for the item.

agree-correct   every answer found, all the same, and as expected: merge with confidence
agree-wrong     all the same, but not what was expected: a human looks (the expectation
                may be what is wrong)
disagree        the answers differ: a human looks
judges-split    a panel of judges did not agree on an answer: a human looks (the panel's
                verdict still counts in the accuracy until one does)
no-expected     all the same, nothing expected: agreement only
error           a call failed: resume or rerun it
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from workbench.audit.items import Item
    from workbench.audit.scorers import Score, Scorer, Value
    from workbench.providers.base import Reply

OUTCOMES = ("agree-correct", "agree-wrong", "disagree", "judges-split", "no-expected", "error")
NEEDS_HUMAN = ("disagree", "agree-wrong", "judges-split")


def outcome(
    scorer: Scorer, scores: Sequence[Score | None], expected: Any
) -> tuple[str, bool | None]:
    """(outcome, agreed) for one item; a None score is a failed call."""
    if not scores or any(s is None for s in scores):
        return "error", None
    done = [s for s in scores if s is not None]
    if scorer.agree_on_verdict:
        verdicts = [s.correct for s in done]
        agreed = None not in verdicts and len(set(verdicts)) == 1
        if not agreed:
            return "disagree", False
        return ("agree-correct" if verdicts[0] else "agree-wrong"), True
    agreed = scorer.agree([s.answer for s in done])
    if not agreed:
        return "disagree", False
    if expected is None:
        return "no-expected", True
    return ("agree-correct" if all(s.correct for s in done) else "agree-wrong"), True


def score_all(
    scorer: Scorer,
    replies: Sequence[Reply],
    texts: Sequence[str],
    item: Item,
    values: Sequence[Value | None] | None = None,
) -> list[Score | None]:
    """A score per reply from its (redacted) text and value; None where it is not an answer.

    A failed call, an answer cut short (`IncompleteAnswer`: `reply.ok` is False, though
    it has text) and an answer that does not fit the schema (`InvalidOutput`, its raw text
    kept) are never scored: the item's outcome is then `error`. `values` holds each
    structured answer's parsed value (None: no schema).
    """
    found = values if values is not None else [None] * len(replies)
    return [
        scorer.score(text, item.expected, item, value) if reply.ok else None
        for reply, text, value in zip(replies, texts, found, strict=True)
    ]


def agreement_key(score: Score | None, *, by_verdict: bool) -> str | None:
    """What agreement compares for one answer: what was read, or PASS/FAIL for a judge."""
    if score is None:
        return None
    if by_verdict:
        return None if score.correct is None else ("PASS" if score.correct else "FAIL")
    return score.answer


def pairwise(rows: Sequence[dict[str, Any]], models: Sequence[str]) -> pd.DataFrame:
    """Share of items on which each pair of models gave the same (first-sample) answer."""
    import pandas as pd

    matrix = pd.DataFrame(index=list(models), columns=list(models), dtype="Float64")
    keys = [first_keys(row) for row in rows]
    for a in models:
        for b in models:
            both = [k for k in keys if k.get(a) is not None and k.get(b) is not None]
            same = sum(1 for k in both if k[a] == k[b])
            matrix.loc[a, b] = same / len(both) if both else pd.NA
    matrix.index.name = "model"
    matrix.columns.name = "model"
    return matrix


def first_keys(row: dict[str, Any]) -> dict[str, Any]:
    """Model -> the key it agreed on (its verdict for judged rows), first sample only."""
    out: dict[str, Any] = {}
    for answer in row["answers"]:
        if answer["sample"] == 0 and not answer.get("error"):
            out[answer["model"]] = answer.get("key", answer.get("answer"))
    return out
