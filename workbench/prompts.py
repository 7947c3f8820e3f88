"""Prompt files: `prompts/NAME.md` at the repository's root, a prompt kept under git.

    ---
    role: referee                 # what the prompt is for (a workflow step's role)
    model: claude                 # the model to use where none is named
    system: You are a demanding referee. Be specific.
    temperature: 0.2              # any parameter: max_tokens, top_p, seed, stop, reasoning
    schema: review.schema.json    # a JSON Schema file (beside this one), or one inline
    description: A referee report on a draft.
    ---
    Referee this paper. Quote the lines you object to.

    {paper}

The body is the user message; `{name}` is a field filled in when the prompt is used (write
`{{name}}` for the braces themselves; other braces, as in JSON, are left alone). A field left
out, or one the file does not have, is a one-line error.

    wb.prompt("referee", paper=text)           # a Prompt, for wb.compare and the rest

The Prompt names its file (`Prompt.origin`): the file's path, the git blob hash of the text
used and whether that text differed from HEAD's. Call records keep it beside the request
(not in the request hash), so "which version of the referee prompt produced this?" has an
answer: `wb.log.to_frame()` has `prompt_name` and `prompt_version`, and
`workbench log --prompt referee` lists every use.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from workbench.errors import InvalidOption, InvalidPrompt
from workbench.options import PARAMS
from workbench.providers.base import Params, Prompt, PromptOrigin
from workbench.providers.content import Schema

FOLDER = "prompts"
"""The folder of prompt files, at the root of the repository (or of the working directory)."""
KEYS = ("model", "role", "system", "schema", "description", *PARAMS)
"""What the front matter may hold."""
_FIELD = re.compile(r"\{\{([A-Za-z_]\w*)\}\}|\{([A-Za-z_]\w*)\}")
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*")


@dataclass(frozen=True)
class PromptFile:
    """A prompt file, read and checked: its settings, its body and which version it is."""

    name: str
    path: Path
    body: str
    origin: PromptOrigin
    model: str | None = None
    role: str | None = None
    system: str | None = None
    description: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    schema: Schema | None = None

    @property
    def fields(self) -> list[str]:
        """The `{fields}` of the body, in order, once each."""
        return list(dict.fromkeys(fields_of(self.body)))

    def render(
        self, values: Mapping[str, Any] | None = None, *, files: Any = None, **more: Any
    ) -> Prompt:
        """The Prompt: the body with its fields filled in, the system prompt, params, schema."""
        given = {**(values or {}), **more}
        where = self.origin.path
        missing = [f for f in self.fields if f not in given]
        if missing:
            listed = ", ".join(f"{name}=..." for name in missing)
            raise InvalidPrompt(f"{where} needs {_braced(missing)}: give {listed}")
        unknown = sorted(set(given) - set(self.fields))
        if unknown:
            has = _braced(self.fields) if self.fields else "no fields"
            raise InvalidPrompt(f"{where} has no field {_braced(unknown)}: it has {has}")
        text = fill(self.body, {k: str(v) for k, v in given.items()})
        prompt = Prompt.of(
            text, system=self.system, files=files, schema=self.schema, **dict(self.params)
        )
        return Prompt(prompt.messages, prompt.params, prompt.schema, self.origin)


def fields_of(text: str) -> list[str]:
    """Every `{field}` of a body, in order (`{{field}}` is not one)."""
    return [m.group(2) for m in _FIELD.finditer(text) if m.group(2) is not None]


def fill(text: str, values: Mapping[str, str]) -> str:
    """`{field}` replaced by its value, `{{field}}` by `{field}`; other braces left alone."""

    def one(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return "{" + match.group(1) + "}"
        return values[match.group(2)]

    return _FIELD.sub(one, text)


def _braced(names: Sequence[str]) -> str:
    return ", ".join("{" + n + "}" for n in names)


def root(start: Path | None = None) -> Path:
    """The repository's root holding `start` (default: the working directory), else `start`."""
    from workbench.labbook import git_toplevel

    here = (start or Path.cwd()).resolve()
    return git_toplevel(here) or here


def folder(start: Path | None = None) -> Path:
    """The prompt files' folder: `prompts/` at the root of the repository."""
    return root(start) / FOLDER


def names(start: Path | None = None) -> list[str]:
    """The prompts there are, by name (subfolders give "review/short")."""
    base = folder(start)
    return sorted(p.relative_to(base).with_suffix("").as_posix() for p in base.rglob("*.md"))


def find(name: str, start: Path | None = None) -> Path:
    """The file of a prompt name (or a path to a .md file), or a one-line InvalidPrompt."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidPrompt(f"a prompt is named by text (prompts/NAME.md), not {name!r}")
    name = name.strip()
    if name.endswith(".md"):  # a path
        path = Path(name) if Path(name).is_absolute() else (start or Path.cwd()) / name
        if not path.is_file():
            raise InvalidPrompt(f"no prompt file {name}: check the path")
        return path.resolve()
    if not _NAME.fullmatch(name) or ".." in name.split("/"):
        raise InvalidPrompt(
            f"{name!r} is not a prompt name: use letters, digits, '.', '-', '_' (and '/' for "
            "a subfolder of prompts/)"
        )
    path = folder(start) / f"{name}.md"
    if not path.is_file():
        known = names(start)
        listed = f": there are {', '.join(known)}" if known else " (there are none yet)"
        raise InvalidPrompt(f"no prompt {name!r}: write {_shown(path)}{listed}")
    return path


def load(name: str, start: Path | None = None) -> PromptFile:
    """A prompt file by name (prompts/NAME.md) or path, read and checked."""
    path = find(name, start)
    data = path.read_bytes()
    top = root(path.parent) if name.strip().endswith(".md") else root(start)
    rel = _relative(path, top)
    where = rel
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise InvalidPrompt(f"{where} is not UTF-8 text (byte {e.start})") from None
    settings, body = split_front_matter(text, where)
    unknown = sorted(set(settings) - set(KEYS))
    if unknown:
        raise InvalidPrompt(
            f"{where}: unknown key {unknown[0]!r} in the front matter; use {', '.join(KEYS)}"
        )
    for key in ("model", "role", "system", "description"):
        value = settings.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise InvalidPrompt(f"{where}: {key} must be text, not {value!r}")
    params = {k: settings[k] for k in PARAMS if k in settings}
    try:
        Params.from_mapping(params)
    except InvalidPrompt as e:
        raise InvalidPrompt(f"{where}: {e}") from None
    if not body.strip():
        raise InvalidPrompt(f"{where} has no text after its front matter: write the prompt")
    label = (
        path.relative_to(top / FOLDER).with_suffix("").as_posix()
        if _under(path, top / FOLDER)
        else path.stem
    )
    return PromptFile(
        name=label,
        path=path,
        body=body,
        origin=PromptOrigin(label, rel, blob_hash(data), _dirty(top, rel, data)),
        model=_strip(settings.get("model")),
        role=_strip(settings.get("role")),
        system=settings.get("system"),
        description=settings.get("description"),
        params=params,
        schema=_schema(settings.get("schema"), path, where),
    )


def prompt(name: str, /, *, files: Any = None, **fields: Any) -> Prompt:
    """`wb.prompt("referee", paper=text)`: the prompt file prompts/NAME.md, filled in.

    `files` are sent with it (paths or `File`s); the Prompt names its file and version.
    """
    return load(name).render(fields, files=files)


def split_front_matter(text: str, where: str) -> tuple[dict[str, Any], str]:
    """(the YAML front matter as a mapping, the body); no front matter is an empty mapping."""
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip() != "---":
        return {}, text
    end = next((i for i, line in enumerate(lines[1:], 1) if line.rstrip() == "---"), None)
    if end is None:
        raise InvalidPrompt(f"{where}: the front matter has no closing '---' line")
    try:
        settings = yaml.safe_load("".join(lines[1:end])) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" (line {mark.line + 2})" if mark is not None else ""
        raise InvalidPrompt(f"{where}: the front matter is not YAML{at}") from None
    if not isinstance(settings, dict):
        raise InvalidPrompt(f"{where}: the front matter must be 'key: value' lines")
    body = "".join(lines[end + 1 :])
    return settings, body.removeprefix("\n").rstrip("\r\n")


def blob_hash(data: bytes) -> str:
    """The git blob hash of `data`: what `git hash-object` prints for a file holding it."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def committed_blob(top: Path, rel: str) -> str | None:
    """The blob hash of `rel` in HEAD of the repository at `top` (None: not there)."""
    try:
        done = subprocess.run(
            ["git", "ls-tree", "-z", "HEAD", "--", rel],
            cwd=top,
            capture_output=True,
            check=False,
        )
    except OSError:
        return None
    parts = done.stdout.split(b"\t", 1)[0].split()
    return parts[2].decode() if done.returncode == 0 and len(parts) == 3 else None


def _dirty(top: Path, rel: str, data: bytes) -> bool:
    return committed_blob(top, rel) != blob_hash(data)


def _schema(value: Any, path: Path, where: str) -> Schema | None:
    if value is None:
        return None
    if isinstance(value, str):  # a JSON Schema file, beside the prompt file
        source = path.parent / value
        try:
            value = json.loads(source.read_text(encoding="utf-8"))
        except OSError as e:
            raise InvalidPrompt(f"{where}: schema {value}: cannot read it ({e.strerror})") from None
        except ValueError as e:
            raise InvalidPrompt(f"{where}: schema {value}: not JSON ({e})") from None
    if not isinstance(value, dict):
        raise InvalidPrompt(f"{where}: schema must be a JSON Schema (a mapping) or a file name")
    try:
        return Schema.of(value)
    except InvalidOption as e:
        raise InvalidPrompt(f"{where}: {e}") from None


def _strip(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) else None


def _under(path: Path, folder: Path) -> bool:
    return folder.resolve() in path.resolve().parents


def _relative(path: Path, top: Path) -> str:
    try:
        return path.resolve().relative_to(top.resolve()).as_posix()
    except ValueError:
        return str(path.resolve())


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


__all__ = ["FOLDER", "KEYS", "PromptFile", "find", "folder", "load", "names", "prompt"]
