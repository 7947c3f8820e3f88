"""A batch run's `batches.json`: what was submitted, and which answers are fresh.

The file keeps, per batch, the vendor's id, model, status and counts, its requests (custom
id -> item, model label, sample, request hash) and whether its outcomes are recorded; and
the run's batch sessions, and whether answers were recorded that no execution used yet
(`fresh`). It is replaced atomically at every change.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from workbench.audit.records import session_records
from workbench.audit.store import RunFolder, atomic_write
from workbench.errors import AuditError

STATE = "batches.json"


def load_state(folder: RunFolder) -> dict[str, Any] | None:
    """The run's `batches.json`, or None when it made no batch."""
    path = folder.path / STATE
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise AuditError(f"cannot read {path}: {e}", run=folder.name) from None


def write_state(folder: RunFolder, state: dict[str, Any]) -> None:
    """Replace `batches.json` atomically."""
    atomic_write(folder.path / STATE, json.dumps(state, indent=2, ensure_ascii=False))


def waiting(folder: RunFolder) -> bool:
    """Whether the run has a batch whose results are not recorded yet."""
    state = load_state(folder)
    return state is not None and any(not b["recorded"] for b in state["batches"])


def fresh_answers(folder: RunFolder) -> dict[tuple[str, int], dict[str, Any]]:
    """The batch calls recorded since the run last executed, failed ones included.

    The execution that follows a collection takes a batch's errors as answers (the item's
    outcome is then an error); later resumes ask again, as for any failed call.
    """
    state = load_state(folder)
    if state is None or not state.get("fresh"):
        return {}
    latest: dict[tuple[str, int], dict[str, Any]] = {}
    for record in session_records(folder.labbook_root, state.get("sessions", [])):
        if record.get("kind") == "call":  # in time order: a call asked again wins
            key = (record["request_hash"], int((record.get("prompt") or {}).get("sample", 0)))
            latest[key] = record
    return latest


def has_fresh(folder: RunFolder) -> bool:
    """Whether batch answers were recorded that no execution has used yet."""
    state = load_state(folder)
    return state is not None and bool(state.get("fresh"))


def mark_used(folder: RunFolder) -> None:
    """The run executed with the batch answers: their errors are not answers any more."""
    state = load_state(folder)
    if state is not None and state.get("fresh"):
        write_state(folder, {**state, "fresh": False})


@contextmanager
def only_process(folder: RunFolder) -> Iterator[None]:
    """Hold the run's batches for this process: two must not submit or record them at once.

    An advisory lock on the run folder itself (no file of its own to commit), released
    when the process ends, however it ends.
    """
    fd = os.open(folder.path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AuditError(
                f"another workbench process is submitting or collecting the batches of "
                f"{folder.name}: let it finish (or stop it), then resume",
                run=folder.name,
            ) from None
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
