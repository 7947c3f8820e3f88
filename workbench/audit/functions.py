"""A researcher's own Python function, named in an exercise (`checks.py:name` or `module:name`).

Loading runs the user's module: whatever it raises (a syntax error, a failed import) is a
`ScorerError` in one line, reported with the exercise's other problems.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench.errors import ScorerError


def load_function(spec: str, base: Path) -> Callable[..., Any]:
    """`module:name` or `path/to/file.py:name` (relative to `base`), or a ScorerError why not."""
    target, _, attr = spec.rpartition(":")
    if not target or not attr:
        raise ScorerError(
            f"function {spec!r} must look like module:name or file.py:name", scorer=spec
        )
    try:
        module = _load_module(target, base, spec)
    except ScorerError:
        raise
    except Exception as e:  # the user's module: a syntax error, or whatever its import raises
        raise ScorerError(f"cannot load {target}: {type(e).__name__}: {e}", scorer=spec) from None
    function = getattr(module, attr, None)
    if not callable(function):
        raise ScorerError(f"{target!r} has no function {attr!r}", scorer=spec)
    return function  # type: ignore[no-any-return]


def _load_module(target: str, base: Path, spec: str) -> Any:
    if target.endswith(".py"):
        path = (base / target).resolve()
        module_spec = importlib.util.spec_from_file_location(f"_audit_{path.stem}", path)
        if module_spec is None or module_spec.loader is None or not path.is_file():
            raise ScorerError(f"no Python file {target!r} next to the exercise", scorer=spec)
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
        return module
    try:
        return importlib.import_module(target)
    except ImportError as e:
        raise ScorerError(f"cannot import {target!r}: {e}", scorer=spec) from None
