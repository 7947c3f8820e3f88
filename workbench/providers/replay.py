"""Answers from the lab notebook: the same request gets the recorded reply, with no network.

`replay:openai:gpt-5.4` (or `compare(..., replay=True)`, which wraps every model) looks up
the request hash of model + messages + params among the recorded calls and returns the
latest successful reply to exactly that request, at no cost. A request never recorded is
an error that names it, so a rerun cannot silently differ from the run it reproduces.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from workbench.errors import ReplayMissing
from workbench.labbook.chain import prompt_hash
from workbench.providers.base import Completion, Model, Prompt, ProviderSettings, TextSink, Usage

_index_lock = threading.Lock()
_indexes: dict[Path, tuple[tuple[tuple[str, int], ...], dict[str, dict[str, Any]]]] = {}


def recorded_replies(root: Path) -> dict[str, dict[str, Any]]:
    """Request hash -> the latest complete answer's call record, rebuilt when a file grew."""
    from workbench.labbook import book

    snapshot = tuple((str(p), p.stat().st_size) for p in book.files(root))
    with _index_lock:
        cached = _indexes.get(root)
        if cached is not None and cached[0] == snapshot:
            return cached[1]
        index: dict[str, dict[str, Any]] = {}
        for record in book.records(root):
            reply = record.get("reply") or {}
            # Only complete answers: an answer without a finish reason was cut short.
            complete = reply.get("error") is None and reply.get("finish_reason") is not None
            if record.get("kind") == "call" and complete:
                index[record["request_hash"]] = record
        _indexes[root] = (snapshot, index)
        return index


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
