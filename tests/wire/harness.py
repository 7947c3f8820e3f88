"""A scripted HTTP server on 127.0.0.1 that vendor protocol servers build on.

Each vendor server (OpenAI, Anthropic, Gemini) subclasses `WireServer` and says how to
read a request and how to write an answer, a stream and an error in its wire format. The
harness does the rest: threads, keep-alive, chunked SSE, injected latency, and a queue of
scripted `Step`s (429 with Retry-After, 500, a hang, malformed JSON, ...) consumed one per
request before falling back to the default answer.

The real SDKs are pointed at `server.base_url`; nothing of the workbench is mocked.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self


@dataclass
class Step:
    """What the server does for one request."""

    text: str | None = None
    """The answer; None means ask the server's responder."""
    status: int = 200
    """An HTTP error status (429, 500, 401, ...) answered with the vendor's error body."""
    retry_after: str | None = None
    """Sent as the Retry-After header (seconds) with an error status."""
    delay_s: float = 0.0
    """Extra wait before answering, on top of the server's latency."""
    hang: bool = False
    """Never answer; the connection is dropped when the server stops."""
    malformed: bool = False
    """Answer 200 with a body that is not valid JSON (or a broken SSE event)."""
    finish_reason: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    unfinished: bool = False
    """The answer ends without the vendor's end signal (no finish reason, no message_stop),
    the stream itself closing cleanly (OpenAI's still ends with `data: [DONE]`)."""
    cut_after: int | None = None
    """Streams: send this many events, then drop the connection (no final chunk)."""
    no_usage: bool = False
    """Report no token counts (as llama.cpp's server does in streams)."""
    headers: dict[str, str] = field(default_factory=dict)
    """Extra headers sent with the answer or error (x-ratelimit-*, retry-after-ms, ...)."""


@dataclass
class Request:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    received: float = 0.0
    """`time.monotonic()` when the server had read it."""


@dataclass
class Answer:
    """What the server will say for one successful request."""

    text: str
    model: str
    input_tokens: int
    output_tokens: int
    finish_reason: str | None = None
    unfinished: bool = False
    usage: bool = True


Responder = Callable[[Request], str]
"""Returns the answer text for a request (the default echoes the last user message)."""


def words(text: str) -> list[str]:
    """Split text into stream pieces, keeping the spaces, so joined they give it back."""
    pieces = text.split(" ")
    return [p + " " for p in pieces[:-1]] + [pieces[-1]]


@dataclass
class WireServer:
    """A threaded local HTTP server speaking one vendor's protocol; use as a context manager."""

    latency_s: float = 0.0
    responder: Responder | None = None
    api_key: str = "test-key"
    """The key the server accepts; any other gets the vendor's 401."""
    steps: deque[Step] = field(default_factory=deque)
    requests: list[Request] = field(default_factory=list)
    script: Callable[[Request], Step | None] | None = None
    """Chooses the step for a request (by its prompt, say) once no queued step is left."""

    protocol: ClassVar[str] = "base"

    def __post_init__(self) -> None:
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        server = self

        class Handler(_Handler):
            wire = server

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What the SDK's base_url should be set to (vendors differ on the /v1)."""
        return self.root_url

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._stopping.is_set():  # stopped already (a test may stop it early)
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- scripting -------------------------------------------------------------------------

    def queue(self, *steps: Step) -> None:
        """Script the next requests, one step each, in order."""
        with self._lock:
            self.steps.extend(steps)

    def next_step(self, request: Request | None = None) -> Step:
        with self._lock:
            if self.steps:
                return self.steps.popleft()
        if self.script is not None and request is not None:
            return self.script(request) or Step()
        return Step()

    def answer_for(self, request: Request, step: Step) -> Answer:
        text = step.text if step.text is not None else self.respond(request)
        prompt_words = len(json.dumps(request.body).split())
        return Answer(
            text=text,
            model=self.model_of(request),
            input_tokens=step.input_tokens if step.input_tokens is not None else prompt_words,
            output_tokens=step.output_tokens
            if step.output_tokens is not None
            else len(text.split()),
            finish_reason=step.finish_reason,
            unfinished=step.unfinished,
            usage=not step.no_usage,
        )

    def respond(self, request: Request) -> str:
        if self.responder is not None:
            return self.responder(request)
        return f"echo: {self.last_user_text(request)}"

    # -- what each protocol implements -----------------------------------------------------

    def route(self, method: str, path: str) -> str | None:
        """'json' or 'sse' for a path this protocol serves, None for a 404."""
        raise NotImplementedError

    def authorized(self, headers: dict[str, str], path: str) -> bool:
        raise NotImplementedError

    def model_of(self, request: Request) -> str:
        raise NotImplementedError

    def last_user_text(self, request: Request) -> str:
        raise NotImplementedError

    def is_stream(self, request: Request, kind: str) -> bool:
        return kind == "sse"

    def body(self, answer: Answer) -> dict[str, Any]:
        """The JSON body of a complete answer."""
        raise NotImplementedError

    def events(self, answer: Answer) -> Iterator[bytes]:
        """The SSE stream of an answer, one encoded event at a time."""
        raise NotImplementedError

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        raise NotImplementedError

    def broken_event(self) -> bytes:
        """An SSE event whose data is not JSON."""
        return b'data: {"not json\n\n'

    def wait(self, seconds: float) -> None:
        self._stopping.wait(seconds)


class _QuietServer(ThreadingHTTPServer):
    """Clients that hang up early (timeouts, cancelled streams) are expected, not errors."""

    daemon_threads = True
    request_queue_size = 1024  # the benchmarks open hundreds of connections at once

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    wire: ClassVar[WireServer]
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # SSE events go out as written, not after a 40 ms delayed ACK

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        wire = self.wire
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else {}
        except json.JSONDecodeError:
            body = {}
        headers = {k.lower(): v for k, v in self.headers.items()}
        kind = wire.route(method, self.path)
        request = Request(method, self.path, headers, body, time.monotonic())
        with wire._lock:
            wire.requests.append(request)
        if kind is None:
            return self._json(404, wire.error_body(404, f"no route for {method} {self.path}"))
        if not wire.authorized(headers, self.path):
            return self._json(401, wire.error_body(401, "Incorrect API key provided."))
        step = wire.next_step(request)
        wire.wait(wire.latency_s + step.delay_s)
        if step.hang:
            wire.wait(3600)
            self.close_connection = True
            return None
        if step.status >= 400:
            extra = {"Retry-After": step.retry_after} if step.retry_after else {}
            extra.update(step.headers)
            return self._json(
                step.status, wire.error_body(step.status, f"scripted {step.status}"), extra
            )
        answer = wire.answer_for(request, step)
        if wire.is_stream(request, kind):
            return self._stream(answer, step.malformed, step.cut_after, step.headers)
        if step.malformed:
            return self._raw(200, b'{"id": "broken", "choices": [', "application/json")
        return self._json(200, wire.body(answer), step.headers)

    def _json(
        self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        self._raw(status, json.dumps(payload).encode(), "application/json", headers)

    def _raw(
        self, status: int, data: bytes, ctype: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _stream(
        self,
        answer: Answer,
        malformed: bool,
        cut_after: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        events = list(self.wire.events(answer))
        if malformed:
            events = [*events[:1], self.wire.broken_event(), *events[1:]]
        for event in events[:cut_after]:
            self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
            self.wfile.flush()
        if cut_after is not None:  # the connection drops mid-stream: no final chunk
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def sse(data: dict[str, Any], event: str | None = None) -> bytes:
    """One SSE event; `event` adds the `event:` line that Anthropic requires."""
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data)}\n\n".encode()


def now() -> int:
    return int(time.time())
