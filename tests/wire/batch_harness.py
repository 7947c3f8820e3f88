"""What the three batch wire servers share: batch jobs that run, end or expire, and routing.

A batch server is the vendor's ordinary wire server (OpenAIServer, AnthropicServer,
GeminiServer) with the batch endpoints in front: a request to a batch path is answered
here, any other goes on to the vendor server's own handling. Each request of a batch is
answered by the vendor server's own machinery (scripted steps, `script`, `responder`,
its checks of the request body), as if it had been sent alone, when the batch ends.

A job stays in progress for `in_progress_polls` polls, then ends. With `expire_after`
set, only that many requests are answered and the batch expires (or, with `cancelled`, is
cancelled): the rest never ran.
"""

from __future__ import annotations

import io
import itertools
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.wire.harness import Request, WireServer

_ids = itertools.count(1)


@dataclass
class Answered:
    """One request of a batch once the batch ended."""

    custom_id: str
    request: Request
    status: int = 200
    """200: `body` is the answer; 4xx/5xx: `body` is the vendor's error body."""
    body: dict[str, Any] = field(default_factory=dict)
    expired: bool = False
    """The batch ended (expired, cancelled) before this request ran."""


@dataclass
class BatchJob:
    """One batch on the server."""

    id: str
    requests: list[tuple[str, Request]]
    polls: int = 0
    results: list[Answered] | None = None
    """None while the batch runs; every request's outcome once it ended."""
    expired: bool = False


@dataclass
class BatchState:
    """The batch jobs of one server and how they behave."""

    in_progress_polls: int = 1
    """Polls that see a batch still running before it ends."""
    expire_after: int | None = None
    """Answer this many requests of a batch, then let it expire (None: answer them all)."""
    cancelled: bool = False
    """With `expire_after`: the batch was cancelled at that point rather than expired."""
    jobs: dict[str, BatchJob] = field(default_factory=dict)
    batched: list[Request] = field(default_factory=list)
    """Every request sent inside a batch, as if it had been sent alone."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def new(self, prefix: str, requests: list[tuple[str, Request]]) -> BatchJob:
        job = BatchJob(f"{prefix}{next(_ids):06d}", requests)
        with self.lock:
            self.jobs[job.id] = job
            self.batched.extend(r for _, r in requests)
        return job

    def poll(self, server: WireServer, job_id: str) -> BatchJob | None:
        """The job after one more poll (ended once it was polled enough), or None."""
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None:
                return None
            job.polls += 1
            ended = job.polls > self.in_progress_polls
        if ended and job.results is None:
            self.finish(server, job)
        return job

    def finish(self, server: WireServer, job: BatchJob) -> None:
        """Answer the job's requests as the vendor server would, one by one."""
        results: list[Answered] = []
        for k, (custom_id, request) in enumerate(job.requests):
            if self.expire_after is not None and k >= self.expire_after:
                results.append(Answered(custom_id, request, expired=True))
                job.expired = True
                continue
            step = server.next_step(request)
            if step.status >= 400:
                body = server.error_body(step.status, f"scripted {step.status}")
                results.append(Answered(custom_id, request, step.status, body))
                continue
            answer = server.answer_for(request, step)
            results.append(Answered(custom_id, request, 200, server.body(answer)))
        job.results = results


BatchRoute = Callable[[Any, str, str, bytes, dict[str, str]], bool]
"""(handler, method, path, raw body, headers) -> True when the batch server answered."""


def install(server: WireServer, route: BatchRoute) -> None:
    """Put `route` in front of the server's own handler (a batch path, or fall through)."""
    base: Any = server._httpd.RequestHandlerClass

    class BatchHandler(base):  # type: ignore[misc,valid-type]
        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            if route(self, method, self.path, raw, headers):
                return
            self.rfile = io.BytesIO(raw)  # the vendor server reads the body itself
            super()._serve(method)

    server._httpd.RequestHandlerClass = BatchHandler


def send_json(handler: Any, status: int, payload: dict[str, Any]) -> None:
    handler._json(status, payload)


def send_bytes(handler: Any, data: bytes, ctype: str = "application/octet-stream") -> None:
    handler._raw(200, data, ctype)


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(row).encode() + b"\n" for row in rows)


def note(server: WireServer, method: str, path: str, headers: dict[str, str], raw: bytes) -> None:
    """Keep a batch endpoint's request in `server.requests`, like any other."""
    try:
        body = json.loads(raw) if raw else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = {"_bytes": len(raw)}
    with server._lock:
        server.requests.append(Request(method, path, headers, body))
