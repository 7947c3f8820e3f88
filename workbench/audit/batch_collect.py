"""Collecting a batch run's batches: poll them; once all ended, record every outcome.

Each answer becomes an ordinary call record in a session of the run (the request a live
call would send, so the same request hash), tagged "batch" and "batch:<its id>", priced at
the batch rate; a request that failed or never ran is an error reply, not billed. See
`workbench.audit.batch` for the whole story.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from workbench.audit.batch_state import load_state, only_process, write_state
from workbench.audit.records import job_key, session_records
from workbench.audit.spend import spent_by
from workbench.audit.store import RunFolder, close_book, open_book
from workbench.batch import transport
from workbench.batch.reply import reply_of
from workbench.config import Config
from workbench.errors import AuditError
from workbench.notices import notice
from workbench.run import Job

if TYPE_CHECKING:
    from workbench.audit.runner import Execution
    from workbench.batch.base import Batches, Progress

POLL_S = 30.0
"""How often `collect(wait=True)` polls a batch that has not ended."""
TAG = "batch"


def _execution(folder: RunFolder, config: Config) -> Execution:
    from workbench.audit.runner import Execution

    return Execution(folder, config=config)


def collect(
    folder: RunFolder,
    config: Config,
    *,
    wait: bool = False,
    poll_s: float = POLL_S,
    progress: bool = True,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Poll the run's batches; once all ended, record their results. True when all are in.

    With `wait`, poll every `poll_s` seconds until they end (a line per batch when it
    moves); Ctrl-C while waiting stops waiting, not the batches: False, as when not waiting.
    """
    with only_process(folder):
        return _collect(folder, config, wait, poll_s, progress, sleep)


def _collect(
    folder: RunFolder,
    config: Config,
    wait: bool,
    poll_s: float,
    progress: bool,
    sleep: Callable[[float], None],
) -> bool:
    state = load_state(folder)
    if state is None:
        return True
    unrecorded = [b for b in state["batches"] if not b["recorded"]]
    if not unrecorded:
        return True
    execution = _execution(folder, config)
    clients: dict[str, Batches] = {}
    try:
        for batch in unrecorded:
            if batch["provider"] not in clients:
                settings = execution.config.providers[batch["provider"]]
                clients[batch["provider"]] = transport(settings)
        try:
            if not _poll(folder, state, unrecorded, clients, wait, poll_s, progress, sleep):
                return False
        except KeyboardInterrupt:
            if not wait:
                raise
            return False  # Ctrl-C stops the wait; the batches run on at the provider's
        _record(folder, execution, state, unrecorded, clients)
    finally:
        for client in clients.values():
            client.close()
    return True


def _poll(
    folder: RunFolder,
    state: dict[str, Any],
    batches: Sequence[dict[str, Any]],
    clients: dict[str, Batches],
    wait: bool,
    poll_s: float,
    progress: bool,
    sleep: Callable[[float], None],
) -> bool:
    """Poll until every batch ended (True), or once when not waiting (False if one runs)."""
    shown: dict[str, str] = {}
    while True:
        for batch in batches:
            if not batch["ended"]:
                _update(batch, clients[batch["provider"]].poll(batch["id"]))
        write_state(folder, state)
        for batch in batches if progress else ():
            line = _progress_line(batch)
            if shown.get(batch["id"]) != line:  # waiting hours: only what changed
                notice(line)
                shown[batch["id"]] = line
        if all(b["ended"] for b in batches):
            return True
        if not wait:
            return False
        sleep(poll_s)


def _update(batch: dict[str, Any], found: Progress) -> None:
    batch.update(status=found.status, ended=found.ended)
    batch.update(completed=found.completed, failed=found.failed)


def _progress_line(batch: dict[str, Any]) -> str:
    return (
        f"{batch['model']} batch {batch['id']}: {batch['status']}, {batch['total']} submitted, "
        f"{batch['completed']} completed, {batch['failed']} failed"
    )


def _record(
    folder: RunFolder,
    execution: Execution,
    state: dict[str, Any],
    batches: Sequence[dict[str, Any]],
    clients: dict[str, Batches],
) -> None:
    """Record every request's outcome as a call record, in a session of the run."""
    root = folder.labbook_root
    config = execution.config
    book = open_book(root, config, source=f"audit {folder.name} batch")
    state["sessions"] = [*state.get("sessions", []), book.session]
    write_state(folder, state)  # the session is known before anything is in it
    manifest = folder.manifest()
    folder.update(sessions=[*manifest.get("sessions", []), book.session])
    # a crash while recording leaves some records: they are not written twice
    found = [r for r in session_records(root, state["sessions"]) if r.get("kind") == "call"]
    items = {item.index: item for item in folder.items()}
    plans: dict[int, list[Job]] = {}
    try:
        for batch in batches:
            outcomes = clients[batch["provider"]].results(batch["id"], list(batch["requests"]))
            started = datetime.fromisoformat(batch["submitted_at"])
            tags = (TAG, f"{TAG}:{batch['id']}")
            done = {
                (r["request_hash"], int(r["prompt"].get("sample", 0)))
                for r in found
                if tags[1] in (r.get("tags") or ())
            }
            futures = []
            for cid, outcome in outcomes.items():
                job = _job(execution, items, plans, cid, batch["requests"][cid])
                if job_key(job) in done:
                    continue
                reply = reply_of(job, outcome, config, started)
                future = book.record_call(job, reply, tags=tags)
                if future is not None:
                    futures.append(future)
            for future in futures:
                future.result()
            batch["recorded"] = True
            state["fresh"] = True
            write_state(folder, state)
        book.commit(f"audit {folder.name}: batch results recorded")
    finally:
        close_book(book)
    folder.update(spent_usd=spent_by(root, folder.manifest().get("sessions", [])))


def _job(
    execution: Execution,
    items: dict[int, Any],
    plans: dict[int, list[Job]],
    custom_id: str,
    kept: dict[str, Any],
) -> Job:
    """The job a custom id stands for, planned again from the run folder (same request)."""
    index, k, sample = (int(x) for x in custom_id.split("-"))
    if index not in plans:
        plans[index] = execution.plan(items[index])[1]
    spec = execution.specs[k]
    job = next(j for j in plans[index] if j.spec is spec and j.sample == sample)
    if job_key(job)[0] != kept["request_hash"]:
        raise AuditError(
            f"item {index} for {spec.label} no longer sends what was submitted in a batch: "
            "the run folder changed; start a new run",
            run=execution.folder.name,
        )
    return job
