"""Exercise files: YAML read with line numbers, checked against the shipped JSON Schema.

Loading collects every problem (bad YAML, unknown or missing fields, wrong types, a
template field an item lacks, an unknown scorer or model, a file an item names that cannot
be sent, a schema that is not a JSON Schema) and raises one `ExerciseError` that lists them
all, each with its file, line and field.
"""

from __future__ import annotations

import hashlib
import json
import string
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import ExerciseError, ExerciseProblem, InvalidOption, UnknownModel
from workbench.providers.content import Schema
from workbench.yaml_lines import YamlLines

if TYPE_CHECKING:
    from workbench.audit.items import Item
    from workbench.audit.scorers import Scorer
    from workbench.config import Config

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Exercise:
    """A loaded, valid exercise."""

    name: str
    template: str
    items: tuple[Item, ...]
    scorer: Scorer
    path: Path
    text: str
    """The file's text, as loaded (a run keeps a copy)."""
    instructions: str = ""
    reason: str = ""
    description: str = ""
    system: str | None = None
    models: tuple[str, ...] = ()
    samples: int = 1
    budget_usd: float | None = None
    sample: int | None = None
    seed: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    files: tuple[str, ...] = ()
    """The item fields whose values name files to send with the prompt."""
    schema: Schema | None = None
    """The JSON Schema every answer must follow (structured output), if any."""

    @property
    def digest(self) -> str:
        """A short hash of the file's text: runs of the same exercise share it."""
        return hashlib.sha256(self.text.encode()).hexdigest()[:16]

    def render(self, item: Item) -> str:
        """The user message for one item: the instructions, then the filled template."""
        body = self.template.format_map(item.fields)
        return f"{self.instructions.strip()}\n\n{body}" if self.instructions.strip() else body


@cache
def schema() -> dict[str, Any]:
    """The exercise JSON Schema shipped with the package."""
    text = resources.files("workbench.audit").joinpath("schema.json").read_text()
    return dict(json.loads(text))


def template_fields(template: str) -> list[str]:
    """The field names `{name}` used by a str.format template, in order, once each."""
    names: list[str] = []
    for _, name, _, _ in string.Formatter().parse(template):
        if name is not None:
            base = name.split(".", 1)[0].split("[", 1)[0]
            if base not in names:
                names.append(base)
    return names


class Lines(YamlLines):
    """Where each value of an exercise file starts; problems with their line."""

    def problem(self, path: Sequence[str | int], message: str) -> ExerciseProblem:
        """A problem at `path`, with its line."""
        return ExerciseProblem(self.file, self.line(path), dotted(path), message)


def dotted(path: Sequence[str | int]) -> str:
    """("items", 2, "country") -> "items[2].country"."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out or "(top)"


def parse(text: str, file: str) -> tuple[Any, Lines | None, list[ExerciseProblem]]:
    """YAML text -> (data, lines), or the syntax problem with its line."""
    import yaml

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else None
        why = " ".join(str(x) for x in (e.context, e.problem) if x)
        return None, None, [ExerciseProblem(file, line, "(yaml)", f"not valid YAML: {why}")]
    except yaml.YAMLError as e:
        return None, None, [ExerciseProblem(file, None, "(yaml)", f"not valid YAML: {e}")]
    if node is None or not isinstance(data, dict):
        return None, None, [ExerciseProblem(file, 1, "(top)", "the file must be a YAML mapping")]
    return data, Lines(file, node), []


def validate(data: dict[str, Any], lines: Lines) -> list[ExerciseProblem]:
    """Every JSON Schema violation, unknown fields named one by one."""
    found = validator_class()
    validator = found(schema())
    problems: list[ExerciseProblem] = []
    for error in validator.iter_errors(data):
        problems.extend(_explain(error, lines))
    return problems


def validator_class() -> Any:
    """Jsonschema's Draft 2020-12 validator, imported without its IRI format checkers.

    jsonschema imports `rfc3987_syntax` when it is installed (JupyterLab brings it) and
    that builds parsers for two seconds; the exercise schema uses no `format`, so the
    import is skipped (other formats keep working) unless something imported it already.
    """
    import sys

    if "jsonschema" in sys.modules or "rfc3987_syntax" in sys.modules:
        from jsonschema import Draft202012Validator

        return Draft202012Validator
    sys.modules["rfc3987_syntax"] = None  # type: ignore[assignment]
    try:
        from jsonschema import Draft202012Validator
    finally:
        del sys.modules["rfc3987_syntax"]
    return Draft202012Validator


def _explain(error: Any, lines: Lines) -> list[ExerciseProblem]:
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        return [
            lines.problem(
                (*path, key), f"unknown field {key!r}: allowed fields are {', '.join(allowed)}"
            )
            for key in error.instance
            if key not in allowed
        ]
    if error.validator == "required":
        return [lines.problem(path, f"missing required field: {error.message.split(' ')[0]}")]
    if error.validator == "oneOf":
        return _one_of(error, lines, path)
    return [lines.problem(path, error.message)]


ONE_OF_HINTS = {
    "items": "items must be a list of mappings, or {file: items.csv}, {glob: 'src/*.py'} "
    "or {pairs: {spec: 'specs/*.md', module: 'src/*.py'}}",
    "scorer": "scorer must be a name (e.g. exact) or {type: ..., options}",
    "files": "files must name the item field(s) that hold file paths: files: figure or "
    "files: [figure, table]",
    "schema": "schema must be a JSON Schema (a mapping) or the path of a .json file relative "
    "to the exercise",
    "reasoning": "reasoning must be low, medium, high or a budget of thinking tokens (a whole "
    "number >= 1)",
}


def _one_of(error: Any, lines: Lines, path: Path_) -> list[ExerciseProblem]:
    """Explain a failed oneOf by the branch the value was meant for (by its required keys)."""
    instance = error.instance
    if isinstance(instance, dict):
        for index, branch in enumerate(error.schema["oneOf"]):
            required = branch.get("required", [])
            if required and all(key in instance for key in required):
                subs = [e for e in error.context or () if e.schema_path[0] == index]
                return [p for sub in subs for p in _explain(sub, lines)]
    hint = ONE_OF_HINTS.get(str(path[-1]) if path else "", error.message)
    return [lines.problem(path, hint)]


def budget_problem(value: Any) -> str | None:
    """Why `value` is not a spending cap in USD; None when it is one (or None: no cap)."""
    from workbench.budget import check_cap

    try:
        check_cap(value, "a budget")
    except InvalidOption as e:
        return str(e)
    return None


def load(path: str | Path, config: Config | None = None) -> Exercise:
    """Read and check an exercise file; raise ExerciseError naming every problem."""
    path = Path(path)
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ExerciseError(
            [ExerciseProblem(file, None, "(file)", f"cannot read it: {e.strerror}")]
        ) from None
    return loads(text, file=file, base=path.resolve().parent, config=config, path=path)


def loads(
    text: str,
    *,
    file: str = "<exercise>",
    base: Path | None = None,
    config: Config | None = None,
    path: Path | None = None,
    check: bool = True,
) -> Exercise:
    """Check exercise YAML text; relative item paths start at `base`.

    `check=False` is for a copy that was checked when the run began: no JSON Schema, and
    neither the items' files nor a schema file are read (the run keeps them).
    """
    from workbench.audit.files import attach, names
    from workbench.audit.items import load_items
    from workbench.audit.scorers import build_scorer
    from workbench.audit.structured import load_schema

    data, lines, problems = parse(text, file)
    if data is None or lines is None:
        raise ExerciseError(problems)
    problems = validate(data, lines) if check else []
    bad_top = {str(p.field).split(".")[0].split("[")[0] for p in problems}
    base = base or Path.cwd()

    template = data.get("template") if isinstance(data.get("template"), str) else None
    if template is not None and "template" not in bad_top:
        try:
            used = template_fields(template)
        except ValueError as e:
            problems.append(lines.problem(("template",), f"bad template: {e}; use {{{{ for {{"))
            template = None
        else:
            if not used and "files" not in data:  # with files, the files tell items apart
                problems.append(
                    lines.problem(("template",), "the template uses no item field, e.g. {text}")
                )
    items: list[Item] = []
    id_field = data.get("id", "id") if isinstance(data.get("id"), str) else "id"
    expected_field = data.get("expected", "expected")
    if not isinstance(expected_field, str):
        expected_field = "expected"
    file_fields = names(data.get("files")) if "files" not in bad_top else ()
    if "items" in data and "items" not in bad_top:
        items, item_problems = load_items(
            data["items"], lines, base, id_field, expected_field, file_fields
        )
        problems.extend(item_problems)
        if template is not None and "template" not in bad_top:
            problems.extend(_missing_fields(template, items))
        if file_fields and check:
            items, file_problems = attach(items, file_fields, base, lines)
            problems.extend(file_problems)

    shape = None
    if "schema" in data and "schema" not in bad_top:
        shape, schema_problems = load_schema(data["schema"], lines, base, read=check)
        problems.extend(schema_problems)
    scorer = None
    if "scorer" not in bad_top:
        default = "json" if "schema" in data else "exact"  # a schema's answers are values
        scorer, scorer_problems = build_scorer(data.get("scorer", default), lines, base, config)
        problems.extend(scorer_problems)
    if config is not None and isinstance(data.get("models"), list) and "models" not in bad_top:
        problems.extend(check_models(data["models"], config, lines))
    budget_wrong = budget_problem(data.get("budget_usd")) if "budget_usd" not in bad_top else None
    if budget_wrong is not None:
        problems.append(lines.problem(("budget_usd",), budget_wrong))
    if scorer is not None and template is not None and not problems:
        problems.extend(_unusable(scorer, template, items, shape))
    if problems:
        raise ExerciseError(sorted(problems, key=lambda p: (p.file != file, p.line or 0)))
    assert scorer is not None and template is not None
    budget = data.get("budget_usd")
    return Exercise(
        name=data["name"],
        template=template,
        items=tuple(items),
        scorer=scorer,
        path=path or Path(file),
        text=text,
        instructions=data.get("instructions", ""),
        reason=data.get("reason", ""),
        description=data.get("description", ""),
        system=data.get("system"),
        models=tuple(data.get("models", ())),
        samples=int(data.get("samples", 1)),
        budget_usd=float(budget) if budget is not None else None,
        sample=data.get("sample"),
        seed=int(data.get("seed", 0)),
        params=dict(data.get("params", {})),
        files=file_fields,
        schema=shape,
    )


def _missing_fields(template: str, items: Sequence[Item]) -> list[ExerciseProblem]:
    used = template_fields(template)
    problems = []
    for item in items:
        missing = [name for name in used if name not in item.fields]
        if missing:
            have = ", ".join(sorted(item.fields)) or "none"
            problems.append(
                ExerciseProblem(
                    item.file,
                    item.line,
                    f"{item.where}.{missing[0]}",
                    f"item {item.id!r} has no field {missing[0]!r}, which the template uses "
                    f"(its fields: {have})",
                )
            )
    return problems


def _unusable(
    scorer: Scorer, template: str, items: Sequence[Item], shape: Schema | None
) -> list[ExerciseProblem]:
    """Items the run could not use: a template that fails on them, a bad expected value.

    An expected value is bad when the scorer cannot read it, or (json with a schema) when it
    does not fit the schema, so no answer could equal it. Found here, before anything is
    sent, rather than as a crash in the middle of a run.
    """
    from workbench.audit.scorers import Json
    from workbench.audit.structured import unfit

    problems = []
    for item in items:
        try:
            template.format_map(item.fields)
        except (LookupError, AttributeError, ValueError, TypeError) as e:
            why = f"the template cannot be filled for item {item.id!r}: {type(e).__name__}: {e}"
            problems.append(ExerciseProblem(item.file, item.line, item.where, why))
            continue
        if item.expected is None:
            continue
        try:
            want = scorer.expect(item.expected)
        except (ValueError, TypeError) as e:
            why = f"the {scorer.name} scorer cannot read expected {item.expected!r}: {e}"
            problems.append(ExerciseProblem(item.file, item.line, f"{item.where}.expected", why))
            continue
        misfit = unfit(shape, json.loads(want)) if shape and isinstance(scorer, Json) else None
        if misfit is not None:
            why = f"expected {item.expected!r} does not fit the schema {misfit}: no answer can"
            problems.append(ExerciseProblem(item.file, item.line, f"{item.where}.expected", why))
    return problems


def check_models(names: Sequence[Any], config: Config, lines: Lines) -> list[ExerciseProblem]:
    """A problem for every model name that does not resolve."""
    from workbench.providers import registry

    problems = []
    for i, name in enumerate(names):
        try:
            registry.resolve(name, config)
        except UnknownModel:
            message = f"unknown model {name!r}: `workbench models` lists the names you can use"
            problems.append(lines.problem(("models", i), message))
    return problems
