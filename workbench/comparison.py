"""A Comparison: the replies of several models to one or more prompts, as tables and views."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Unpack

from workbench.errors import NotRecorded
from workbench.providers.base import Prompt, Reply
from workbench.run import Job

if TYPE_CHECKING:
    import pandas as pd

    from workbench.labbook import LabBook
    from workbench.options import CompareOptions
    from workbench.sessions import Session

FRAME_COLUMNS = [
    "prompt_index", "prompt", "model", "resolved", "sample", "text", "ok", "error_type",
    "error", "input_tokens", "output_tokens", "reasoning_tokens", "cached_input_tokens",
    "cache_write_tokens", "usage_source", "cost_usd", "latency_s", "first_token_s", "queued_s",
    "wall_s", "finish_reason", "model_version", "attempts", "started_at", "system", "params",
    "files", "data", "thinking", "parent",
]  # fmt: skip
_COUNTS = ("input_tokens", "output_tokens", "reasoning_tokens", "cached_input_tokens",
           "cache_write_tokens", "attempts")  # fmt: skip


@dataclass(frozen=True)
class Comparison:
    """Every job of a run with its reply, in prompt, model, sample order."""

    prompts: tuple[Prompt, ...]
    models: tuple[str, ...]
    samples: int
    jobs: tuple[Job, ...]
    replies: tuple[Reply, ...]
    record_ids: tuple[str | None, ...] = ()
    """The lab notebook record of each reply (None where recording was paused)."""
    labbook: LabBook | None = field(default=None, compare=False, repr=False)
    session: Session | None = field(default=None, compare=False, repr=False)
    """The session that ran it (follow-ups continue there)."""

    def __iter__(self) -> Iterator[Reply]:
        return iter(self.replies)

    def __len__(self) -> int:
        return len(self.replies)

    def __getitem__(self, model: str) -> Reply:
        """The first prompt's first reply from `model` (as labelled: "gpt", "terse", ...)."""
        return self.reply(model)

    def reply(self, model: str, prompt: int = 0, sample: int = 0) -> Reply:
        """One reply, by model label, prompt index and sample index."""
        return self.replies[self._index(model, prompt, sample)]

    def _index(self, model: str, prompt: int, sample: int) -> int:
        if model not in self.models:
            raise KeyError(f"{model!r} is not in this comparison: {', '.join(self.models)}")
        m = self.models.index(model)
        return (prompt * len(self.models) + m) * self.samples + sample

    def record_id(self, model: str, prompt: int = 0, sample: int = 0) -> str:
        """The lab notebook id of one reply's record."""
        index = self._index(model, prompt, sample)
        record = self.record_ids[index] if index < len(self.record_ids) else None
        if record is None:
            raise NotRecorded(
                f"the reply of {model!r} was not recorded (recording was paused): "
                "decisions need a recorded answer"
            )
        return record

    def pick(
        self,
        model: str,
        reason: str | None = None,
        *,
        prompt: int = 0,
        sample: int = 0,
        tags: Iterable[str] = (),
    ) -> dict[str, Any]:
        """Record that `model`'s answer (its `sample`-th) is the best of a prompt's answers."""
        book = self._book()
        judged = [self.record_id(m, prompt, s) for m in self.models for s in range(self.samples)]
        choice = self.record_id(model, prompt, sample)
        record = book.decide("pick", judged, choice=choice, reason=reason, tags=tags)
        book.commit(f"decision: pick {model}" + (f" sample {sample + 1}" if sample else ""))
        return record

    def reject(
        self, model: str, reason: str, *, prompt: int = 0, sample: int = 0, tags: Iterable[str] = ()
    ) -> dict[str, Any]:
        """Record that `model`'s answer is wrong or unwanted, and why ("no, not that")."""
        book = self._book()
        judged = self.record_id(model, prompt, sample)
        record = book.decide("reject", [judged], choice=judged, reason=reason, tags=tags)
        book.commit(f"decision: reject {model}")
        return record

    def note(self, text: str, *, tags: Iterable[str] = ()) -> dict[str, Any]:
        """Record a free note about this whole comparison."""
        book = self._book()
        record = book.note(text, on=[r for r in self.record_ids if r], tags=tags)
        book.commit("note")
        return record

    def _book(self) -> LabBook:
        if self.labbook is None:
            raise NotRecorded(
                "this comparison was not recorded (the session was opened with labbook=False)"
            )
        return self.labbook

    def follow_up(self, text: str, **options: Unpack[CompareOptions]) -> Comparison:
        """Continue each model's own conversation with `text`, side by side (see `afollow_up`)."""
        return self._session().follow_up(self, text, **options)

    async def afollow_up(self, text: str, **options: Unpack[CompareOptions]) -> Comparison:
        """`follow_up` for async code: each model gets its own earlier answer, then `text`."""
        return await self._session().afollow_up(self, text, **options)

    def _session(self) -> Session:
        if self.session is None:
            from workbench.sessions import session

            return session()
        return self.session

    def pairs(self) -> Iterator[tuple[Job, Reply]]:
        """Each job with its reply."""
        return zip(self.jobs, self.replies, strict=True)

    @property
    def cost_usd(self) -> float:
        """The sum of the costs that are known; see `cost_unknown` for the replies left out."""
        return sum(r.cost_usd for r in self.replies if r.cost_usd is not None)

    @property
    def cost_unknown(self) -> int:
        """How many replies have no known cost (no price, or usage not reported)."""
        return sum(r.cost_usd is None for r in self.replies)

    @property
    def cost_text(self) -> str:
        """The total as a researcher should read it: it says when it is partial."""
        from workbench.render import total_cost_text

        return total_cost_text(self.cost_usd, self.cost_unknown)

    @property
    def errors(self) -> list[Reply]:
        """The replies that failed."""
        return [r for r in self.replies if not r.ok]

    def to_frame(self, expand: bool = False) -> pd.DataFrame:
        """One row per reply: tokens, cost, latency, errors; categories for model names.

        With `expand=True`, a structured answer's fields become columns of their own
        (`data.title`, `data.year`, nested ones as `data.author.name`), so extractions compare
        cell by cell across models; replies without a value have <NA> there.
        """
        import pandas as pd

        rows = [_row(job, reply) for job, reply in self.pairs()]
        frame = pd.DataFrame(rows, columns=FRAME_COLUMNS)
        frame["model"] = pd.Categorical(frame["model"], categories=list(self.models))
        frame["started_at"] = pd.to_datetime(frame["started_at"], utc=True)
        for col in _COUNTS:
            frame[col] = frame[col].astype("Int64")
        for col in ("cost_usd", "latency_s", "first_token_s", "queued_s", "wall_s"):
            frame[col] = frame[col].astype("Float64")
        if expand:
            frame = _expanded(frame)
        return frame

    def pivot(self, values: str = "text") -> pd.DataFrame:
        """Prompts down, models across; `values` is any column of `to_frame()`."""
        frame = self.to_frame()
        frame = frame[frame["sample"] == 0]
        table = frame.pivot(index="prompt", columns="model", values=values)
        table = table.reindex(index=[p.text for p in self.prompts], columns=list(self.models))
        table.columns.name = "model"
        return table

    def _repr_html_(self) -> str:
        from workbench.render import comparison_html

        return comparison_html(self)

    def __repr__(self) -> str:
        parts = ", ".join(
            f"{r.model}: {'ok' if r.ok else r.error.type if r.error else '?'}" for r in self.replies
        )
        return f"<Comparison {len(self.prompts)} prompt(s) x {len(self.models)} model(s): {parts}>"


def _row(job: Job, reply: Reply) -> dict[str, Any]:
    return {
        "prompt_index": job.prompt_index,
        "prompt": job.prompt.text,
        "model": reply.model,
        "resolved": reply.resolved,
        "sample": job.sample,
        "text": reply.text,
        "ok": reply.ok,
        "error_type": reply.error.type if reply.error else None,
        "error": reply.error.message if reply.error else None,
        "input_tokens": reply.usage.input_tokens if reply.ok else None,
        "output_tokens": reply.usage.output_tokens if reply.ok else None,
        "reasoning_tokens": reply.usage.reasoning_tokens if reply.ok else None,
        "cached_input_tokens": reply.usage.cached_input_tokens if reply.ok else None,
        "cache_write_tokens": reply.usage.cache_write_tokens if reply.ok else None,
        "usage_source": reply.usage.source if reply.ok else None,
        "cost_usd": reply.cost_usd,
        "latency_s": reply.latency_s,
        "first_token_s": reply.first_token_s,
        "queued_s": reply.queued_s,
        "wall_s": reply.wall_s,
        "finish_reason": reply.finish_reason,
        "model_version": reply.model_version,
        "attempts": reply.attempts,
        "started_at": reply.started_at,
        "system": job.prompt.system,
        "params": job.prompt.params.to_dict(),
        "files": [f.name for f in job.prompt.files],
        "data": reply.to_dict()["data"] if reply.data is not None else None,
        "thinking": reply.thinking,
        "parent": job.parent,
    }


def _expanded(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with each structured answer's fields spread into `data.<field>` columns."""
    import pandas as pd

    values = [v if isinstance(v, dict) else {} for v in frame["data"]]
    spread = pd.json_normalize(values, sep=".").add_prefix("data.")
    spread.index = frame.index
    for column in spread.columns:  # pandas' nullable dtypes: a missing field is <NA>
        spread[column] = spread[column].convert_dtypes()
    return pd.concat([frame, spread], axis=1)
