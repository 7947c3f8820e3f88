"""The verdicts a decision record holds, and the check that one has its shape."""

from __future__ import annotations

from workbench.errors import InvalidOption

VERDICTS = ("pick", "reject", "better", "tie", "both-bad", "rating")
"""The verdicts, as decision records hold them (`links`: the calls judged; `choice`: one of them):
pick: `choice` is the best of the answers linked; reject: `choice` is wrong (no `choice`: every
answer linked is); better: of exactly two linked, `choice` is the better; tie and both-bad: of
exactly two, no `choice`; rating: the one answer linked gets `score`, 1 to 5."""
_PAIRED = ("better", "tie", "both-bad")


def check_verdict(verdict: str, on: list[str], choice: str | None, score: int | None) -> None:
    """A one-line InvalidOption unless the verdict has the shape `VERDICTS` gives it."""
    if verdict not in VERDICTS:
        raise InvalidOption(f"verdict must be one of {', '.join(VERDICTS)}, not {verdict!r}")
    if not on:
        raise InvalidOption(f"a {verdict} judges at least one recorded answer: none was given")
    if choice is not None and choice not in on:
        raise InvalidOption(f"the choice {choice!r} is not among the records judged")
    if verdict in _PAIRED and len(on) != 2:
        raise InvalidOption(f"a {verdict} verdict judges two answers, not {len(on)}")
    if verdict in ("better", "pick") and choice is None:
        raise InvalidOption(f"a {verdict} verdict names the answer it prefers (choice=...)")
    if verdict in _PAIRED and verdict != "better" and choice is not None:
        raise InvalidOption(f"a {verdict} verdict chooses no answer")
    if verdict == "rating" and len(on) != 1:
        raise InvalidOption(f"a rating judges one answer, not {len(on)}")
    rated = isinstance(score, int) and not isinstance(score, bool) and 1 <= score <= 5
    if (verdict == "rating") != (score is not None) or (score is not None and not rated):
        raise InvalidOption(
            f"a rating is a whole number from 1 to 5 (only ratings have one), not {score!r}"
        )
