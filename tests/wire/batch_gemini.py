"""Gemini's batch mode (inline requests) on top of the generateContent wire server.

`POST /{version}/models/{model}:batchGenerateContent` with `batch.inputConfig.requests.requests:
[{request, metadata}]` answers a long-running operation named `batches/{id}`; `GET
/{version}/batches/{id}` gives its `metadata.state` (`BATCH_STATE_PENDING`, `..._RUNNING`,
then `..._SUCCEEDED` or `..._EXPIRED`) and, once succeeded, `metadata.output.inlinedResponses.
inlinedResponses`, one per request in order, each a `response` or an `error` (a
google.rpc.Status) with the request's `metadata`. As Gemini documents, an expired batch has
no results at all.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.wire.batch_harness import BatchJob, BatchState, install, note, send_json
from tests.wire.gemini_server import GeminiServer
from tests.wire.harness import Request

_CREATE = re.compile(r"^/(v1|v1beta)/models/([^/:]+):batchGenerateContent$")
_TYPE = "type.googleapis.com/google.ai.generativelanguage.v1beta."
_GET = re.compile(r"^/(v1|v1beta)/batches/([^/:]+)$")


@dataclass
class GeminiBatchServer(GeminiServer):
    """generateContent plus batch mode with inline requests on 127.0.0.1."""

    batches: BatchState = field(default_factory=BatchState)
    job_models: dict[str, tuple[str, str | None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        install(self, self._batch_route)

    def _batch_route(
        self, handler: Any, method: str, path: str, raw: bytes, headers: dict[str, str]
    ) -> bool:
        bare = path.split("?", 1)[0]
        create, get = _CREATE.match(bare), _GET.match(bare)
        if create is None and get is None:
            return False
        note(self, method, bare, headers, raw)
        if not self.authorized(headers, path):
            send_json(handler, 401, self.error_body(401, "API key not valid."))
            return True
        if method == "POST" and create is not None:
            self._create(handler, create.group(1), create.group(2), json.loads(raw or b"{}"))
        elif method == "GET" and get is not None:
            job = self.batches.poll(self, get.group(2))
            if job is None:
                send_json(handler, 404, self.error_body(404, f"no batch {get.group(2)}"))
            else:
                send_json(handler, 200, self._operation(job))
        else:
            send_json(handler, 404, self.error_body(404, f"no route for {method} {bare}"))
        return True

    def _create(self, handler: Any, version: str, model: str, body: dict[str, Any]) -> None:
        config = (body.get("batch") or {}).get("inputConfig") or {}
        given = (config.get("requests") or {}).get("requests") or []
        if not given:
            send_json(handler, 400, self.error_body(400, "inputConfig.requests is empty"))
            return
        requests = [
            (
                json.dumps(r.get("metadata")),
                Request("POST", f"/{version}/models/{model}:generateContent", {}, r["request"]),
            )
            for r in given
        ]
        job = self.batches.new("wirebatch", requests)
        self.job_models[job.id] = (f"models/{model}", body.get("batch", {}).get("displayName"))
        send_json(handler, 200, self._operation(job, created=True))

    def _operation(self, job: BatchJob, created: bool = False) -> dict[str, Any]:
        model, display = self.job_models.get(job.id, ("models/unknown", None))
        stamp = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        meta: dict[str, Any] = {
            "@type": _TYPE + "GenerateContentBatch",
            "name": f"batches/{job.id}",
            "model": model,
            "displayName": display or job.id,
            "createTime": stamp,
            "updateTime": stamp,
            "state": "BATCH_STATE_PENDING" if created else "BATCH_STATE_RUNNING",
            "batchStats": {"requestCount": str(len(job.requests))},
        }
        operation: dict[str, Any] = {"name": f"batches/{job.id}", "metadata": meta}
        if job.results is None:
            return operation
        meta["endTime"] = stamp
        operation["done"] = True
        if job.expired:  # Gemini: an expired job has no results to retrieve
            meta["state"] = "BATCH_STATE_EXPIRED"
            if self.batches.cancelled:  # modelled the same: nothing to retrieve
                meta["state"] = "BATCH_STATE_CANCELLED"
            return operation
        meta["state"] = "BATCH_STATE_SUCCEEDED"
        answers = []
        for r in job.results:
            metadata = json.loads(r.custom_id)
            if r.status != 200:
                error = r.body.get("error") or {}
                answers.append({"error": {"code": error.get("code", r.status),
                                          "message": error.get("message", "")},
                                "metadata": metadata})  # fmt: skip
            else:
                answers.append({"response": r.body, "metadata": metadata})
        ok = sum(1 for r in job.results if r.status == 200)
        meta["batchStats"].update(
            successfulRequestCount=str(ok), failedRequestCount=str(len(job.results) - ok)
        )
        meta["output"] = {"inlinedResponses": {"inlinedResponses": answers}}
        operation["response"] = {
            "@type": _TYPE + "GenerateContentBatchOutput",
            **meta["output"],
        }
        return operation
