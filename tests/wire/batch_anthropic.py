"""Anthropic's Message Batches on top of the Messages wire server, for the real `anthropic` SDK.

`POST /v1/messages/batches` (`requests: [{custom_id, params}]`), `GET
/v1/messages/batches/{id}` (`processing_status` `in_progress`, then `ended`, with
`request_counts` and, once ended, a `results_url`), and the results as JSON Lines at that URL:
`{"custom_id", "result": {"type": "succeeded", "message"}}`, `{"type": "errored", "error":
{"type": "error", "error": {"type", "message"}}}` or `{"type": "expired"}` (or "canceled").
As Anthropic does, a `custom_id` is 1-64 letters, digits, `-` or `_`, unique in its batch.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.wire.anthropic_server import AnthropicServer
from tests.wire.batch_harness import (
    BatchJob,
    BatchState,
    install,
    jsonl,
    note,
    send_bytes,
    send_json,
)
from tests.wire.harness import Request

_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


@dataclass
class AnthropicBatchServer(AnthropicServer):
    """The Messages API plus Message Batches on 127.0.0.1."""

    batches: BatchState = field(default_factory=BatchState)

    def __post_init__(self) -> None:
        super().__post_init__()
        install(self, self._batch_route)

    def _batch_route(
        self, handler: Any, method: str, path: str, raw: bytes, headers: dict[str, str]
    ) -> bool:
        path = path.split("?", 1)[0]
        if not path.startswith("/v1/messages/batches"):
            return False
        note(self, method, path, headers, raw)
        if not self.authorized(headers, path):
            send_json(handler, 401, self.error_body(401, "invalid x-api-key"))
            return True
        parts = path.strip("/").split("/")  # v1 messages batches [id [results]]
        if method == "POST" and len(parts) == 3:
            self._create(handler, json.loads(raw or b"{}"))
        elif method == "GET" and len(parts) in (4, 5):
            job = self.batches.poll(self, parts[3])
            if job is None:
                missing = self.error_body(404, f"no batch {parts[3]}", "not_found_error")
                send_json(handler, 404, missing)
            elif len(parts) == 4:
                send_json(handler, 200, self._batch(job))
            elif job.results is None:
                send_json(handler, 400, self.error_body(400, "the batch is still in progress"))
            else:
                send_bytes(handler, jsonl([self._result(r) for r in job.results]))
        else:
            send_json(handler, 404, self.error_body(404, f"no route for {method} {path}"))
        return True

    def _create(self, handler: Any, body: dict[str, Any]) -> None:
        given = body.get("requests") or []
        ids = [r.get("custom_id") for r in given]
        bad = [i for i in ids if not isinstance(i, str) or not _CUSTOM_ID.match(i)]
        if not given or bad or len(set(ids)) != len(ids):
            problem = "each custom_id: 1-64 of [a-zA-Z0-9_-], unique in the batch"
            send_json(handler, 400, self.error_body(400, problem))
            return
        requests = [
            (str(r["custom_id"]), Request("POST", "/v1/messages", {}, r.get("params") or {}))
            for r in given
        ]
        job = self.batches.new("msgbatch_", requests)
        send_json(handler, 200, self._batch(job))

    def _batch(self, job: BatchJob) -> dict[str, Any]:
        created = datetime.now(UTC)
        counts = {"processing": len(job.requests), "succeeded": 0, "errored": 0,
                  "canceled": 0, "expired": 0}  # fmt: skip
        ended = job.results is not None
        if job.results is not None:
            counts["processing"] = 0
            for r in job.results:
                unrun = "canceled" if self.batches.cancelled else "expired"
                kind = unrun if r.expired else ("succeeded" if r.status == 200 else "errored")
                counts[kind] += 1
        return {
            "id": job.id,
            "type": "message_batch",
            "processing_status": "ended" if ended else "in_progress",
            "request_counts": counts,
            "created_at": created.isoformat(),
            "expires_at": (created + timedelta(hours=24)).isoformat(),
            "ended_at": created.isoformat() if ended else None,
            "cancel_initiated_at": None,
            "archived_at": None,
            "results_url": f"{self.root_url}/v1/messages/batches/{job.id}/results"
            if ended
            else None,
        }

    def _result(self, r: Any) -> dict[str, Any]:
        if r.expired:
            unrun = "canceled" if self.batches.cancelled else "expired"
            return {"custom_id": r.custom_id, "result": {"type": unrun}}
        if r.status != 200:
            error = {"type": "error", "error": r.body["error"], "request_id": None}
            return {"custom_id": r.custom_id, "result": {"type": "errored", "error": error}}
        return {"custom_id": r.custom_id, "result": {"type": "succeeded", "message": r.body}}
