"""What each step last produced, from what: the state file, and which steps are stale.

`paper.yaml`'s state is `paper.state.json` beside it, committed with each step's output:
per step, the key of what it was made from (its inputs' git blob hashes, the prompt file's,
the model as resolved, the step's own settings), the inputs themselves, the output and its
blob hash, the call records and the alternatives. A step is up to date when its key is
the one its inputs give now and its output exists; a step whose key changed is stale and
runs again, make-style: an edit redoes only what depends on it. An output edited by hand is
kept (its change makes the steps after it stale, not the step itself), and so is an output
written by a person before any run: a participant like any other.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from workbench.labbook.chain import canonical
from workbench.prompts import blob_hash
from workbench.workflows.spec import Step, WorkflowSpec

if TYPE_CHECKING:
    from workbench.desk.board import Board

FORMAT = 1
SUFFIX = ".state.json"

Status = Literal[
    "done", "edited", "by hand", "pick", "stale", "to run", "after", "waiting", "failed"
]
"""done: up to date; edited: up to date, its output changed by hand since; by hand: written
by a person, no run made it; pick: alternatives wait for a person to pick one; stale: its
inputs changed; to run: never made (or its output is gone); after: runs once an earlier step
has; waiting: an input is missing (a file, a desk item); failed: its calls failed this run."""
READY = ("done", "edited", "by hand")
"""The statuses whose output the steps after it can use."""


class InputRecord(TypedDict):
    """One input as a step used it."""

    source: str
    """"notes.md", "step:draft" or "desk:ITEM-ID"."""
    path: str
    """The file it was read from (from the repository's root)."""
    blob: str


class StepRecord(TypedDict, total=False):
    """A step's entry in the state file."""

    key: str
    inputs: dict[str, InputRecord]
    prompt: dict[str, Any]
    model: str
    resolved: str
    records: list[str]
    """The call records of its answers (the alternatives' in order)."""
    reused: int
    """Of those, answers taken from the lab notebook (asked before, not paid again)."""
    cost_usd: float | None
    output: str
    output_blob: str | None
    alternatives: list[str]
    picked: int | None
    desk_item: str | None
    memo: str | None
    at: str


@dataclass
class Found:
    """A step's inputs as they are now: their text and records, or what is missing."""

    values: dict[str, str] = field(default_factory=dict)
    records: dict[str, InputRecord] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    after: list[str] = field(default_factory=list)
    """Earlier steps that must run first."""


@dataclass
class StepStatus:
    """Where a step stands and why."""

    step: Step
    status: Status
    why: str
    model: str | None = None


def state_path(spec: WorkflowSpec) -> Path:
    """paper.yaml -> paper.state.json, beside it."""
    return spec.path.with_name(spec.path.stem + SUFFIX)


def read_state(spec: WorkflowSpec) -> dict[str, StepRecord]:
    """The steps' records (empty before the first run, or from a state file one cannot read)."""
    path = state_path(spec)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        from workbench.notices import notice

        notice(f"{path.name} cannot be read: every step counts as never run", once=str(path))
        return {}
    steps = data.get("steps") if isinstance(data, dict) else None
    return dict(steps) if isinstance(steps, dict) else {}


def write_state(spec: WorkflowSpec, steps: dict[str, StepRecord]) -> Path:
    """Write the state file (steps in the workflow's order), readable and diffable."""
    order = [s.id for s in spec.steps]
    ordered = {k: steps[k] for k in order if k in steps}
    ordered |= {k: v for k, v in sorted(steps.items()) if k not in ordered}  # steps since removed
    data = {"format": FORMAT, "workflow": spec.path.name, "steps": ordered}
    path = state_path(spec)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def key_of(step: Step, found: Found, prompt_blob: str, model: dict[str, Any]) -> str:
    """What a step's output is made from, as one hash (its brief, which grows, is not)."""
    payload = {
        "step": step.definition(),
        "inputs": {k: v["blob"] for k, v in sorted(found.records.items())},
        "prompt": prompt_blob,
        "model": model,
    }
    return hashlib.sha256(canonical(payload)).hexdigest()


def find_inputs(
    spec: WorkflowSpec,
    step: Step,
    top: Path,
    statuses: dict[str, StepStatus],
    desk: Board | None,
    model: str | None,
    state: StepRecord | None,
) -> Found:
    """Read a step's inputs as they are now (the desk's next item for its role or model)."""
    found = Found()
    for source in step.inputs:
        if source.source == "step":
            before = statuses.get(source.ref)
            if before is None or before.status not in READY:
                found.after.append(source.ref)
                continue
            path = spec.folder / spec.step(source.ref).output
            record_source = f"step:{source.ref}"
        elif source.source == "file":
            path = spec.folder / source.ref
            record_source = source.ref
        else:
            item = _desk_item(desk, step, model, state)
            if item is None:
                who = " or ".join(n for n in (step.role, model) if n)
                found.missing.append(f"nothing on the desk for {who or 'it'}")
                continue
            found.values[source.field] = item.text()
            found.records[source.field] = InputRecord(
                source=f"desk:{item.id}", path=item.path, blob=blob_hash(item.file())
            )
            continue
        try:
            data = path.read_bytes()
        except OSError:
            found.missing.append(f"{_rel(path, top)} is missing")
            continue
        found.values[source.field] = data.decode("utf-8", errors="replace").rstrip("\r\n")
        found.records[source.field] = InputRecord(
            source=record_source, path=_rel(path, top), blob=blob_hash(data)
        )
    return found


def _desk_item(desk: Board | None, step: Step, model: str | None, state: StepRecord | None) -> Any:
    """The desk item a step takes: one its model holds for it (a run cut short), else the next.

    The next is the oldest open item for its role or model; with none, the one it last
    finished (then the step is up to date).
    """
    if desk is None:
        return None
    names = [n for n in (step.role, model) if n]
    held = [e for e in desk.held_by(model) if e.item.to in names] if model else []
    if held:
        return held[0].item
    waiting = desk.waiting(names)
    if waiting:
        return waiting[0].item
    used = next((e for e in desk.entries if e.item.id == (state or {}).get("desk_item")), None)
    return used.item if used is not None else None


def judge(
    state: StepRecord | None, found: Found, current: StepRecord, output: Path
) -> tuple[Status, str]:
    """A step's status and why, from its record, what it would be made from now, its output."""
    exists = output.is_file()
    if found.after:
        return "after", "; ".join([f"after {', '.join(found.after)}", *found.missing])
    if found.missing:
        return "waiting", "; ".join(found.missing)
    if state is None or "key" not in state:
        if exists:
            return "by hand", f"{output.name} was not made by this workflow: kept"
        return "to run", "never run"
    if state["key"] != current["key"]:
        return "stale", "changed: " + ", ".join(changes(state, current))
    if state.get("alternatives") and state.get("picked") is None:
        return "pick", f"{len(state['alternatives'])} alternatives wait for a pick"
    if not exists:
        return "to run", f"{output.name} is gone"
    if blob_hash(output.read_bytes()) != state.get("output_blob"):
        return "edited", "up to date; its output was edited by hand since"
    return "done", "up to date"


def changes(state: StepRecord, current: StepRecord) -> list[str]:
    """What differs from the step's last run: which inputs, the prompt file, the model."""
    before, now = state.get("inputs") or {}, current.get("inputs") or {}
    changed = [
        f"{name} ({record['path']})" for name, record in now.items()
        if name not in before or before[name].get("blob") != record["blob"]
    ]  # fmt: skip
    changed += [f"{name} (no longer an input)" for name in before if name not in now]
    if (state.get("prompt") or {}).get("blob") != (current.get("prompt") or {}).get("blob"):
        changed.append(f"the prompt {(current.get('prompt') or {}).get('path')}")
    if state.get("model") != current.get("model") or state.get("resolved") != current.get(
        "resolved"
    ):
        changed.append(f"the model ({state.get('model')} -> {current.get('model')})")
    return changed or ["the step's settings, or its model's"]


def _rel(path: Path, top: Path) -> str:
    try:
        return path.resolve().relative_to(top).as_posix()
    except ValueError:
        return str(path)
