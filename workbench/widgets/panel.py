"""The side-by-side panel: one prompt to several models, answers streaming into columns.

    import workbench as wb
    panel = wb.panel(models=["local", "terse"], temperature=0)
    panel                       # type, pick models, Run; Stop cancels; pick / reject / note

From code (and in papermill runs, where nobody clicks): `panel.run("prompt")`,
`panel.wait()`, `panel.pick("local")`, `panel.reject("terse", "too short")`,
`panel.static()`. Runs happen on a background event loop, so the kernel stays free while
answers stream in; columns are redrawn at most every 50 ms by setting widget traits.

Contract with the browser test (tests/browser/), keep exactly:

- the root widget (`panel.box`) has CSS class `wb-panel`;
- the prompt Textarea has `wb-prompt`; the Run button `wb-run` (description "Run"); the
  Stop button `wb-stop`;
- each model column has `wb-column` and `wb-column-<i>` (i from 0, in model order); in it,
  the answer HTML has `wb-answer` and its figures line `wb-stats`;
- each column has a pick button `wb-pick` (description "pick") and a reject button
  `wb-reject`;
- a status label `wb-status` whose text contains "recorded" after a decision is recorded.

Where widgets cannot render (GitHub, a papermill output notebook) the panel's display also
carries text/html: a static snapshot of its state (`workbench.widgets.static`).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from workbench.errors import WorkbenchError
from workbench.widgets.columns import Column
from workbench.widgets.controls import Controls
from workbench.widgets.decisions import DecisionBar, parse_tags, record
from workbench.widgets.diff import DiffView
from workbench.widgets.history import Earlier, HistoryView
from workbench.widgets.live import LiveRun, live_loop
from workbench.widgets.markup import css, verbatim
from workbench.widgets.static import panel_html

if TYPE_CHECKING:
    from pathlib import Path

    from workbench.comparison import Comparison
    from workbench.sessions import Session


class Panel:
    """Prompt box, model picker and parameters above one column per model, with decisions."""

    def __init__(
        self, session: Session, models: Sequence[str] | None = None, **params: Any
    ) -> None:
        """Build the widgets; `params` (temperature, max_tokens, samples, system...) preset them."""
        import ipywidgets as w

        self.session = session
        chosen = list(models) if models else session.default_models()
        self.controls = Controls(session.config, chosen, dict(params))
        self.run_button = w.Button(description="Run", button_style="primary", icon="play")
        self.run_button.add_class("wb-run")
        self.run_button.on_click(lambda _b: self._clicked_run())
        self.stop_button = w.Button(description="Stop", icon="stop", disabled=True)
        self.stop_button.add_class("wb-stop")
        self.stop_button.on_click(lambda _b: self.stop())
        # HTML, not Label: a Label typesets "$1 ... $2" as LaTeX in the browser.
        self.status = w.HTML("")
        self.status.add_class("wb-status")
        self.status_text = ""
        """What the status line says, as plain text."""
        self.spend = w.HTML("")
        self.spend.add_class("wb-spend")
        self.spend_text = ""
        self.columns_box = w.HBox([], layout=w.Layout(width="100%"))
        self.columns_box.add_class("wb-columns")
        self.diff = DiffView()
        self.history = HistoryView(self._labbook_root, self.load, session.config)
        extras = w.Accordion(children=[self.diff.box, self.history.box])
        extras.set_title(0, "compare two answers")
        extras.set_title(1, "history")
        c = self.controls
        top = w.HBox(
            [w.VBox([c.prompt, c.system], layout=w.Layout(flex="1 1 auto")), c.models, c.params_box]
        )
        buttons = w.HBox([self.run_button, self.stop_button, self.status])
        self.follow_text = w.Text(
            placeholder="follow up: each model continues its own conversation…",
            layout=w.Layout(flex="1 1 auto"),
            disabled=True,
        )
        self.follow_text.add_class("wb-follow-text")
        self.follow_button = w.Button(description="Follow up", icon="reply", disabled=True)
        self.follow_button.add_class("wb-follow")
        self.follow_button.on_click(lambda _b: self._clicked_follow_up())
        follow = w.HBox([self.follow_text, self.follow_button], layout=w.Layout(width="100%"))
        self.box: Any = w.VBox(
            [w.HTML(css()), top, buttons, self.columns_box, follow, self.spend, extras]
        )
        self.box.add_class("wb-panel")
        self.columns: list[Column] = []
        self.live: LiveRun | None = None
        self.comparison: Comparison | None = None
        self._show_columns(list(c.models.value))
        self._show_spend()
        self.history.refresh()
        # SDK imports and clients are made now, in the background, not on the first Run.
        self.warming = session.warm(list(c.models.value), on=live_loop())
        c.models.observe(lambda change: session.warm(list(change["new"]), on=live_loop()), "value")

    def _say(self, text: str) -> None:
        """Show `text` in the status line (safe from the loop thread: sets a trait)."""
        self.status_text = text
        self.status.value = verbatim(html.escape(text, quote=False))

    # -- running ---------------------------------------------------------------------------

    def run(self, prompt: str | None = None) -> LiveRun:
        """Send the prompt (or what is in the box) to the chosen models, in the background."""
        if self.live is not None and self.live.running:
            raise WorkbenchError("a comparison is already running: wait for it or press Stop")
        if prompt is not None:
            self.controls.prompt.value = prompt
        text, models, options = self.controls.request()
        live = LiveRun(self.session, text, models, on_change=self._redraw, **options)
        self.live, self.comparison = live, None
        self._show_columns(live.labels, live)
        self.run_button.disabled, self.stop_button.disabled = True, False
        self._say(f"running on {', '.join(live.labels)}…")
        return live.start(then=self._done)

    def follow_up(self, text: str | None = None) -> LiveRun:
        """Continue each model's own conversation with `text` (or what is in the follow-up box)."""
        if self.live is not None and self.live.running:
            raise WorkbenchError("a comparison is already running: wait for it or press Stop")
        if self.comparison is None:
            raise WorkbenchError("nothing to follow up yet: Run a prompt first")
        text = self.follow_text.value if text is None else text
        options: dict[str, Any] = {}
        attached = self.controls.attached()
        if attached:
            options["files"] = attached
        live = LiveRun(
            self.session, text, [], after=self.comparison, on_change=self._redraw, **options
        )
        self.live, self.comparison = live, None
        self._show_columns(live.labels, live)
        self.run_button.disabled, self.stop_button.disabled = True, False
        self.follow_button.disabled = self.follow_text.disabled = True
        self._say(f"following up on {', '.join(live.labels)}…")
        return live.start(then=self._done)

    def _clicked_follow_up(self) -> None:
        try:
            self.follow_up()
            self.follow_text.value = ""
        except WorkbenchError as e:
            self._say(str(e))

    def stop(self) -> None:
        """Cancel the calls in flight; what streamed so far stays, marked Cancelled."""
        if self.live is not None and self.live.running:
            self._say("stopping…")
            self.live.stop()

    def wait(self, timeout: float | None = None) -> Comparison:
        """Block until the current run is done and shown; its Comparison."""
        if self.live is None:
            raise WorkbenchError("nothing is running: call panel.run('a prompt') first")
        return self.live.wait(timeout)

    def _clicked_run(self) -> None:
        try:
            self.run()
        except WorkbenchError as e:  # bad input: one line in the status, nothing sent
            self._say(str(e))

    def _redraw(self, labels: set[str]) -> None:
        if self.live is None:
            return
        for column in self.columns:
            if column.label in labels:
                column.show(self.live.columns[column.label])
        self._show_spend()

    def _done(self, live: LiveRun) -> None:
        """On the loop thread, once the run is over: enable decisions, say what happened."""
        self.run_button.disabled, self.stop_button.disabled = False, True
        self._redraw(set(live.columns))
        if live.error is not None:
            self._say(f"failed: {live.error}")
            return
        cmp = live.comparison
        assert cmp is not None
        self.comparison = cmp
        answered = any(r.ok for r in cmp)
        self.follow_button.disabled = self.follow_text.disabled = not answered
        recorded = cmp.labbook is not None and bool(cmp.record_ids) and all(cmp.record_ids)
        for column in self.columns:
            column.decisions.enable(recorded, answered=cmp.reply(column.label).ok)
        errors = len(cmp.errors)
        ids = sum(1 for r in cmp.record_ids if r)
        self._say(
            f"done in {live.elapsed_s or 0:.1f} s · {errors} error(s) · {ids} call(s) recorded"
        )
        self.diff.show(cmp)
        self.history.refresh()

    # -- decisions -------------------------------------------------------------------------

    def pick(
        self, model: str, reason: str | None = None, tags: Iterable[str] = (), sample: int = 0
    ) -> str:
        """Record `model`'s answer (its `sample`-th, from 0) as the best; the record id."""
        return self.decide(model, "pick", reason, tags, sample)

    def reject(self, model: str, reason: str, tags: Iterable[str] = (), sample: int = 0) -> str:
        """Record `model`'s answer as wrong or unwanted, and why."""
        return self.decide(model, "reject", reason, tags, sample)

    def note(self, model: str, text: str, tags: Iterable[str] = (), sample: int = 0) -> str:
        """Record a note (and tags) about `model`'s answer."""
        return self.decide(model, "note", text, tags, sample)

    def decide(
        self,
        model: str,
        action: str,
        text: str | None,
        tags: Iterable[str] = (),
        sample: int = 0,
    ) -> str:
        """Record a decision on the last comparison; the status line shows its id."""
        if self.comparison is None:
            raise WorkbenchError("no finished comparison to decide on: run one first")
        rec = record(self.comparison, model, action, text, parse_tags(tags), sample)
        which = f" sample {sample + 1}" if self.comparison.samples > 1 else ""
        self._say(f"recorded {rec['id']}: {action} {model}{which}")
        done = {"pick": "✓ picked", "reject": "✗ rejected", "note": "✎ noted"}[action]
        for column in self.columns:
            if column.label == model:
                column.decisions.show(f"{done}{which} · {rec['id'][-8:]}")
        return str(rec["id"])

    def _clicked_decision(
        self, model: str, action: str, text: str, tags: list[str], sample: int
    ) -> None:
        try:
            self.decide(model, action, text, tags, sample)
        except (WorkbenchError, LookupError, ValueError) as e:
            self._say(f"not recorded: {e}")

    # -- history ---------------------------------------------------------------------------

    def load(self, earlier: Earlier) -> None:
        """Put an earlier prompt (and its system prompt and models) back into the controls."""
        self.controls.load(earlier.prompt, earlier.system, earlier.models)
        self._say(f"loaded a prompt from {earlier.ts[:19]}: edit it or press Run")

    def _labbook_root(self) -> Path | None:
        book = self.session.labbook
        return book.root if book is not None else None

    # -- views -----------------------------------------------------------------------------

    def _show_columns(self, labels: list[str], live: LiveRun | None = None) -> None:
        """One column per model (rebuilt when the models change)."""
        if [c.label for c in self.columns] != labels:
            self.columns = []
            for i, label in enumerate(labels):
                resolved = live.columns[label].resolved if live else self._resolved(label)
                bar = DecisionBar(label, self._clicked_decision)
                self.columns.append(Column(i, label, resolved, bar))
            self.columns_box.children = [c.box for c in self.columns]
        for column in self.columns:
            column.decisions.enable(False)
            column.decisions.show("")
            if live is not None:
                column.decisions.set_samples(live.columns[column.label].samples)
                column.show(live.columns[column.label])

    def _resolved(self, name: str) -> str:
        from workbench.errors import ConfigError
        from workbench.providers.registry import resolve

        try:
            return resolve(name, self.session.config).full_name
        except ConfigError:
            return name

    def _show_spend(self) -> None:
        budget = self.session.budget
        left = "no cap" if budget.left_usd is None else f"${budget.left_usd:.4f} left"
        run = ""
        if self.live is not None and self.live.comparison is not None:
            run = f" · last run {self.live.comparison.cost_text}"
        self.spend_text = f"session spend {budget.spent_text} · budget: {left}{run}"
        self.spend.value = verbatim(html.escape(self.spend_text, quote=False))

    def static_html(self) -> str:
        """The panel's current state as plain HTML."""
        c = self.controls
        return panel_html(
            prompt=c.prompt.value,
            system=c.system.value or None,
            models=list(self.live.labels if self.live else c.models.value),
            columns=self.live.snapshot() if self.live else [],
            status=self.status_text,
            spend=self.spend_text,
        )

    def static(self) -> Any:
        """A display object of the current state as HTML (for outputs that must stay readable)."""
        from IPython.display import HTML

        return HTML(self.static_html())  # type: ignore[no-untyped-call]

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle: dict[str, Any] = dict(self.box._repr_mimebundle_(**kwargs) or {})
        bundle["text/html"] = self.static_html()
        bundle["text/plain"] = repr(self)
        return bundle

    def __repr__(self) -> str:
        models = ", ".join(self.live.labels if self.live else self.controls.models.value)
        return f"<workbench panel: {models}; {self.status_text or 'not run yet'}>"

    def close(self) -> None:
        """Stop anything running and close the widgets."""
        self.stop()
        _close(self.box)


def _close(widget: Any) -> None:
    for child in getattr(widget, "children", ()):
        _close(child)
    widget.close()


def panel(
    models: Sequence[str] | None = None, *, session: Session | None = None, **params: Any
) -> Panel:
    """A side-by-side panel for `models` (default: the session's default models)."""
    from workbench.sessions import session as current

    return Panel(session or current(), models, **params)


__all__ = ["Panel", "panel"]
