"""What a prompt can carry besides text: files (images, PDFs, text) and an output schema.

A `File` is its bytes, a name and a media type, named by its sha256: records and request
hashes name files by hash, so the same bytes are the same request wherever they came from.
A `Schema` is a JSON Schema (from a dict or a pydantic model) that the answer must follow;
`Schema.parse` turns an answer's text into the value, or says why it does not fit.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from workbench.errors import InvalidOption, InvalidOutput, InvalidPrompt

FileKind = Literal["image", "pdf", "text"]

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
TEXT_TYPES = ("text/plain", "text/markdown", "text/csv", "application/json")
_SNIFF = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
)
MAX_FILE_BYTES = 100 * 1024 * 1024
"""No provider takes a bigger file inline; refused before it is read whole."""


@dataclass(frozen=True)
class File:
    """A file sent with a message: its bytes, its name, its media type, named by sha256."""

    name: str
    media_type: str
    data: bytes = field(repr=False)
    sha256: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.sha256:
            object.__setattr__(self, "sha256", hashlib.sha256(self.data).hexdigest())

    @classmethod
    def load(cls, path: str | Path, media_type: str | None = None) -> File:
        """Read a file; its media type from its first bytes or its name, or a one-line error."""
        where = Path(path).expanduser()
        try:
            size = where.stat().st_size
            if size > MAX_FILE_BYTES:
                raise InvalidPrompt(
                    f"{where} is {size / 1e6:.1f} MB: no provider takes a file above "
                    f"{MAX_FILE_BYTES / 1e6:.0f} MB inline"
                )
            data = where.read_bytes()
        except OSError as e:
            raise InvalidPrompt(f"cannot read the file {where}: {e.strerror or e}") from None
        return cls.of(data, where.name, media_type)

    @classmethod
    def of(cls, data: bytes, name: str, media_type: str | None = None) -> File:
        """A file from bytes in memory (the media type found as `load` finds it)."""
        kind = media_type or sniff(data, name)
        if kind is None:
            raise InvalidPrompt(
                f"cannot tell what kind of file {name} is: give its media type "
                "(images: png, jpeg, gif, webp; application/pdf; text/plain)"
            )
        return cls(name, kind, data)

    @property
    def kind(self) -> FileKind | None:
        """The kind ("image", "pdf" or "text"); None for a type no provider here takes."""
        if self.media_type in IMAGE_TYPES:
            return "image"
        if self.media_type == "application/pdf":
            return "pdf"
        if self.media_type.startswith("text/") or self.media_type in TEXT_TYPES:
            return "text"
        return None

    @property
    def size(self) -> int:
        """Bytes."""
        return len(self.data)

    def text(self) -> str:
        """A text file's content (UTF-8), for providers that take text files as text."""
        try:
            return self.data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidPrompt(f"{self.name} is not UTF-8 text") from None

    def to_dict(self) -> dict[str, Any]:
        """What records and request hashes say of the file: its name, type, size and hash."""
        return {
            "name": self.name,
            "media_type": self.media_type,
            "size": self.size,
            "sha256": self.sha256,
        }


def sniff(data: bytes, name: str) -> str | None:
    """The media type of `data`: from its first bytes, else from the file name."""
    for magic, kind in _SNIFF:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    guessed, _ = mimetypes.guess_type(name)
    if guessed is None and Path(name).suffix.lower() in (".md", ".markdown"):
        guessed = "text/markdown"
    return guessed


def files_of(values: Sequence[str | Path | File] | str | Path | File | None) -> tuple[File, ...]:
    """Files from paths or File objects (one, or a list), loaded now."""
    if values is None:
        return ()
    if isinstance(values, str | Path | File):
        values = [values]
    loaded = []
    for value in values:
        if isinstance(value, File):
            loaded.append(value)
        elif isinstance(value, str | Path):
            loaded.append(File.load(value))
        else:
            raise InvalidPrompt(f"files must be paths or File objects, not {type(value).__name__}")
    return tuple(loaded)


@dataclass(frozen=True)
class Schema:
    """The JSON Schema an answer must follow, and (when given one) the pydantic model."""

    json_schema: Mapping[str, Any]
    name: str = "answer"
    model: type[Any] | None = field(default=None, compare=False)

    def __hash__(self) -> int:  # a Prompt (and a Job) holding it is a dict key
        return hash((self.name, json.dumps(self.json_schema, sort_keys=True, default=str)))

    @classmethod
    def of(cls, value: Mapping[str, Any] | type[Any] | Schema) -> Schema:
        """From a JSON Schema dict or a pydantic model class."""
        if isinstance(value, Schema):
            return value
        if isinstance(value, type) and hasattr(value, "model_json_schema"):
            return cls(value.model_json_schema(), _name(value.__name__), value)
        if isinstance(value, Mapping):
            check_schema(value)
            return cls(dict(value), _name(str(value.get("title") or "answer")))
        raise InvalidOption(
            f"schema must be a JSON Schema (a dict) or a pydantic model class, not {value!r}"
        )

    def parse(self, text: str, data: Any = None) -> Any:
        """The answer's value (`data` if the provider gave it parsed), checked, or InvalidOutput."""
        if data is None:
            try:
                data = json.loads(_unfenced(text))
            except ValueError as e:
                raise InvalidOutput(f"the answer is not JSON ({e})", raw=text) from None
        from jsonschema import Draft202012Validator

        errors = sorted(Draft202012Validator(self.json_schema).iter_errors(data), key=str)
        if errors:
            where = "/".join(str(p) for p in errors[0].absolute_path) or "the answer"
            raise InvalidOutput(
                f"the answer does not fit the schema at {where}: {errors[0].message}", raw=text
            )
        if self.model is not None:
            return self.model.model_validate(data)
        return data

    def to_dict(self) -> dict[str, Any]:
        """As recorded and hashed: its name and the JSON Schema."""
        return {"name": self.name, "json_schema": dict(self.json_schema)}


def check_schema(value: Mapping[str, Any]) -> None:
    """A one-line InvalidOption unless `value` is a valid JSON Schema."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    try:
        Draft202012Validator.check_schema(value)
    except SchemaError as e:
        raise InvalidOption(f"schema is not a valid JSON Schema: {e.message}") from None


def _name(text: str) -> str:
    """A schema name every provider takes: letters, digits, _ and - only, 64 at most."""
    clean = "".join(c if c.isalnum() or c in "_-" else "_" for c in text)[:64]
    return clean or "answer"


def _unfenced(text: str) -> str:
    """The JSON inside a Markdown code fence, if the answer came fenced."""
    stripped = text.strip()
    if stripped.startswith("```"):
        body = stripped.split("\n", 1)[1] if "\n" in stripped else ""
        return body.rsplit("```", 1)[0]
    return stripped
