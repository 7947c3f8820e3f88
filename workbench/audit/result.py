"""An audit run read back from its folder: manifest, result rows, tables, reviews."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.audit import report
from workbench.audit.store import RESULTS, RunFolder

if TYPE_CHECKING:
    import pandas as pd
    from pandas.io.formats.style import Styler

    from workbench.audit.review_panel import ReviewPanel
    from workbench.comparison import Comparison


class AuditRun:
    """One run folder, read back: its manifest, result rows, tables and review decisions."""

    def __init__(self, folder: RunFolder) -> None:
        self.folder = folder
        self._rows: tuple[Any, list[dict[str, Any]]] | None = None
        self._reviews: tuple[Any, dict[str, dict[str, Any]]] | None = None

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
        key = _snapshot([self.path / RESULTS])
        if self._rows is None or self._rows[0] != key:
            self._rows = (key, self.folder.rows())
        return self._rows[1]

    def outcomes(self) -> pd.DataFrame:
        """Item x outcome and each model's answer, with the human review where there is one."""
        table = report.outcomes(self.rows)
        decided = self.reviews()
        table["review"] = [_verdict(decided.get(str(item))) for item in table.index]
        return table

    def answers(self, *, expand: bool = False) -> pd.DataFrame:
        """One row per answer; `expand=True` spreads each value's fields into `data.<field>`."""
        return report.answers(self.rows, expand=expand)

    def per_model(self) -> pd.DataFrame:
        """Accuracy, errors, cost and latency per model."""
        return report.per_model(self.rows)

    def agreement(self) -> pd.DataFrame:
        """Pairwise agreement matrix."""
        return report.agreement(self.rows)

    def needing_human(self) -> pd.DataFrame:
        """Items a human should look at and has not yet decided."""
        table = self.outcomes()
        return table[table["needs_human"] & table["review"].isna()]

    def styled(self, limit: int | None = 500) -> Styler:
        """The outcome table, coloured by outcome; the first `limit` items."""
        table = self.outcomes()
        return report.styled(table if limit is None else table.head(limit))

    def plot_png(self) -> bytes:
        """Accuracy, cost and agreement plots as PNG bytes."""
        import io

        buffer = io.BytesIO()
        report.plot(self.rows).savefig(buffer, format="png", dpi=80)
        return buffer.getvalue()

    def summary(self) -> str:
        """One line: status, items, outcomes, how many still need a human (and were reviewed)."""
        return report.summary(self.rows, self.manifest, set(self.reviews()))

    def reviews(self) -> dict[str, dict[str, Any]]:
        """Item id -> the latest review decision recorded on it."""
        from workbench.audit.review import decisions
        from workbench.labbook.book import files

        key = _snapshot(files(self.folder.labbook_root))
        if self._reviews is None or self._reviews[0] != key:
            self._reviews = (key, decisions(self))
        return self._reviews[1]

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


def _snapshot(paths: Sequence[Path]) -> tuple[tuple[str, int, int], ...]:
    """Which files exist, with their sizes and times: a cache key for what is read from them."""
    out = []
    for path in paths:
        try:
            st = path.stat()
        except OSError:
            continue
        out.append((str(path), st.st_size, st.st_mtime_ns))
    return tuple(out)


def _verdict(decision: dict[str, Any] | None) -> str | None:
    if decision is None:
        return None
    from workbench.audit.review import model_of

    data = decision.get("data") or {}
    return f"{data.get('verdict')} {model_of(decision) or ''}".strip()
