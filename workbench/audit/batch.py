"""Audit runs through the providers' batch APIs: `run_audit(batch=True)`, `audit run --batch`.

Submitting (`submit`): every call of the pending items for models whose provider has a
batch mode (types openai, anthropic, gemini) goes into one batch per model, the same
request a live call would send (so the same request hash). The whole batch's most possible
cost, at batch rates, is checked against the run's budget first: over it, nothing is sent.
What was submitted lives in the run folder's `batches.json` (written atomically after each
batch is made): the vendor's batch id, and per request its custom id, item, model, sample
and request hash. Any process can carry on from it.

Collecting (`collect`, called by `resume`): each batch is polled; once every one has ended,
every request's outcome is recorded as an ordinary call record in a session of the run
(tagged "batch" and "batch:<its id>", priced at the batch rate, `started_at` the submission
time, no latency: a batch has none per request). A request that failed, or never ran
because its batch expired or was cancelled, becomes an error reply (not billed) and its
item an error outcome. The run then executes as any resume does: the batch calls are
answered from their records (their errors included, once: `batch_state.fresh_answers`),
other models'
and the judges' calls are sent live, items are scored and saved. A later resume treats
error outcomes as every run does: it asks again, here in a new batch.

Calls a model cannot take (`Model.check`) are not put in a batch: they are refused in their
column, unsent, when the run executes, as always.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from workbench import prices
from workbench.audit.batch_collect import POLL_S, collect
from workbench.audit.batch_state import (
    fresh_answers,
    has_fresh,
    load_state,
    mark_used,
    only_process,
    waiting,
    write_state,
)
from workbench.audit.records import job_key, recorded_calls
from workbench.audit.store import RunFolder
from workbench.batch import has_batch_mode, transport
from workbench.budget import estimate_usage
from workbench.config import Config
from workbench.errors import AuditError, BudgetExceeded, WorkbenchError
from workbench.notices import notice
from workbench.providers import registry
from workbench.run import Job

if TYPE_CHECKING:
    from workbench.audit.runner import Execution
    from workbench.batch.base import Batches

__all__ = [
    "POLL_S", "BatchOverBudget", "collect", "fresh_answers", "has_fresh", "load_state",
    "mark_used", "submit", "waiting",
]  # fmt: skip


class BatchOverBudget(BudgetExceeded):
    """The whole batch could cost more than the run's budget: nothing was submitted."""

    def __init__(
        self, cap_usd: float, spent_usd: float, needed_usd: float, calls: int, scope: str = "run's"
    ) -> None:
        super().__init__(f"the {scope}", cap_usd, spent_usd, needed_usd)
        raise_it = "--budget" if scope == "run's" else "[budget] session_usd"
        self.args = (
            f"the batch of {calls} calls could cost up to ${needed_usd:.4f} at batch rates, over "
            f"the {scope} budget of ${cap_usd:.4f} (${spent_usd:.4f} spent): nothing was "
            f"submitted; raise {raise_it} or take fewer items (--sample N)",
        )


# -- submitting --------------------------------------------------------------------------


@dataclass
class _Planned:
    """The run's calls that go in batches, by (provider, model id)."""

    groups: dict[tuple[str, str], list[tuple[str, Job, float]]] = field(default_factory=dict)
    """(custom id, job, the most it could cost at the batch rate) per model."""
    unpriced: set[str] = field(default_factory=set)
    batchable: bool = False
    """Some model of the run has a batch mode (even if none of its calls is left to send)."""

    @property
    def calls(self) -> int:
        return sum(len(g) for g in self.groups.values())

    @property
    def estimate_usd(self) -> float:
        return sum(cost for group in self.groups.values() for _, _, cost in group)


def _execution(folder: RunFolder, config: Config) -> Execution:
    from workbench.audit.runner import Execution

    return Execution(folder, config=config)


def _custom_id(execution: Execution, job: Job) -> str:
    """`<item index>-<model position>-<sample>`: what vendors take (letters, digits, -)."""
    k = next(n for n, spec in enumerate(execution.specs) if spec is job.spec)
    return f"{job.prompt_index}-{k}-{job.sample}"


def _plan(execution: Execution, config: Config, skip: set[tuple[str, int]]) -> _Planned:
    planned = _Planned()
    checked: dict[str, Any] = {}
    for item in execution.folder.pending():
        _, jobs = execution.plan(item)
        for job in jobs:
            spec = job.spec
            if not has_batch_mode(registry.provider_settings(spec, config).type):
                continue
            planned.batchable = True
            if job_key(job) in skip:
                continue
            model = checked.get(spec.full_name) or registry.build(spec, config)
            checked[spec.full_name] = model
            try:
                model.check(job.prompt)
            except WorkbenchError:
                continue  # refused in its column, unsent, when the run executes
            quote = prices.batch_quote(spec.provider, spec.model_id, config)
            if quote is None:
                planned.unpriced.add(spec.full_name)
            cost = (quote.cost(estimate_usage(job.prompt)) if quote else None) or 0.0
            planned.groups.setdefault((spec.provider, spec.model_id), []).append(
                (_custom_id(execution, job), job, cost)
            )
    return planned


def submit(folder: RunFolder, config: Config, *, progress: bool = True) -> int:
    """Submit the run's batchable calls not answered or in a batch yet; return how many.

    Raises before anything is sent when no model has a batch mode, or when the batch could
    cost more than what is left of the run's budget.
    """
    with only_process(folder):
        return _submit(folder, config, progress)


def _submit(folder: RunFolder, config: Config, progress: bool) -> int:
    execution = _execution(folder, config)
    manifest = execution.manifest
    state = load_state(folder) or {"v": 1, "batches": [], "sessions": [], "fresh": False}
    answered = recorded_calls(folder.labbook_root, manifest.get("sessions", []), with_errors=False)
    skip = set(answered)
    for batch in state["batches"]:
        if not batch["recorded"]:  # still running: its calls are on their way
            skip |= {(r["request_hash"], r["sample"]) for r in batch["requests"].values()}
    planned = _plan(execution, execution.config, skip)
    if not planned.calls:
        if not state["batches"] and not planned.batchable:
            models = ", ".join(manifest["models"])
            raise AuditError(
                f"none of {models} has a batch mode (openai, anthropic and gemini providers "
                "have one): run without --batch",
                run=folder.name,
            )
        return 0
    in_flight = sum(b.get("estimate_usd", 0.0) for b in state["batches"] if not b["recorded"])
    _check_budget(planned, manifest, in_flight, execution.config.session_budget_usd)
    clients: dict[str, Batches] = {}
    try:
        for (provider, model_id), requests in planned.groups.items():
            client = clients.get(provider) or transport(execution.config.providers[provider])
            clients[provider] = client
            lines = [client.line(cid, job.prompt, model_id) for cid, job, _ in requests]
            for part in _parts(client, lines):
                batch_id = client.submit(
                    model_id, [lines[k] for k in part], f"{folder.name}-{model_id}"
                )
                state["batches"].append(
                    _entry(provider, model_id, batch_id, [requests[k] for k in part])
                )
                write_state(folder, state)  # each batch kept as soon as it exists
                if progress:
                    notice(f"{provider}:{model_id}: {len(part)} calls submitted, batch {batch_id}")
    finally:
        for client in clients.values():
            client.close()
    return planned.calls


def _parts(client: Batches, lines: Sequence[dict[str, Any]]) -> list[list[int]]:
    """The lines split into batches the vendor takes: at most so many requests and bytes."""
    parts: list[list[int]] = [[]]
    size = 0
    for k, line in enumerate(lines):
        length = len(json.dumps(line, ensure_ascii=False, default=_as_sent).encode()) + 1
        full = len(parts[-1]) >= client.max_requests or size + length > client.max_bytes
        if parts[-1] and full:
            parts.append([])
            size = 0
        parts[-1].append(k)
        size += length
    return parts


def _as_sent(value: object) -> str:
    """Bytes (Gemini's inline files) are sent as base64."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} in a batch request")


def _entry(
    provider: str, model_id: str, batch_id: str, requests: Sequence[tuple[str, Job, float]]
) -> dict[str, Any]:
    """A submitted batch as `batches.json` keeps it."""
    return {
        "provider": provider,
        "model": f"{provider}:{model_id}",
        "id": batch_id,
        "submitted_at": _now(),
        "status": "submitted",
        "ended": False,
        "recorded": False,
        "total": len(requests),
        "completed": 0,
        "failed": 0,
        "estimate_usd": sum(cost for _, _, cost in requests),
        "requests": {
            cid: {
                "item": job.prompt_index,
                "model": job.spec.label,
                "sample": job.sample,
                "request_hash": job_key(job)[0],
            }
            for cid, job, _ in requests
        },
    }


def _check_budget(
    planned: _Planned, manifest: dict[str, Any], in_flight: float, session_cap: float | None
) -> None:
    """Refuse, before anything is sent, a batch that could cost more than a cap allows.

    The run's budget counts what the run spent and what its running batches may cost; the
    session's (`[budget] session_usd`, which live calls of this process are held to) counts
    this submission alone.
    """
    run_cap = manifest.get("budget_usd")
    caps = [("run's", run_cap), ("session's", session_cap)]
    if all(cap is None for _, cap in caps):
        return
    if planned.unpriced:
        names = ", ".join(sorted(planned.unpriced))
        raise AuditError(
            f"{names} has no known batch price, so the budget cannot be kept: nothing "
            "was submitted; add its price under [prices] in workbench.toml"
        )
    # batches still running may cost up to their estimate: it counts as spent
    spent = float(manifest.get("spent_usd", 0.0)) + in_flight
    if run_cap is not None and spent + planned.estimate_usd > float(run_cap) + 1e-12:
        raise BatchOverBudget(float(run_cap), spent, planned.estimate_usd, planned.calls)
    if session_cap is not None and planned.estimate_usd > session_cap + 1e-12:
        raise BatchOverBudget(
            session_cap, 0.0, planned.estimate_usd, planned.calls, scope="session's"
        )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
