"""An exercise's schema for its answers: inline or a .json file beside it, checked at load.

Problems are reported like every exercise problem, with their file and line: a schema file
that cannot be read or is not JSON, and a schema that is not a JSON Schema (at the line of
the part that is wrong). `canonical` writes a JSON value as one text that is equal for equal
values: what the json scorer and agreement compare.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.audit.files import inside
from workbench.errors import ExerciseProblem, InvalidOption
from workbench.providers.content import Schema

if TYPE_CHECKING:
    from workbench.audit.exercise import Lines, Path_


def canonical(value: Any) -> str:
    """A JSON value as one text, equal for equal values: keys sorted, 1.0 written as 1."""
    return json.dumps(_plain(value), sort_keys=True, ensure_ascii=False)


def _plain(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)  # JSON has one number type: 1.0 is 1 (true stays true: bool first)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def unfit(shape: Schema, value: Any) -> str | None:
    """Why `value` does not fit the schema (where, and what is wrong); None when it does."""
    from jsonschema import Draft202012Validator

    errors = sorted(Draft202012Validator(shape.json_schema).iter_errors(value), key=str)
    if not errors:
        return None
    where = "/".join(str(p) for p in errors[0].absolute_path) or "the top"
    return f"at {where}: {errors[0].message}"


def load_schema(
    value: Any, lines: Lines, base: Path, *, read: bool = True
) -> tuple[Schema | None, list[ExerciseProblem]]:
    """The schema an exercise gives inline or as a .json file beside it, or its problems.

    With `read=False` a schema file is not read (None): the run keeps the schema it began with.
    """
    from workbench.audit.exercise import validator_class

    validator_class()  # jsonschema without its slow IRI checkers (see there)
    if not isinstance(value, str):
        return _checked_schema(value, lines.file, lambda path: lines.line(("schema", *path)))
    if not read:
        return None, []
    where, why = inside(value, base)
    if where is None:
        return None, [lines.problem(("schema",), why)]
    try:
        text = where.read_text(encoding="utf-8")
        found = json.loads(text)
    except OSError as e:
        why = f"cannot read the schema file {value}: {e.strerror}"
        return None, [lines.problem(("schema",), why)]
    except UnicodeDecodeError:
        return None, [lines.problem(("schema",), f"the schema file {value} is not UTF-8 text")]
    except json.JSONDecodeError as e:
        return None, [ExerciseProblem(value, e.lineno, "schema", f"not JSON: {e.msg}")]
    if not isinstance(found, dict):
        why = f"the schema file {value} must hold a JSON object (a JSON Schema)"
        return None, [lines.problem(("schema",), why)]
    return _checked_schema(found, value, lambda path: _json_line(text, path))


def _checked_schema(
    value: dict[str, Any], file: str, line_of: Callable[[Path_], int | None]
) -> tuple[Schema | None, list[ExerciseProblem]]:
    """The Schema, or the problem `check_schema` finds, at the line of the part it is about."""
    try:
        return Schema.of(value), []
    except InvalidOption as e:
        return None, [ExerciseProblem(file, line_of(_schema_error_path(value)), "schema", str(e))]


def _json_line(text: str, path: Path_) -> int:
    """The line of a JSON document where the value at `path` is (its last key's line)."""
    at = -1
    for part in path:
        if not isinstance(part, str):
            break  # inside a list: the list's line is near enough
        found = text.find(json.dumps(part), at + 1)  # after the key it is inside
        if found < 0:
            break
        at = found
    return text.count("\n", 0, max(at, 0)) + 1


def _schema_error_path(value: dict[str, Any]) -> tuple[str | int, ...]:
    """Where in a schema the error `check_schema` reports is (for its line)."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    meta = Draft202012Validator(Draft202012Validator.META_SCHEMA)
    error = best_match(meta.iter_errors(value))
    return tuple(error.absolute_path) if error is not None else ()
