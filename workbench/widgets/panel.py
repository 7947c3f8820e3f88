"""The side-by-side panel: one prompt to several models, answers streaming into columns.

    import workbench as wb
    panel = wb.panel(models=["local", "terse"], temperature=0)
    panel                       # type, click models, Run; Stop cancels; judge as answers come

From code (and in papermill runs, where nobody clicks): `panel.run("prompt")`,
`panel.wait()`, `panel.pick("local")`, `panel.reject("terse", "too short")`,
`panel.rate("local", 4)`, `panel.versus("b", "local", "terse")`, `panel.static()`. Runs
happen on a background event loop, so the kernel stays free while answers stream in;
columns are redrawn at most every 50 ms by setting widget traits. Each column can be judged
as soon as its answer is recorded, while other models still run; a new pick replaces the
old one (`supersedes`), on screen and in the lab notebook. The history brings an earlier
comparison back whole, from the lab notebook, without sending anything.

Contract with the browser tests (tests/browser/), keep exactly (the widgets are built in
`panel_view.py`; this module holds the actions):

- the root widget (`panel.box`) has CSS class `wb-panel`;
- the prompt Textarea has `wb-prompt`; the Run button `wb-run` (description "Run"); the
  Stop button `wb-stop`; the model chips `wb-chip` (inside `wb-models`);
- each model column has `wb-column` and `wb-column-<i>` (i from 0, in model order); in it,
  the answer HTML has `wb-answer` and its figures line `wb-stats`;
- each column has a pick button `wb-pick` (description "pick"), a reject button
  `wb-reject`, rating buttons `wb-rate-1` .. `wb-rate-5`, and `wb-decided` saying what
  stands ("✓ picked · <id>");
- the arena bar `wb-arena` has `wb-better-a`, `wb-better-b`, `wb-tie`, `wb-both-bad`;
- a status label `wb-status` whose text contains "recorded" after a decision is recorded;
- the history's picker `wb-history` and its button `wb-load`; a comparison brought back
  shows `wb-recalled` (saying "recorded") with the button `wb-rerun`; the summary `wb-summary`.

Where widgets cannot render (GitHub, a papermill output notebook) the panel's display also
carries text/html: a static snapshot of its state (`workbench.widgets.static`).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from workbench.errors import WorkbenchError
from workbench.render import summary_html
from workbench.widgets.ballot import Ballot
from workbench.widgets.controls import Controls
from workbench.widgets.history import Earlier, Recalled, recall
from workbench.widgets.live import LiveRun, live_loop
from workbench.widgets.markup import verbatim
from workbench.widgets.panel_view import PanelView, by_model, close_all, column_states
from workbench.widgets.static import panel_html

if TYPE_CHECKING:
    from workbench.comparison import Comparison
    from workbench.sessions import Session


class Panel(PanelView):
    """Prompt box, model picker and parameters above one column per model, with decisions."""

    def __init__(
        self, session: Session, models: Sequence[str] | None = None, **params: Any
    ) -> None:
        """Build the widgets; `params` (temperature, max_tokens, samples, system...) preset them."""
        chosen = list(models) if models else session.default_models()
        super().__init__(session, Controls(session.config, chosen, dict(params)), self.load)
        c = self.controls
        self.run_button.on_click(lambda _b: self._clicked_run())
        self.stop_button.on_click(lambda _b: self.stop())
        self.rerun_button.on_click(lambda _b: self._clicked(self.rerun))
        self.follow_button.on_click(lambda _b: self._clicked_follow_up())
        self.comparison: Comparison | None = None
        self.recalled: Recalled | None = None
        self._stopped = False
        self._show_columns(list(c.models.value))
        self._show_spend()
        self.history.refresh()
        # SDK imports and clients are made now, in the background, not on the first Run.
        self.warming = session.warm(list(c.models.value), on=live_loop())
        c.models.observe(lambda change: session.warm(list(change["new"]), on=live_loop()), "value")

    def _clicked(self, action: Any) -> None:
        try:
            action()
        except WorkbenchError as e:  # bad input: one line in the status, nothing sent
            self._say(str(e))

    # -- running ---------------------------------------------------------------------------

    def run(self, prompt: str | None = None) -> LiveRun:
        """Send the prompt (or what is in the box) to the chosen models, in the background."""
        if prompt is not None:
            self.controls.prompt.value = prompt
        text, models, options = self.controls.request()
        return self._start(LiveRun(self.session, text, models, on_change=self._redraw, **options))

    def follow_up(self, text: str | None = None) -> LiveRun:
        """Continue each model's own conversation with `text` (or what is in the follow-up box)."""
        if self.comparison is None:
            raise WorkbenchError("nothing to follow up yet: Run a prompt first")
        text = self.follow_text.value if text is None else text
        options: dict[str, Any] = {}
        attached = self.controls.attached()
        if attached:
            options["files"] = attached
        after = self.comparison
        live = LiveRun(self.session, text, [], after=after, on_change=self._redraw, **options)
        return self._start(live, "following up on")

    def rerun(self) -> LiveRun:
        """Send the comparison brought back from the history again, to the same models."""
        if self.recalled is None:
            raise WorkbenchError("nothing brought back from the history to rerun")
        earlier, comparison = self.recalled.earlier, self.recalled.comparison
        if earlier.turns > 1:  # a follow-up: the recorded conversation, continued again
            from workbench.recorded import recorded_comparison

            parents = [j.parent for j in comparison.jobs if j.parent]
            self.comparison = recorded_comparison(self.session, parents)
            return self.follow_up(earlier.prompt)
        self.controls.load(earlier.prompt, earlier.system, earlier.models)
        text, models, options = self.controls.request()
        files = comparison.jobs[0].prompt.files
        if files:
            options["files"] = [*options.get("files", ()), *files]
        return self._start(LiveRun(self.session, text, models, on_change=self._redraw, **options))

    def _start(self, live: LiveRun, doing: str = "running on") -> LiveRun:
        if self.live is not None and self.live.running:
            raise WorkbenchError("a comparison is already running: wait for it or press Stop")
        self.live, self.comparison, self.recalled, self._stopped = live, None, None, False
        self.recalled_bar.layout.display = "none"
        self.summary.value = ""
        self._show_columns(live.labels, live)
        self.judge.start(Ballot(self.session.labbook, live.labels, live.samples))
        self.run_button.disabled, self.stop_button.disabled = True, False
        self.follow_button.disabled = self.follow_text.disabled = True
        self._say(f"{doing} {', '.join(live.labels)}…")
        return live.start(then=self._done)

    def _clicked_run(self) -> None:
        self._clicked(self.run)

    def _clicked_follow_up(self) -> None:
        try:
            self.follow_up()
            self.follow_text.value = ""
        except WorkbenchError as e:
            self._say(str(e))

    def stop(self) -> None:
        """Cancel the calls in flight; what streamed so far stays, marked Cancelled."""
        live = self.live
        if live is not None and live.running:
            self._stopped = True
            # said from the loop, so it can never come after the run's own last word
            live_loop().loop.call_soon_threadsafe(self._stopping, live)
            live.stop()

    def _stopping(self, live: LiveRun) -> None:
        if live.running:
            self._say("stopping…")

    def wait(self, timeout: float | None = None) -> Comparison:
        """Block until the current run is done and shown; its Comparison."""
        if self.live is None:
            raise WorkbenchError("nothing is running: call panel.run('a prompt') first")
        return self.live.wait(timeout)

    def _redraw(self, labels: set[str]) -> None:
        live = self.live
        if live is None:
            return
        ballot = self.judge.ballot
        for column in self.columns:
            if column.label in labels:
                state = live.columns[column.label]
                column.show(state)
                for sample, (rid, reply) in enumerate(
                    zip(state.record_ids, state.replies, strict=True)
                ):
                    if ballot is not None and rid is not None and reply is not None:
                        ballot.answer(column.label, sample, rid, reply.ok)
        self.judge.refresh()
        self._show_spend()

    def _done(self, live: LiveRun) -> None:
        """On the loop thread, once the run is over: say what happened, offer what follows."""
        self.run_button.disabled, self.stop_button.disabled = False, True
        self._redraw(set(live.columns))
        if live.error is not None:
            self._say(f"failed: {live.error}")
            return
        cmp = live.comparison
        assert cmp is not None
        self._finished(cmp)
        errors, ids = len(cmp.errors), sum(1 for r in cmp.record_ids if r)
        took = f"{live.elapsed_s or 0:.1f} s"
        # a decision recorded while slower models ran stays said after the run's summary
        judged = f" · {self.status_text}" if self.status_text.startswith("recorded ") else ""
        if self._stopped:
            cancelled = sum(1 for r in cmp if r.error is not None and r.error.type == "Cancelled")
            answered = sum(1 for r in cmp if r.ok)
            self._say(f"stopped after {took} · {answered} answered · {cancelled} cancelled "
                      f"· {ids} call(s) recorded{judged}")  # fmt: skip
        else:
            self._say(f"done in {took} · {errors} error(s) · {ids} call(s) recorded{judged}")
        self.history.refresh()

    def _finished(self, cmp: Comparison) -> None:
        """A comparison to show as finished (run now, or brought back): decisions, summary."""
        self.comparison = cmp
        ballot = self.judge.ballot
        if ballot is not None:
            for job, reply, rid in zip(cmp.jobs, cmp.replies, cmp.record_ids, strict=True):
                if job.prompt_index == 0:
                    ballot.answer(job.spec.label, job.sample, rid, reply.ok)
        self.judge.refresh()
        answered = any(r.ok for r in cmp)
        self.follow_button.disabled = self.follow_text.disabled = not answered
        self.summary.value = verbatim(summary_html(by_model(cmp)))
        self.diff.show(cmp)

    # -- decisions -------------------------------------------------------------------------

    def pick(
        self, model: str, reason: str | None = None, tags: Iterable[str] = (), sample: int = 0
    ) -> str:
        """Record `model`'s answer (its `sample`-th, from 0) as the best; the record id.

        It replaces this comparison's earlier pick (the new record `supersedes` it).
        """
        return self.decide(model, "pick", reason, tags, sample)

    def reject(self, model: str, reason: str, tags: Iterable[str] = (), sample: int = 0) -> str:
        """Record `model`'s answer as wrong or unwanted, and why."""
        return self.decide(model, "reject", reason, tags, sample)

    def note(self, model: str, text: str, tags: Iterable[str] = (), sample: int = 0) -> str:
        """Record a note (and tags) about `model`'s answer."""
        return self.decide(model, "note", text, tags, sample)

    def rate(self, model: str, score: int, reason: str | None = None, sample: int = 0) -> str:
        """Rate `model`'s answer from 1 to 5 (it replaces the answer's earlier rating)."""
        return self.decide(model, f"rate {score}", reason, (), sample)

    def versus(self, verdict: str, a: str, b: str, reason: str | None = None) -> str:
        """Between the answers of `a` and `b`: "a" or "b" is better, "tie", or "both-bad"."""
        return str(self.judge.versus(verdict, a, b, reason)["id"])

    def decide(
        self,
        model: str,
        action: str,
        text: str | None,
        tags: Iterable[str] = (),
        sample: int = 0,
    ) -> str:
        """Record a decision (pick, reject, note, "rate N"); the status line shows its id."""
        return str(self.judge.decide(model, action, text, tags, sample)["id"])

    # -- history ---------------------------------------------------------------------------

    def load(self, earlier: Earlier) -> None:
        """Bring an earlier comparison back from the lab notebook, marked as recorded.

        Its prompt, models, answers, figures, decisions and conversation; nothing is sent.
        """
        if self.live is not None and self.live.running:
            raise WorkbenchError("a comparison is running: wait for it or press Stop")
        found = recall(self.session, earlier)
        cmp = found.comparison
        self.controls.load(earlier.prompt, earlier.system, earlier.models)
        self.live = None
        states = column_states(cmp)
        self._show_columns(list(cmp.models), states=states)
        ballot = Ballot(self.session.labbook, list(cmp.models), cmp.samples)
        for job, reply, rid in zip(cmp.jobs, cmp.replies, cmp.record_ids, strict=True):
            ballot.answer(job.spec.label, job.sample, rid, reply.ok)
        ballot.adopt(found.decisions)
        self.judge.start(ballot)
        when = earlier.ts[:16].replace("T", " ")
        for column in self.columns:
            column.mark_recorded(when)
        self._thread(cmp)
        self._finished(cmp)
        self.recalled = found
        self.recalled_text.value = verbatim(
            f"<b>recorded</b> {html.escape(when)} · answers from the lab notebook, nothing was sent"
        )
        self.recalled_bar.layout.display = None
        self._say(f"brought back the comparison of {when}: {len(cmp)} recorded answer(s)")

    # -- static view -----------------------------------------------------------------------

    def static_html(self) -> str:
        """The panel's current state as plain HTML."""
        c = self.controls
        if self.live is not None:
            columns, models = self.live.snapshot(), list(self.live.labels)
        elif self.recalled is not None:
            columns = list(column_states(self.recalled.comparison).values())
            models = list(self.recalled.comparison.models)
        else:
            columns, models = [], list(c.models.value)
        cmp = self.comparison
        return panel_html(
            prompt=c.prompt.value,
            system=c.system.value or None,
            models=models,
            columns=columns,
            status=self.status_text,
            spend=self.spend_text,
            summary=summary_html(by_model(cmp)) if cmp is not None else "",
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
        close_all(self.box)


def panel(
    models: Sequence[str] | None = None, *, session: Session | None = None, **params: Any
) -> Panel:
    """A side-by-side panel for `models` (default: the session's default models)."""
    from workbench.sessions import session as current

    return Panel(session or current(), models, **params)


__all__ = ["Panel", "panel"]
