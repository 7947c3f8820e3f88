"""Keep secrets out of an audit run's files: the lab notebook's redaction, applied to them all.

A run's folder lives in the lab notebook and is committed with it, so every file the
workbench writes there (the exercise copy, the items, the manifest, the result rows, the
executed notebook) goes through the same `Redactor` as the records: the values of secret
environment variables, the shapes of providers' keys, and the config's `[labbook] redact`
patterns. The manifest keeps those patterns, so the kernel, a resume and a rerun redact
with the same ones even when their own config lacks them.

The exercise is redacted when the run is made, before anything is sent, so a model is
asked exactly what the lab notebook records: a key pasted into an item would otherwise
leak to every provider, and a prompt that differs from its record could be neither
resumed nor replayed (both find calls by the request's hash).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import ConfigError
from workbench.labbook.redact import REDACTED, Redactor

if TYPE_CHECKING:
    from workbench.audit.items import Item

DUMPED = "# A copy of {file}, key-like strings replaced by {redacted}.\n"


def redactor(patterns: Iterable[str]) -> Redactor:
    """A Redactor with these extra patterns, checked now (a bad pattern fails before any call)."""
    found = Redactor(list(patterns))
    try:
        found.text("")
    except re.error as e:
        raise ConfigError(
            f"a [labbook] redact pattern is not a regular expression ({e}): fix it in "
            "workbench.toml"
        ) from None
    return found


def patterns(*sources: Iterable[str]) -> list[str]:
    """The patterns of every source, each once, in order."""
    return list(dict.fromkeys(p for source in sources for p in source))


def exercise_text(text: str, redact: Redactor, file: str) -> str:
    """The exercise's text with secrets replaced, still YAML that loads to the redacted data.

    Replacing inside the text keeps comments and lines; where that would change what the
    YAML means (`[REDACTED]` opens a list in some places), the redacted data is written.
    """
    import yaml

    clean = redact.text(text)
    if clean == text:
        return text
    wanted = redact(yaml.safe_load(text))
    try:
        if yaml.safe_load(clean) == wanted:
            return clean
    except yaml.YAMLError:
        pass
    header = DUMPED.format(file=redact.text(file), redacted=REDACTED)
    return header + yaml.safe_dump(wanted, sort_keys=False, allow_unicode=True)


def items(found: Sequence[Item], redact: Redactor) -> list[Item]:
    """The items with secrets replaced in their ids, fields and expected values."""
    from workbench.audit.items import Item

    return [Item.from_dict(redact(item.to_dict())) for item in found]


def changed(before: Sequence[Item], after: Sequence[Item]) -> list[str]:
    """The ids (as redacted) of the items that redaction changed."""
    return [b.id for a, b in zip(before, after, strict=True) if a.to_dict() != b.to_dict()]


def params(given: Mapping[str, Any], redact: Redactor) -> dict[str, Any]:
    """Notebook parameters with secrets replaced (papermill writes them into the notebook)."""
    return dict(redact(dict(given)))


def notebook(
    source: Path,
    target: Path,
    redact: Redactor,
    change: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> None:
    """Write the executed notebook at `source` to `target` with every string redacted.

    Cell sources (papermill's injected parameters among them), outputs and metadata alike;
    `change` (provenance, portable paths) applies before the redaction.
    """
    from workbench.audit.store import atomic_write

    data = json.loads(source.read_text(encoding="utf-8"))
    if change is not None:
        data = change(data)
    text = json.dumps(redact(data), indent=1, sort_keys=True, ensure_ascii=False)
    atomic_write(target, text + "\n")
