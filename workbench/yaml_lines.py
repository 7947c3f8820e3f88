"""Where each value of a YAML document starts, so a problem can name its line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

KeyPath = tuple[str | int, ...]


class YamlLines:
    """A path of keys/indexes -> the line (1-based) its value starts on (`node`: yaml.compose)."""

    def __init__(self, file: str, node: Any) -> None:
        self.file = file
        self.lines: dict[KeyPath, int] = {}
        if node is not None:  # an empty document
            self._walk(node, ())

    def _walk(self, node: Any, path: KeyPath) -> None:
        import yaml

        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                sub = (*path, str(key.value))
                self.lines[sub] = key.start_mark.line + 1
                self._walk(value, sub)
        elif isinstance(node, yaml.SequenceNode):
            for i, value in enumerate(node.value):
                self._walk(value, (*path, i))

    def line(self, path: Sequence[str | int]) -> int | None:
        """The line of the deepest part of `path` that exists in the file."""
        path = tuple(path)
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path)
