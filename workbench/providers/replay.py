"""Answers from the lab notebook: the same request gets the recorded reply, with no network.

`replay:openai:gpt-5.4` (or `compare(..., replay=True)`, which wraps every model) looks up
the request hash of model + messages + params among the recorded calls and returns the
latest successful reply to exactly that request, at no cost. A request never recorded is
an error that names it, so a rerun cannot silently differ from the run it reproduces.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Protocol

from workbench.errors import ReplayMissing
from workbench.labbook.chain import prompt_hash
from workbench.providers.base import Completion, Model, Prompt, ProviderSettings, TextSink, Usage


class Replies(Protocol):
    """Request hash -> the latest complete answer's call record (None: never recorded)."""

    def get(self, key: str, /) -> dict[str, Any] | None:
        """The record that answers the request `key`, or None."""


_index_lock = threading.Lock()
_indexes: dict[Path, tuple[tuple[tuple[str, int], ...], Replies]] = {}


def recorded_replies(root: Path) -> Replies:
    """Request hash -> the latest complete answer's call record, rebuilt when a file grew.

    A big lab notebook (`lookup.BIG_BYTES`) is indexed through its frame, and each record is
    read from its line when asked for; a small one is read whole.
    """
    from workbench.labbook import book, lookup

    snapshot = tuple((str(p), p.stat().st_size) for p in book.files(root))
    with _index_lock:
        cached = _indexes.get(root)
        if cached is not None and cached[0] == snapshot:
            return cached[1]
        index: Replies
        if sum(size for _, size in snapshot) >= lookup.BIG_BYTES:
            index = FrameReplies(lookup.frame(root))
        else:
            index = {}
            for record in book.records(root):
                if _complete(record):
                    index[record["request_hash"]] = record
        _indexes[root] = (snapshot, index)
        return index


def _complete(record: dict[str, Any]) -> bool:
    """A call whose answer ended: one without a finish reason was cut short."""
    reply = record.get("reply") or {}
    complete = reply.get("error") is None and reply.get("finish_reason") is not None
    return record.get("kind") == "call" and complete


class FrameReplies:
    """`Replies` of a big lab notebook: the frame says where each request's calls are.

    The newest successful call to a request is read from its line and checked as a small
    lab notebook's are (`_complete`); when it fails that check, the earlier ones are tried.
    """

    def __init__(self, frame: Any) -> None:
        call = (frame["kind"] == "call").to_numpy(dtype=bool, na_value=False)
        ok = frame["ok"].to_numpy(dtype=bool, na_value=False)
        rows = frame.loc[call & ok, ["request_hash", "file", "line"]]
        self._hashes = rows["request_hash"].reset_index(drop=True)
        files = rows["file"].array  # a Categorical: a code per row, each name made once
        self._file_codes, self._file_names = files.codes, [str(f) for f in files.categories]
        self._lines = rows["line"].to_numpy(dtype="int64")
        newest = self._hashes.drop_duplicates(keep="last")
        self._newest = dict(zip(newest.tolist(), newest.index.tolist(), strict=True))
        self._lock = threading.Lock()
        self._found: dict[str, dict[str, Any] | None] = {}

    def get(self, key: str, /) -> dict[str, Any] | None:
        """The newest complete call to the request `key`, read from its line; or None."""
        import numpy as np

        with self._lock:
            if key in self._found:
                return self._found[key]
            found = None
            at = self._newest.get(key)
            if at is not None:
                found = self._read(at, key)
                if found is None:  # the newest did not end: the earlier calls, newest first
                    same = (self._hashes.iloc[:at] == key).to_numpy(dtype=bool, na_value=False)
                    for i in reversed(np.flatnonzero(same).tolist()):
                        found = self._read(i, key)
                        if found is not None:
                            break
            self._found[key] = found
            return found

    def _read(self, at: int, key: str) -> dict[str, Any] | None:
        """The call in row `at`, when it answers `key` and ended."""
        from workbench.labbook.lookup import record_at

        path = self._file_names[self._file_codes[at]]
        record = record_at(path, int(self._lines[at]))
        return record if _complete(record) and record.get("request_hash") == key else None


class ReplayModel(Model):
    """Answers from recorded calls; `model_id` is the full name of the model replayed."""

    provider = "replay"
    # Whatever the replayed model took, its record answers: a request it could not take was
    # never recorded, and is a ReplayMissing naming it.
    file_kinds = frozenset({"image", "pdf", "text"})
    structured = True
    reasoning = True

    def __init__(self, model_id: str, settings: ProviderSettings) -> None:
        super().__init__(model_id, settings)
        if ":" not in model_id:
            from workbench.errors import UnknownModel

            raise UnknownModel(f"replay:{model_id}")
        self._root = Path(settings.options["labbook"]) if "labbook" in settings.options else None

    def _labbook_root(self) -> Path:
        if self._root is None:
            from workbench.config import Config
            from workbench.labbook import locate

            self._root = locate(Config.load())
        return self._root

    async def complete(
        self,
        prompt: Prompt,
        on_text: TextSink | None = None,
        on_thinking: TextSink | None = None,
    ) -> Completion:
        """The recorded reply to exactly this request, streamed back in one piece (each)."""
        key = prompt_hash(self.model_id, prompt)
        record = recorded_replies(self._labbook_root()).get(key)
        if record is None:
            raise ReplayMissing(
                f"no recorded reply of {self.model_id} to {prompt.text[:60]!r} "
                f"(request {key[:12]}) in {self._labbook_root()}: run it live first"
            )
        reply = record["reply"]
        if on_thinking is not None and reply.get("thinking"):
            on_thinking(reply["thinking"])
        if on_text is not None and reply["text"]:
            on_text(reply["text"])
        return Completion(
            text=reply["text"],
            usage=Usage.from_dict(reply.get("usage")),
            finish_reason=reply.get("finish_reason"),
            model_version=reply.get("model_version"),
            data=reply.get("data"),
            thinking=reply.get("thinking"),
        )
