"""The verdicts on one comparison's answers: which answers can be judged, and what was decided.

A `Ballot` learns each answer's record id as soon as that answer is durable in the lab
notebook (the panel tells it, column by column, while other models still run), so an answer
can be judged the moment it is there. Every verdict is a decision record linked to the
answers it judges (`LabBook.decide`); a new verdict of the same kind on the same answers
names the one it replaces (`supersedes`): a second pick replaces the first, a new rating of
an answer its old rating, a new verdict on a pair the old one. `marks(label)` says what
currently stands for a column, so the panel shows one winner.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from workbench.errors import InvalidOption, NotRecorded

if TYPE_CHECKING:
    from workbench.labbook.book import LabBook

Answer = tuple[str, int]
"""One answer of a comparison: (model label, sample)."""

PAIRED = {"a": "better", "b": "better", "tie": "tie", "both-bad": "both-bad"}
"""Verdicts between two columns, as the arena bar names them -> the recorded verdict."""


def parse_tags(text: str | Iterable[str]) -> list[str]:
    """Tags from "a, b c" (commas or spaces) or a list; empty ones dropped."""
    items = text.replace(",", " ").split() if isinstance(text, str) else list(text)
    return [t.strip() for t in items if t and t.strip()]


@dataclass
class Ballot:
    """The recorded answers of one comparison and the verdicts that stand on them."""

    labbook: LabBook | None
    labels: Sequence[str]
    samples: int = 1
    ids: dict[Answer, str] = field(default_factory=dict)
    """Each recorded answer's call record id."""
    answered: dict[Answer, bool] = field(default_factory=dict)
    """Whether each recorded call got an answer (a failed call can be rejected or noted only)."""
    standing: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict)
    """The decision that stands for each key (see `_key`): the latest, the others superseded."""

    # -- answers -----------------------------------------------------------------------------

    def answer(self, label: str, sample: int, record_id: str | None, ok: bool) -> None:
        """An answer is recorded (record_id None: it was not, e.g. recording paused)."""
        if record_id is not None:
            self.ids[(label, sample)] = record_id
            self.answered[(label, sample)] = ok

    def recorded(self, label: str, sample: int = 0) -> bool:
        """Whether this answer can be judged: it is in the lab notebook."""
        return self.labbook is not None and (label, sample) in self.ids

    def judgeable(self, label: str, sample: int = 0) -> bool:
        """Whether this answer can be picked, rated or compared: recorded and answered."""
        return self.recorded(label, sample) and self.answered[(label, sample)]

    def _id(self, label: str, sample: int) -> str:
        if label not in self.labels:
            raise InvalidOption(f"no column {label!r}: the columns are {', '.join(self.labels)}")
        if not 0 <= sample < self.samples:
            raise InvalidOption(f"sample must be from 1 to {self.samples}, not {sample + 1}")
        if self.labbook is None:
            raise NotRecorded("this comparison was not recorded: no lab notebook is open")
        found = self.ids.get((label, sample))
        if found is None:
            raise NotRecorded(f"{label}'s answer is not recorded yet: wait for it to finish")
        return found

    def _answered(self, label: str, sample: int) -> str:
        found = self._id(label, sample)
        if not self.answered[(label, sample)]:
            raise InvalidOption(f"{label} gave no answer to judge (its call failed)")
        return found

    # -- verdicts ----------------------------------------------------------------------------

    def pick(
        self, label: str, sample: int = 0, reason: str | None = None, tags: Iterable[str] = ()
    ) -> dict[str, Any]:
        """`label`'s answer is the best of those recorded; it replaces an earlier pick."""
        choice = self._answered(label, sample)
        judged = [self.ids[a] for a in self._order() if a in self.ids]
        return self._decide(("pick",), "pick", judged, choice, reason, tags)

    def reject(
        self, label: str, sample: int, reason: str | None, tags: Iterable[str] = ()
    ) -> dict[str, Any]:
        """`label`'s answer is wrong or unwanted, and why."""
        judged = self._id(label, sample)
        if not (reason or "").strip():
            raise InvalidOption(f"say why you reject {label}'s answer: type a reason first")
        return self._decide(("reject", judged), "reject", [judged], judged, reason, tags)

    def rate(
        self,
        label: str,
        sample: int,
        score: int,
        reason: str | None = None,
        tags: Iterable[str] = (),
    ) -> dict[str, Any]:
        """A 1-5 rating of one answer; it replaces that answer's earlier rating."""
        judged = self._answered(label, sample)
        return self._decide(("rating", judged), "rating", [judged], None, reason, tags, score)

    def versus(
        self,
        a: Answer,
        b: Answer,
        verdict: str,
        reason: str | None = None,
        tags: Iterable[str] = (),
    ) -> dict[str, Any]:
        """Between two answers: "a" or "b" is better, "tie", or "both-bad"."""
        if verdict not in PAIRED:
            raise InvalidOption(f"a verdict between two answers is one of {', '.join(PAIRED)}")
        if a == b:
            raise InvalidOption("choose two different answers to compare")
        first, second = self._answered(*a), self._answered(*b)
        choice = {"a": first, "b": second}.get(verdict)
        key = ("pair", frozenset((first, second)))
        return self._decide(key, PAIRED[verdict], [first, second], choice, reason, tags)

    def note(
        self, label: str, sample: int, text: str | None, tags: Iterable[str] = ()
    ) -> dict[str, Any]:
        """A note (and tags) about one answer."""
        about = self._id(label, sample)
        tags = list(tags)
        if not (text or "").strip() and not tags:
            raise InvalidOption("a note needs some text or a tag: type it first")
        assert self.labbook is not None
        record = self.labbook.note(text or f"tagged {', '.join(tags)}", on=[about], tags=tags)
        self.labbook.commit_soon(f"note on {label}")
        return record

    def _decide(
        self,
        key: tuple[Any, ...],
        verdict: str,
        judged: list[str],
        choice: str | None,
        reason: str | None,
        tags: Iterable[str],
        score: int | None = None,
    ) -> dict[str, Any]:
        assert self.labbook is not None
        earlier = self.standing.get(key)
        record = self.labbook.decide(
            verdict,
            judged,
            choice=choice,
            reason=(reason or "").strip() or None,
            tags=tags,
            score=score,
            supersedes=None if earlier is None else str(earlier["id"]),
        )
        self.standing[key] = record
        self.labbook.commit_soon(f"decision: {verdict}")
        return record

    def _order(self) -> list[Answer]:
        return [(label, s) for label in self.labels for s in range(self.samples)]

    # -- what stands -------------------------------------------------------------------------

    def adopt(self, decisions: Iterable[dict[str, Any]]) -> None:
        """Take earlier decision records on these answers (oldest first) as standing."""
        mine = set(self.ids.values())
        for record in decisions:
            data = record.get("data") or {}
            links = [str(x) for x in record.get("links") or ()]
            if not links or not set(links) <= mine:
                continue
            key = _key(str(data.get("verdict")), links)
            if key is not None:
                self.standing[key] = record

    def marks(self, label: str, sample: int = 0) -> list[str]:
        """What stands for one answer, in words ("✓ picked", "★ 4/5", "▲ better than b")."""
        mine = self.ids.get((label, sample))
        if mine is None:
            return []
        names = {v: k for k, v in self.ids.items()}
        out = []
        for record in self.standing.values():
            data = record.get("data") or {}
            links = list(record.get("links") or ())
            if mine not in links:
                continue
            verdict, short = data.get("verdict"), str(record["id"])[-8:]
            other = next((names.get(x) for x in links if x != mine), None)
            versus = "" if other is None else _name(other, self.samples)
            if verdict == "pick" and data.get("choice") == mine:
                out.append(f"✓ picked · {short}")
            elif verdict == "reject":
                out.append(f"✗ rejected · {short}")
            elif verdict == "rating":
                out.append(f"★ {data.get('score')}/5 · {short}")
            elif verdict == "better":
                word = "better" if data.get("choice") == mine else "worse"
                out.append(f"{'▲' if word == 'better' else '▼'} {word} than {versus} · {short}")
            elif verdict == "tie":
                out.append(f"= tie with {versus} · {short}")
            elif verdict == "both-bad":
                out.append(f"✗ both bad (with {versus}) · {short}")
        return out


def _key(verdict: str, links: list[str]) -> tuple[Any, ...] | None:
    """Which earlier verdict a new one replaces.

    One pick per comparison, one rating per answer, one verdict per pair, one reject per answer.
    """
    if verdict == "pick":
        return ("pick",)
    if verdict in ("reject", "rating") and len(links) == 1:
        return (verdict, links[0])
    if verdict in ("better", "tie", "both-bad") and len(links) == 2:
        return ("pair", frozenset(links))
    return None


def _name(answer: Answer, samples: int) -> str:
    label, sample = answer
    return label if samples == 1 else f"{label} #{sample + 1}"
