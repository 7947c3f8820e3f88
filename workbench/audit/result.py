"""An audit run read back from its folder: manifest, result rows, tables, reviews."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from workbench.audit import report
from workbench.audit.store import RESULTS, RunFolder

T = TypeVar("T")
Key = tuple[tuple[str, int, int], ...]

if TYPE_CHECKING:
    import pandas as pd
    from pandas.io.formats.style import Styler

    from workbench.audit.review_panel import ReviewPanel
    from workbench.comparison import Comparison


class AuditRun:
    """One run folder, read back: its manifest, result rows, tables and review decisions."""

    def __init__(self, folder: RunFolder) -> None:
        self.folder = folder
        self._rows: tuple[Key, list[dict[str, Any]]] | None = None
        self._reviews: tuple[Key, dict[str, dict[str, Any]]] | None = None
        # tables the report's cells share, each with the files' state it was made from
        self._tables: dict[str, tuple[Any, Any]] = {}

    @property
    def name(self) -> str:
        """The run folder's name."""
        return self.folder.name

    @property
    def path(self) -> Path:
        """The run folder."""
        return self.folder.path

    @property
    def manifest(self) -> dict[str, Any]:
        """The manifest as it is on disk now."""
        return self.folder.manifest()

    @property
    def status(self) -> str:
        """ready, running, complete, complete-with-errors, stopped-budget or interrupted."""
        return str(self.manifest.get("status"))

    @property
    def rows(self) -> list[dict[str, Any]]:
        """One result row per finished item (read again only when the results file grew)."""
        return self._fresh_rows()[1]

    def _fresh_rows(self) -> tuple[Key, list[dict[str, Any]]]:
        key = _snapshot([self.path / RESULTS])
        if self._rows is None or self._rows[0] != key:
            self._rows = (key, self.folder.rows())
        return self._rows

    def _table(self, name: str, key: Any, make: Callable[[], T]) -> T:
        """`make()`, kept until `key` (the state of the files it is made from) changes."""
        held = self._tables.get(name)
        if held is None or held[0] != key:
            held = (key, make())
            self._tables[name] = held
        return held[1]

    def _rows_table(self, name: str, make: Callable[[list[dict[str, Any]]], T]) -> T:
        """A table made from the result rows alone, made again once results.jsonl changes."""
        key, rows = self._fresh_rows()
        return self._table(name, key, lambda: make(rows))

    def _outcomes(self) -> pd.DataFrame:
        """The outcome table, shared by the cells (callers get copies): rows and reviews."""
        (key, rows), (seen, decided) = self._fresh_rows(), self._fresh_reviews()
        return self._table("outcomes", (key, seen), lambda: _outcomes(rows, decided))

    def outcomes(self) -> pd.DataFrame:
        """Item x outcome and each model's answer, with the human review where there is one."""
        return self._outcomes().copy()

    def answers(self, *, expand: bool = False) -> pd.DataFrame:
        """One row per answer; `expand=True` spreads each value's fields into `data.<field>`."""
        return report.answers(self.rows, expand=expand)

    def per_model(self) -> pd.DataFrame:
        """Accuracy, errors, cost and latency per model."""
        return self._rows_table("per_model", report.per_model).copy()

    def agreement(self) -> pd.DataFrame:
        """Pairwise agreement matrix (`paired()` has each pair's with its interval)."""
        return self._rows_table("agreement", report.agreement).copy()

    def paired(self) -> pd.DataFrame:
        """Every two models on the same items: difference, interval, exact test, sentence.

        The difference in accuracy has its 95% interval (a bootstrap over items); the test
        is McNemar's exact test (a sign-flip permutation test with several samples), its
        p-value also Holm-adjusted over the pairs; each pair's agreement has its interval.
        """
        return report.paired(self.rows)

    def plan(
        self, difference: float | None = None, *, power: float = 0.8, alpha: float = 0.05
    ) -> pd.DataFrame:
        """This run as a pilot: per pair, the items needed to detect `difference` with `power`.

        `difference` (a share: 0.05 is 5 points) defaults to what this run found.
        """
        from workbench.audit.significance import plan

        check_plan(difference, power, alpha)
        return plan(
            self.rows, report.models_of(self.rows), difference=difference, power=power, alpha=alpha
        )

    def judges(self, low: float = 0.6) -> pd.DataFrame:
        """Each judge (and the panel) against the humans' reviews: kappa, confusion, flagged."""
        from workbench.audit.judges import agreement

        return agreement(self.rows, self.reviews(), str(self.manifest.get("scorer")), low=low)

    def confusion(self, judge: str | None = None) -> pd.DataFrame:
        """Humans x one judge (default: the first), PASS and FAIL, over the reviewed answers."""
        from workbench.audit.judges import confusion, human_labels, raters

        names = raters(self.rows, str(self.manifest.get("scorer")))
        chosen = judge or names[0]
        if chosen not in names:
            from workbench.errors import InvalidOption

            raise InvalidOption(f"{self.name} has no judge {chosen!r}: use one of {names}")
        return confusion(self.rows, human_labels(self.rows, self.reviews()), chosen)

    def provenance(self) -> dict[str, Any]:
        """What produced this run (kept in its executed notebook's metadata).

        Models and the versions their providers reported, params, the exercise's hash, the
        prices used, the sessions, the research repo's commit, the workbench version.
        """
        from workbench.audit.provenance import provenance

        return provenance(self.folder)

    def needing_human(self) -> pd.DataFrame:
        """Items a human should look at and has not yet decided."""
        table = self._outcomes()
        return table[table["needs_human"] & table["review"].isna()].copy()

    def styled(self, limit: int | None = 500) -> Styler:
        """The outcome table, coloured by outcome; the first `limit` items."""
        table = self._outcomes()
        return report.styled((table if limit is None else table.head(limit)).copy())

    def plot_png(self) -> bytes:
        """Accuracy, cost and agreement plots as PNG bytes."""
        import io

        stats = self._rows_table("per_model", report.per_model)
        matrix = self._rows_table("agreement", report.agreement)
        buffer = io.BytesIO()
        report.figure(stats, matrix).savefig(buffer, format="png", dpi=80)
        return buffer.getvalue()

    def summary(self) -> str:
        """One line: status, items, outcomes, how many still need a human (and were reviewed)."""
        return report.summary(self.rows, self.manifest, set(self.reviews()))

    def reviews(self) -> dict[str, dict[str, Any]]:
        """Item id -> the latest review decision recorded on it."""
        return self._fresh_reviews()[1]

    def _fresh_reviews(self) -> tuple[Key, dict[str, dict[str, Any]]]:
        from workbench.audit.review import decisions
        from workbench.labbook.book import files

        key = _snapshot(files(self.folder.labbook_root))
        if self._reviews is None or self._reviews[0] != key:
            self._reviews = (key, decisions(self))
        return self._reviews

    def decide(
        self,
        item: str,
        pick: str | None = None,
        reason: str | None = None,
        *,
        source: str | None = None,
    ) -> dict[str, Any]:
        """Record a human verdict on an item: the model whose answer is right, or None.

        The record's source is where it was decided: `source`, or (by default) this notebook
        or command line, as for any record.
        """
        from workbench.audit.review import decide

        return decide(self, item, pick=pick, reason=reason, source=source)

    def review_panel(self) -> ReviewPanel:
        """A notebook panel that walks the items needing a human; each verdict is recorded."""
        from workbench.audit.review_panel import ReviewPanel

        return ReviewPanel(self)

    def compare(self, item: str) -> Comparison:
        """One item's answers side by side (a Comparison read back from the lab notebook)."""
        from workbench.audit.review import side_by_side

        return side_by_side(self, item)

    def __repr__(self) -> str:
        return f"<AuditRun {self.name}: {self.summary()}>"

    def _repr_html_(self) -> str:
        import html

        return f"<p><b>{html.escape(self.summary())}</b></p>" + self.styled(50).to_html()


def check_plan(difference: float | None, power: float, alpha: float) -> None:
    """A one-line InvalidOption unless each is a share strictly between 0 and 1."""
    from workbench.errors import InvalidOption

    for name, value in (("difference", difference), ("power", power), ("alpha", alpha)):
        if value is not None and not 0 < value < 1:
            raise InvalidOption(f"{name} is a share between 0 and 1 (0.05 is 5%), not {value}")


def _snapshot(paths: Sequence[Path]) -> Key:
    """Which files exist, with their sizes and times: a cache key for what is read from them."""
    out = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            continue
        out.append((str(path), st.st_size, st.st_mtime_ns))
    return tuple(out)


def _outcomes(rows: Sequence[dict[str, Any]], decided: dict[str, dict[str, Any]]) -> pd.DataFrame:
    table = report.outcomes(rows)
    table["review"] = [_verdict(decided.get(str(item))) for item in table.index]
    return table


def _verdict(decision: dict[str, Any] | None) -> str | None:
    if decision is None:
        return None
    from workbench.audit.review import model_of

    data = decision.get("data") or {}
    return f"{data.get('verdict')} {model_of(decision) or ''}".strip()
