"""The panel's judging: per column as soon as each answer is recorded, and between columns.

The arena bar between two columns, the keyboard, and the marks that show what stands.

Every verdict goes through the panel's `Ballot`; a click, a key and `panel.pick(...)` take
the same path, and each says in the status line what was recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from workbench.errors import InvalidOption, WorkbenchError
from workbench.widgets.ballot import Ballot, parse_tags
from workbench.widgets.decisions import ArenaBar

if TYPE_CHECKING:
    from workbench.widgets.columns import Column


class Judge:
    """Decisions on the panel's current comparison, from buttons, keys or code."""

    def __init__(self, columns: Callable[[], Sequence[Column]], say: Callable[[str], None]):
        self._columns = columns
        self._say = say
        self.ballot: Ballot | None = None
        self.arena = ArenaBar(self._clicked_versus)
        self.cursor = 0
        """The column the keyboard acts on."""

    # -- the comparison being judged ------------------------------------------------------------

    def start(self, ballot: Ballot | None) -> None:
        """Judge a new comparison (None: nothing to judge yet)."""
        self.ballot = ballot
        names = [c.label for c in self._columns()]
        self.arena.set_columns(names)
        self.cursor = min(self.cursor, max(0, len(names) - 1))
        self.refresh()

    def refresh(self) -> None:
        """Enable what can be judged now and show what stands, column by column."""
        ballot = self.ballot
        for i, column in enumerate(self._columns()):
            bar = column.decisions
            sample = bar.sample.value or 0
            if ballot is None:
                bar.enable(False)
                bar.show([])
            else:
                bar.enable(ballot.recorded(column.label, sample),
                           answered=ballot.judgeable(column.label, sample))  # fmt: skip
                bar.show(ballot.marks(column.label, sample))
            column.current(i == self.cursor)
        self.arena.enable(ballot is not None and self._pair_ready(ballot))

    def _pair_ready(self, ballot: Ballot) -> bool:
        a, b = self.arena.a.value, self.arena.b.value
        return (
            a is not None
            and b is not None
            and a != b
            and ballot.judgeable(a, self._sample(a))
            and ballot.judgeable(b, self._sample(b))
        )

    def _sample(self, label: str) -> int:
        for column in self._columns():
            if column.label == label:
                return int(column.decisions.sample.value or 0)
        return 0

    def _ballot(self) -> Ballot:
        if self.ballot is None:
            raise WorkbenchError("no comparison to decide on: run one first")
        return self.ballot

    # -- verdicts --------------------------------------------------------------------------------

    def decide(
        self, model: str, action: str, text: str | None, tags: Iterable[str] = (), sample: int = 0
    ) -> dict[str, Any]:
        """Record pick / reject / note / "rate N" on `model`'s answer; the record written."""
        ballot = self._ballot()
        tags = parse_tags(tags)
        if action == "pick":
            record = ballot.pick(model, sample, text, tags)
        elif action == "reject":
            record = ballot.reject(model, sample, text, tags)
        elif action == "note":
            record = ballot.note(model, sample, text, tags)
        elif action.startswith("rate ") and action[5:].isdigit():
            record = ballot.rate(model, sample, int(action[5:]), text, tags)
        else:
            raise InvalidOption(f"unknown decision {action!r}: pick, reject, note or rate 1-5")
        self._recorded(record, f"{action} {model}" + self._which(sample))
        return record

    def versus(
        self, verdict: str, a: str | None = None, b: str | None = None, reason: str | None = None
    ) -> dict[str, Any]:
        """Between columns `a` and `b` (default: the arena bar's): "a", "b", "tie", "both-bad"."""
        ballot = self._ballot()
        a = a if a is not None else self.arena.a.value
        b = b if b is not None else self.arena.b.value
        if a is None or b is None:
            raise InvalidOption("choose the two columns to compare (A and B)")
        record = ballot.versus((a, self._sample(a)), (b, self._sample(b)), verdict, reason)
        said = {
            "a": f"{a} better than {b}", "b": f"{b} better than {a}",
            "tie": f"tie: {a} and {b}", "both-bad": f"both bad: {a} and {b}",
        }[verdict]  # fmt: skip
        self._recorded(record, said)
        return record

    def _recorded(self, record: dict[str, Any], what: str) -> None:
        replaced = record.get("data", {}).get("supersedes")
        again = f" (replaces {str(replaced)[-8:]})" if replaced else ""
        self._say(f"recorded {record['id']}: {what}{again}")
        self.refresh()

    def _which(self, sample: int) -> str:
        ballot = self.ballot
        return f" sample {sample + 1}" if ballot is not None and ballot.samples > 1 else ""

    def _clicked_versus(self, verdict: str) -> None:
        try:
            self.versus(verdict)
        except (WorkbenchError, LookupError, ValueError) as e:
            self._say(f"not recorded: {e}")

    def clicked(self, model: str, action: str, text: str, tags: list[str], sample: int) -> None:
        """A column's button: record it, or say in the status line why not."""
        try:
            self.decide(model, action, text, tags, sample)
        except (WorkbenchError, LookupError, ValueError) as e:
            self._say(f"not recorded: {e}")

    # -- keys ------------------------------------------------------------------------------------

    def key(self, key: str) -> None:
        """A shortcut: ←/→ move between columns, p pick, 1-5 rate, a/b/t/x between A and B."""
        columns = self._columns()
        if not columns:
            return
        if key in ("ArrowLeft", "ArrowRight"):
            step = 1 if key == "ArrowRight" else -1
            self.cursor = (self.cursor + step) % len(columns)
            self._say(f"keys act on {columns[self.cursor].label}")
            self.refresh()
            return
        column = columns[min(self.cursor, len(columns) - 1)]
        bar = column.decisions
        if key == "p":
            self.clicked(column.label, "pick", bar.text.value, parse_tags(bar.tags.value),
                         bar.sample.value or 0)  # fmt: skip
        elif key in "12345":
            self.clicked(column.label, f"rate {key}", "", parse_tags(bar.tags.value),
                         bar.sample.value or 0)  # fmt: skip
        elif key in ("a", "b", "t", "x"):
            self._clicked_versus({"a": "a", "b": "b", "t": "tie", "x": "both-bad"}[key])
