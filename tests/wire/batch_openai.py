"""OpenAI's Batch API on top of the Chat Completions wire server, for the real `openai` SDK.

`POST /v1/files` (multipart, purpose=batch: the JSONL of requests), `POST /v1/batches`
(input_file_id, endpoint, completion_window), `GET /v1/batches/{id}` (status `validating`,
then `in_progress`, then `completed`, `expired` or `cancelled`, with `request_counts` and
the ids of the output and error files), `GET /v1/files/{id}/content`. As OpenAI does, a
batch file holds requests for one model and one endpoint, each `custom_id` once; answered
requests go to the output file, failed ones (an error status) and unrun ones
(`batch_expired`, `batch_cancelled`) to the error file.
"""

from __future__ import annotations

import email
import json
from dataclasses import dataclass, field
from typing import Any

from tests.wire.batch_harness import (
    BatchJob,
    BatchState,
    install,
    jsonl,
    note,
    send_bytes,
    send_json,
)
from tests.wire.harness import Request, now
from tests.wire.openai_server import OpenAIServer


@dataclass
class OpenAIBatchServer(OpenAIServer):
    """Chat Completions plus OpenAI's Batch API on 127.0.0.1."""

    batches: BatchState = field(default_factory=BatchState)
    files: dict[str, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__post_init__()
        install(self, self._batch_route)

    def _batch_route(
        self, handler: Any, method: str, path: str, raw: bytes, headers: dict[str, str]
    ) -> bool:
        path = path.split("?", 1)[0]
        if not (path.startswith("/v1/files") or path.startswith("/v1/batches")):
            return False
        note(self, method, path, headers, raw if "json" in headers.get("content-type", "") else b"")
        if not self.authorized(headers, path):
            send_json(handler, 401, self.error_body(401, "Incorrect API key provided."))
            return True
        parts = path.strip("/").split("/")
        if method == "POST" and parts == ["v1", "files"]:
            self._upload(handler, raw, headers.get("content-type", ""))
        elif method == "POST" and parts == ["v1", "batches"]:
            self._create(handler, json.loads(raw or b"{}"))
        elif method == "GET" and len(parts) == 3 and parts[1] == "batches":
            job = self.batches.poll(self, parts[2])
            if job is None:
                send_json(handler, 404, self.error_body(404, f"No batch found with id {parts[2]}"))
            else:
                send_json(handler, 200, self._batch(job))
        elif method == "GET" and len(parts) == 4 and parts[1] == "files" and parts[3] == "content":
            data = self.files.get(parts[2])
            if data is None:
                send_json(handler, 404, self.error_body(404, f"No such File object: {parts[2]}"))
            else:
                send_bytes(handler, data)
        else:
            send_json(handler, 404, self.error_body(404, f"no route for {method} {path}"))
        return True

    def _upload(self, handler: Any, raw: bytes, ctype: str) -> None:
        message = email.message_from_bytes(f"Content-Type: {ctype}\r\n\r\n".encode() + raw)
        fields: dict[str, bytes] = {}
        name = "batch.jsonl"
        for part in message.walk():
            key = part.get_param("name", header="content-disposition")
            if key is None:
                continue
            payload = part.get_payload(decode=True)
            fields[str(key)] = payload if isinstance(payload, bytes) else b""
            name = str(part.get_param("filename", name, header="content-disposition"))
        if fields.get("purpose") != b"batch" or "file" not in fields:
            send_json(handler, 400, self.error_body(400, "a batch file needs purpose=batch"))
            return
        file_id = f"file-{len(self.files) + 1:06d}"
        self.files[file_id] = fields["file"]
        send_json(
            handler,
            200,
            {
                "id": file_id,
                "object": "file",
                "bytes": len(fields["file"]),
                "created_at": now(),
                "filename": name,
                "purpose": "batch",
                "status": "processed",
            },
        )

    def _create(self, handler: Any, body: dict[str, Any]) -> None:
        data = self.files.get(str(body.get("input_file_id")))
        endpoint = body.get("endpoint")
        if data is None or endpoint != "/v1/chat/completions":
            send_json(handler, 400, self.error_body(400, "unknown input file or endpoint"))
            return
        lines = [json.loads(line) for line in data.decode().splitlines() if line.strip()]
        ids = [line.get("custom_id") for line in lines]
        models = {line.get("body", {}).get("model") for line in lines}
        wrong = [x for x in lines if x.get("url") != endpoint or x.get("method") != "POST"]
        if len(set(ids)) != len(ids) or len(models) != 1 or wrong or not lines:
            problem = "custom_id must be unique, one model per file, url = the endpoint"
            send_json(handler, 400, self.error_body(400, problem))
            return
        requests = [(str(x["custom_id"]), Request("POST", endpoint, {}, x["body"])) for x in lines]
        job = self.batches.new("batch_", requests)
        send_json(handler, 200, {**self._batch(job), "status": "validating"})

    def _batch(self, job: BatchJob) -> dict[str, Any]:
        total = len(job.requests)
        status, completed, failed = "in_progress", 0, 0
        output_id = error_id = None
        if job.results is not None:
            status = "completed"
            if job.expired:
                status = "cancelled" if self.batches.cancelled else "expired"
            ok = [r for r in job.results if r.status == 200 and not r.expired]
            bad = [r for r in job.results if r.status != 200 or r.expired]
            completed, failed = len(ok), len([r for r in bad if not r.expired])
            cancelled = self.batches.cancelled
            output_id = self._file(job, "out", [_line(r, cancelled) for r in ok]) if ok else None
            error_id = self._file(job, "err", [_line(r, cancelled) for r in bad]) if bad else None
        return {
            "id": job.id,
            "object": "batch",
            "endpoint": "/v1/chat/completions",
            "input_file_id": "file-input",
            "completion_window": "24h",
            "status": status,
            "created_at": now(),
            "output_file_id": output_id,
            "error_file_id": error_id,
            "request_counts": {"total": total, "completed": completed, "failed": failed},
            "errors": None,
        }

    def _file(self, job: BatchJob, kind: str, rows: list[dict[str, Any]]) -> str:
        file_id = f"file-{job.id}-{kind}"
        self.files[file_id] = jsonl(rows)
        return file_id


def _line(result: Any, cancelled: bool) -> dict[str, Any]:
    if result.expired:
        error = {
            "code": "batch_expired",
            "message": "This request could not be executed before the completion window expired.",
        }
        if cancelled:
            error = {"code": "batch_cancelled", "message": "This request was cancelled."}
        return {"id": f"batch_req_{result.custom_id}", "custom_id": result.custom_id,
                "response": None, "error": error}  # fmt: skip
    response = {"status_code": result.status, "request_id": "req_wire", "body": result.body}
    return {"id": f"batch_req_{result.custom_id}", "custom_id": result.custom_id,
            "response": response, "error": None}  # fmt: skip
