"""Workflow files: YAML naming steps, each given to the model best at it.

    name: paper
    budget_usd: 0.50            # the most one run may spend (optional)
    roles:                      # who is best at what
      writer: gpt
      referee: claude
      editor: gemini
    steps:
      - id: draft
        role: writer            # the model: `model:` here, else roles[role], else the prompt's
        prompt: draft           # prompts/draft.md
        inputs: {notes: notes.md}        # field -> a file, an earlier step, or "desk"
        output: paper/draft.md
        alternatives: 3         # three drafts; a person picks one
      - id: referee
        role: referee
        prompt: referee
        inputs: {paper: draft}
        output: reviews/referee.md
        memo: author            # also left on the desk, as a memo for the author
      - id: response
        role: editor
        prompt: response
        inputs: {paper: draft, review: desk}   # the next desk item for its role or model
        output: paper/response.md
        brief: true             # the model's brief (what it did here before) in its system prompt

Paths are relative to the workflow file and stay inside the repository. A step may use only
earlier steps (steps run in file order). Loading checks everything it can and raises one
WorkflowError listing every problem with its line.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Literal

import yaml

from workbench.errors import ConfigError
from workbench.yaml_lines import YamlLines

TOP_KEYS = ("name", "description", "budget_usd", "roles", "steps")
STEP_KEYS = ("id", "role", "model", "prompt", "inputs", "output", "alternatives", "brief", "memo")
DESK = "desk"
"""The input source that takes the next desk item for the step's role or model."""
MAX_ALTERNATIVES = 20
RESERVED = (".git", "desk", "labbook")
"""Folders no output may be written into."""
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_FIELD = re.compile(r"[A-Za-z_]\w*")


class WorkflowError(ConfigError):
    """A workflow file has problems; `problems` lists each ("file:line: what to do")."""

    def __init__(self, file: str, problems: list[str]) -> None:
        self.file, self.problems = file, problems
        more = f" ({len(problems)} problems)" if len(problems) > 1 else ""
        super().__init__(f"bad workflow {file}{more}: fix these:\n  " + "\n  ".join(problems))


Source = Literal["file", "step", "desk"]


@dataclass(frozen=True)
class Input:
    """One prompt field of a step and where its text comes from."""

    field: str
    source: Source
    ref: str
    """The file (relative to the workflow file), the step id, or "" for the desk."""

    def __str__(self) -> str:
        return {"file": self.ref, "step": f"step {self.ref}", "desk": "the desk"}[self.source]


@dataclass(frozen=True)
class Step:
    """One step: a role, a model, a prompt file, its inputs and its output."""

    id: str
    prompt: str
    output: str
    role: str | None = None
    model: str | None = None
    inputs: tuple[Input, ...] = ()
    alternatives: int = 1
    brief: bool = False
    memo: str | None = None
    """The role the output is left for on the desk, as a memo."""
    line: int | None = None

    def definition(self) -> dict[str, Any]:
        """What the step asks for, as its staleness key includes it."""
        return {
            "prompt": self.prompt,
            "output": self.output,
            "inputs": {i.field: [i.source, i.ref] for i in self.inputs},
            "alternatives": self.alternatives,
            "brief": self.brief,
            "memo": self.memo,
        }


@dataclass(frozen=True)
class WorkflowSpec:
    """A loaded, checked workflow file."""

    name: str
    path: Path
    steps: tuple[Step, ...]
    roles: Mapping[str, str]
    budget_usd: float | None = None
    description: str | None = None

    @property
    def folder(self) -> Path:
        """The folder paths are relative to: the workflow file's."""
        return self.path.parent

    def step(self, step_id: str) -> Step:
        """A step by id (a WorkflowError naming the ids there are)."""
        for step in self.steps:
            if step.id == step_id:
                return step
        ids = ", ".join(s.id for s in self.steps)
        raise WorkflowError(self.path.name, [f"no step {step_id!r}: the steps are {ids}"])

    def model_of(self, step: Step) -> str | None:
        """The model a step names, or its role's (None: the prompt file's decides)."""
        return step.model or (self.roles.get(step.role) if step.role else None)


def load(path: str | Path) -> WorkflowSpec:
    """Read and check a workflow file; one WorkflowError lists every problem."""
    file = Path(path)
    name = file.name
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise WorkflowError(name, [f"{file}: no such file"]) from None
    except OSError as e:
        raise WorkflowError(name, [f"{file}: cannot read it ({e.strerror})"]) from None
    except UnicodeDecodeError as e:
        raise WorkflowError(name, [f"{file}: not UTF-8 text (byte {e.start})"]) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else "?"
        raise WorkflowError(name, [f"{name}:{line}: not valid YAML ({_problem(e)})"]) from None
    lines = _Lines(name, node)
    if not isinstance(data, dict):
        raise WorkflowError(name, [f"{name}:1: a workflow is 'key: value' lines with steps:"])
    problems = _check(data, lines)
    if problems:
        raise WorkflowError(name, problems)
    steps = tuple(_step(s, i, lines, data) for i, s in enumerate(data["steps"]))
    budget = data.get("budget_usd")
    return WorkflowSpec(
        name=str(data.get("name") or file.stem),
        path=file.resolve(),
        steps=steps,
        roles={str(k): str(v) for k, v in (data.get("roles") or {}).items()},
        budget_usd=None if budget is None else float(budget),
        description=data.get("description"),
    )


class _Lines(YamlLines):
    """Where each value starts in the workflow file; problems with their line."""

    def at(self, path: tuple[str | int, ...], message: str) -> str:
        """`message` at the line of `path` ("FILE:LINE: message")."""
        line = self.line(path)
        return f"{self.file}:{'?' if line is None else line}: {message}"


def _check(data: dict[str, Any], lines: _Lines) -> list[str]:
    problems = [
        lines.at((k,), f"unknown key {k!r}: use {', '.join(TOP_KEYS)}")
        for k in data
        if k not in TOP_KEYS
    ]
    budget = data.get("budget_usd")
    if budget is not None and (
        isinstance(budget, bool)
        or not isinstance(budget, int | float)
        or not math.isfinite(budget)
        or budget < 0
    ):
        problems.append(lines.at(("budget_usd",), f"budget_usd is USD >= 0, not {budget!r}"))
    roles = data.get("roles")
    if roles is not None and (
        not isinstance(roles, dict)
        or not all(isinstance(v, str) and v.strip() for v in roles.values())
    ):
        problems.append(lines.at(("roles",), "roles maps each role to a model: 'referee: claude'"))
    steps = data.get("steps")
    if not isinstance(steps, list) or not steps:
        problems.append(lines.at(("steps",), "steps: a list of steps (id, prompt, output, ...)"))
        return problems
    seen: dict[str, int] = {}
    outputs: dict[str, str] = {}
    ids = {s["id"] for s in steps if isinstance(s, dict) and isinstance(s.get("id"), str)}
    for index, raw in enumerate(steps):
        where = ("steps", index)
        if not isinstance(raw, dict):
            problems.append(lines.at(where, "a step is 'key: value' lines (id, prompt, output)"))
            continue
        problems += _check_step(raw, where, lines, (seen, ids), outputs, roles or {})
        if isinstance(raw.get("id"), str):
            seen[raw["id"]] = index
    return problems


def _check_step(
    raw: dict[str, Any],
    where: tuple[str | int, ...],
    lines: _Lines,
    known: tuple[dict[str, int], set[str]],
    outputs: dict[str, str],
    roles: Any,
) -> list[str]:
    seen, ids = known
    problems = []
    step_id = raw.get("id")
    label = f"step {step_id!r}" if isinstance(step_id, str) else f"step {int(where[1]) + 1}"

    def bad(key: str, message: str) -> None:
        problems.append(lines.at((*where, key), f"{label}: {message}"))

    for key in raw:
        if key not in STEP_KEYS:
            bad(key, f"unknown key {key!r}: use {', '.join(STEP_KEYS)}")
    for key in ("id", "prompt", "output"):
        if not isinstance(raw.get(key), str) or not raw[key].strip():
            bad(key, f"{key} is required (text)")
    if isinstance(step_id, str) and not _ID.fullmatch(step_id):
        bad("id", "an id is letters, digits, '-' and '_'")
    if isinstance(step_id, str) and step_id in seen:
        bad("id", f"the id {step_id!r} is used twice")
    for key in ("role", "model", "memo"):
        value = raw.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            bad(key, f"{key} is text, not {value!r}")
    role = raw.get("role")
    if isinstance(role, str) and raw.get("model") is None and roles and role not in roles:
        bad("role", f"no model for role {role!r} in roles: ({', '.join(roles)})")
    count = raw.get("alternatives", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_ALTERNATIVES:
        bad("alternatives", f"alternatives is a whole number from 1 to {MAX_ALTERNATIVES}")
    if not isinstance(raw.get("brief", False), bool):
        bad("brief", "brief is true or false")
    output = raw.get("output")
    if isinstance(output, str) and output.strip():
        why = _path_problem(output)
        if why:
            bad("output", why)
        elif output in outputs:
            bad("output", f"{output} is already the output of step {outputs[output]!r}")
        else:
            outputs[output] = str(step_id)
    inputs = raw.get("inputs", {})
    if not isinstance(inputs, dict):
        bad("inputs", "inputs maps prompt fields to sources: '{paper: draft, notes: notes.md}'")
        return problems
    desks = 0
    for field, source in inputs.items():
        at = ("inputs", field)
        if not isinstance(field, str) or not _FIELD.fullmatch(field):
            problems.append(lines.at((*where, *at), f"{label}: {field!r} is not a field name"))
            continue
        if not isinstance(source, str) or not source.strip():
            problems.append(
                lines.at(
                    (*where, *at),
                    f"{label}: input {field}: a file, an earlier step's id or 'desk'",
                )
            )
            continue
        desks += source == DESK
        if source != DESK and source not in seen:
            why = (
                f"step {source!r} comes later (steps run in file order)"
                if source in ids
                else _path_problem(source)
            )
            if why:
                problems.append(lines.at((*where, *at), f"{label}: input {field}: {why}"))
        if source == output:
            problems.append(lines.at((*where, *at), f"{label}: its output cannot be its input"))
    if desks > 1:
        bad("inputs", "one input at most comes from the desk")
    return problems


def _path_problem(path: str) -> str | None:
    """Why `path` cannot be a step's file (None: it can)."""
    pure = PurePosixPath(path)
    if pure.is_absolute() or "\\" in path:
        return f"{path}: a path relative to the workflow file, with '/'"
    if not pure.parts or pure.parts[0] in RESERVED:
        return f"{path}: not in {', '.join(RESERVED)} (the workbench keeps those)"
    if path.endswith("/"):
        return f"{path}: a file, not a folder"
    return None


def _step(raw: dict[str, Any], index: int, lines: _Lines, data: dict[str, Any]) -> Step:
    earlier = {s["id"] for s in data["steps"][:index]}
    inputs = tuple(
        Input(
            field,
            "desk" if source == DESK else "step" if source in earlier else "file",
            "" if source == DESK else source,
        )
        for field, source in (raw.get("inputs") or {}).items()
    )
    return Step(
        id=raw["id"],
        prompt=raw["prompt"].strip(),
        output=raw["output"].strip(),
        role=raw.get("role"),
        model=raw.get("model"),
        inputs=inputs,
        alternatives=int(raw.get("alternatives", 1)),
        brief=bool(raw.get("brief", False)),
        memo=raw.get("memo"),
        line=lines.lines.get(("steps", index)),
    )


def _problem(error: yaml.YAMLError) -> str:
    return str(getattr(error, "problem", None) or error).strip()
