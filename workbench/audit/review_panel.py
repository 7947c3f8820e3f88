"""A small ipywidgets panel in the audit notebook that walks the items needing a human.

One item at a time: its fields, what was expected, each model's answer; a button per model
("this one is right"), "reject all" and "skip", with an optional reason. Each verdict is a
decision record (see `review.decide`), and the panel moves on to the next item.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from workbench.errors import AuditError

if TYPE_CHECKING:
    from workbench.audit.result import AuditRun


class ReviewPanel:
    """Walks `run`'s undecided items that need a human; `widget` is what the notebook shows."""

    def __init__(self, run: AuditRun) -> None:
        import ipywidgets as w

        self.run = run
        self.todo = [str(item) for item in run.needing_human().index]
        self.position = 0
        self.decided: list[tuple[str, str | None]] = []
        self._rows = {row["item"]: row for row in run.rows}
        self._items = {item.id: item for item in run.folder.items()}
        self.view = w.HTML()
        self.reason = w.Text(placeholder="why (optional)", layout=w.Layout(width="60%"))
        self.buttons = w.HBox()
        self.status = w.HTML()
        self.widget = w.VBox([self.view, self.reason, self.buttons, self.status])
        self._show()

    @property
    def current(self) -> str | None:
        """The item shown, or None when every item is done."""
        return self.todo[self.position] if self.position < len(self.todo) else None

    def _show(self) -> None:
        import ipywidgets as w

        from workbench.audit.report import models_of

        item = self.current
        if item is None:
            self.view.value = "<b>Nothing left to review.</b>"
            self.buttons.children = ()
            self.status.value = html.escape(self.run.summary())
            return
        row = self._rows[item]
        fields = self._items[item].fields if item in self._items else {}
        parts = [f"<b>{self.position + 1}/{len(self.todo)}: item {html.escape(item)}</b> "
                 f"({html.escape(row['outcome'])})"]  # fmt: skip
        parts += [
            f"<div><i>{html.escape(str(k))}</i>: {html.escape(str(v)[:500])}</div>"
            for k, v in fields.items()
        ]
        parts.append(f"<div><i>expected</i>: {html.escape(repr(row['expected']))}</div><ul>")
        for answer in row["answers"]:
            text = answer["text"] or answer["error"] or ""
            parts.append(
                f"<li><b>{html.escape(answer['model'])}</b>: {html.escape(text[:1000])}</li>"
            )
        self.view.value = "".join(parts) + "</ul>"
        buttons = []
        for model in models_of([row]):
            button = w.Button(description=f"✓ {model}", tooltip=f"{model}'s answer is right")
            button.on_click(lambda _b, m=model: self.decide(m))
            buttons.append(button)
        reject = w.Button(description="reject all", button_style="warning")
        reject.on_click(lambda _b: self.decide(None))
        skip = w.Button(description="skip")
        skip.on_click(lambda _b: self.skip())
        self.buttons.children = (*buttons, reject, skip)

    def decide(self, model: str | None) -> dict[str, Any]:
        """Record the verdict on the current item (None: reject every answer); show the next."""
        item = self.current
        if item is None:
            raise AuditError(f"nothing left to review in {self.run.name}", run=self.run.name)
        record = self.run.decide(item, model, self.reason.value.strip() or None)
        self.decided.append((item, model))
        self.status.value = html.escape(f"recorded {record['id']}: {model or 'reject'} on {item}")
        self.reason.value = ""
        self.position += 1
        self._show()
        return record

    def skip(self) -> None:
        """Leave the current item for later."""
        self.position += 1
        self._show()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)
