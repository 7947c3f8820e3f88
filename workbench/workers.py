"""Calls made in a worker process: the SDK's CPU on another core.

An audit's kernel is CPU-bound: importing the three SDKs costs it about 2 s, and each call
2-2.6 ms of SDK and HTTP work (request building, pydantic models, httpx) on top of the
~1.1 ms of recording it. `ProcessModel` wraps an adapter so that its calls run in a process
of its own (`worker_process`, one per model): the SDK is imported and the client built
there, in parallel with the kernel's own start, and each call crosses a pipe as a
pickled `Prompt` one way and a `Completion` (or the ProviderError) the other, with the
answer's pieces when streaming. Checks (`check`), retries, timeouts, budgets, rate limits and
recording stay in the calling process, in `Runner`, unchanged.

Frames on both pipes are a 4-byte big-endian length and a pickle. Requests: ("call", id,
prompt, stream), ("cancel", id), ("close",). Answers: ("ready",), ("text" | "thinking", id,
piece), ("done", id, completion), ("error", id, error), where an error is (class name,
message, attributes) and is rebuilt as the same WorkbenchError class.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import struct
import subprocess
import sys
from typing import IO, Any

from workbench import errors
from workbench.config import Config
from workbench.errors import ConnectionFailed, WorkbenchError
from workbench.providers.base import Completion, Model, Prompt, ProviderSettings, TextSink
from workbench.providers.registry import ModelSpec

_HEADER = struct.Struct(">I")
TYPES = frozenset({"openai", "anthropic", "gemini", "compat"})
"""Provider types whose calls may run in a worker (HTTP clients; not the local model)."""


def wanted(setting: bool | str) -> bool:
    """Whether to make calls in workers: `[run] processes` (true, false, or "auto").

    "auto": when the machine has a core to spare, i.e. more than one core and a load average
    (last minute) below cores - 1. A worker costs CPU of its own (its start, the SDK's
    import, the pipe): where other work already fills the cores, the calls are made in this
    process instead, which then costs less in all.
    """
    if setting != "auto":
        return bool(setting)
    cores = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except OSError:  # pragma: no cover - no load average on this platform
        load = 0.0
    return cores > 1 and load < cores - 1


def can_host(spec: ModelSpec, config: Config) -> bool:
    """Whether this model's calls can run in a worker process (an HTTP provider's)."""
    settings = config.providers.get(spec.provider)
    return settings is not None and settings.type in TYPES


def frame(message: Any) -> bytes:
    """One message as it goes on a pipe."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data)) + data


class Frames:
    """Whole messages out of the bytes read so far."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Any]:
        """Add bytes; return the messages now complete."""
        self._buffer += data
        out = []
        while len(self._buffer) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self._buffer)
            if len(self._buffer) < _HEADER.size + size:
                break
            out.append(pickle.loads(bytes(self._buffer[_HEADER.size : _HEADER.size + size])))
            del self._buffer[: _HEADER.size + size]
        return out


def error_message(exc: BaseException) -> tuple[str, str, dict[str, Any]]:
    """An exception as it crosses the pipe: class name, message, attributes."""
    attrs = {k: v for k, v in vars(exc).items() if _picklable(v)}
    return type(exc).__name__, str(exc), attrs


def rebuild(name: str, message: str, attrs: dict[str, Any]) -> BaseException:
    """The error a worker sent, as the same WorkbenchError class (else a plain RuntimeError)."""
    cls = errors.kind(name)
    if cls is None:
        return RuntimeError(f"{name}: {message}")
    exc = cls.__new__(cls)
    Exception.__init__(exc, message)
    exc.__dict__.update(attrs)
    return exc


def _picklable(value: Any) -> bool:
    try:
        pickle.dumps(value)
    except Exception:
        return False
    return True


_PARKED: dict[str, tuple[ProviderSettings, subprocess.Popen[bytes]]] = {}
"""Workers started ahead (`start`), by model, with the settings they were started with."""


def _spawn(spec: ModelSpec, config: Config) -> subprocess.Popen[bytes]:
    """A worker process for `spec`, told what to build (it says "ready" when it has)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "workbench.worker_process"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdin is not None
    process.stdin.write(frame((spec, config)))
    process.stdin.flush()
    return process


def start(run_dir: str | os.PathLike[str]) -> int:
    """Start the worker processes of an audit run's models now; how many were started.

    The audit notebook calls this first thing, so each worker imports its SDK while the
    kernel imports the workbench and sets the run up; `ProcessModel.prepare` then adopts
    the worker started for its model (with the same provider settings). A run that replays,
    or with no manifest, starts none; so does a busy machine (`wanted`).
    """
    import atexit
    import json
    from pathlib import Path

    from workbench.providers import registry

    try:
        manifest = json.loads((Path(run_dir) / "manifest.json").read_text())
    except (OSError, ValueError):
        return 0
    if not isinstance(manifest, dict) or manifest.get("replay_of") is not None:
        return 0
    if manifest.get("report_only"):  # nothing to call
        return 0
    config = Config.load()
    if not wanted(config.run.processes):
        return 0
    started = 0
    for name in manifest.get("models", []):
        try:
            spec = registry.resolve(name, config)
        except WorkbenchError:
            continue
        if can_host(spec, config) and spec.full_name not in _PARKED:
            _PARKED[spec.full_name] = (config.providers[spec.provider], _spawn(spec, config))
            started += 1
    if started:
        atexit.register(_stop_parked)
    return started


def _stop_parked() -> None:
    """Workers started ahead and never used: their end of the pipe closes, and they exit."""
    for _settings, process in _PARKED.values():
        _discard(process, wait_s=5)
    _PARKED.clear()


def _discard(process: subprocess.Popen[bytes], wait_s: float = 0.0) -> None:
    """Close a worker's pipes (it exits at the end of its input); kill it if it lingers."""
    for pipe in (process.stdin, process.stdout):
        with contextlib.suppress(OSError):
            if pipe is not None:
                pipe.close()
    try:
        process.wait(wait_s or 0.001)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class ProcessModel(Model):
    """An adapter whose calls run in a worker process; everything else is the adapter's."""

    def __init__(self, inner: Model, spec: ModelSpec, config: Config) -> None:
        super().__init__(inner.model_id, inner.settings)
        self.inner, self.spec, self.config = inner, spec, config
        self.provider = inner.provider  # type: ignore[misc]  # the adapter's, per instance
        self.file_kinds = inner.file_kinds  # type: ignore[misc]
        self.structured = inner.structured  # type: ignore[misc]
        self.reasoning = inner.reasoning  # type: ignore[misc]
        self.limits = inner.limits  # type: ignore[misc]
        self._process: subprocess.Popen[bytes] | None = None
        self._pending: dict[
            int, tuple[asyncio.Future[Completion], TextSink | None, TextSink | None]
        ] = {}
        self._next = 0
        self._frames = Frames()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._dead: str | None = None

    def check(self, prompt: Prompt) -> None:
        """The adapter's own checks, in this process, before anything is sent."""
        self.inner.check(prompt)

    def prepare(self) -> None:
        """Start the worker; return once its SDK is imported and its client built."""
        if self._process is not None:
            return
        settings, process = _PARKED.pop(self.spec.full_name, (None, None))
        if process is not None and settings != self.settings:  # started for other settings
            _discard(process)
            process = None
        if process is None:
            process = _spawn(self.spec, self.config)
        assert process.stdout is not None
        answer = read_one(process.stdout)
        if answer is None or answer[0] != "ready":
            _discard(process)
            if answer is not None and answer[0] == "error":
                raise rebuild(*answer[2])
            raise ConnectionFailed(f"{self.name}: the worker process did not start")
        self._process = process

    async def complete(
        self,
        prompt: Prompt,
        on_text: TextSink | None = None,
        on_thinking: TextSink | None = None,
    ) -> Completion:
        """Send the prompt to the worker and wait for its answer (or its error)."""
        if self._process is None:
            await asyncio.to_thread(self.prepare)
        if self._dead is not None:
            raise ConnectionFailed(f"{self.name}: the worker process is gone ({self._dead})")
        self._listen()
        self._next += 1
        call = self._next
        stream = on_text is not None or on_thinking is not None
        try:
            request = frame(("call", call, prompt, stream))
        except Exception:  # a schema class defined in a notebook, say: called from here
            return await self.inner.complete(prompt, on_text, on_thinking)
        future: asyncio.Future[Completion] = asyncio.get_running_loop().create_future()
        self._pending[call] = (future, on_text, on_thinking)
        try:
            self._write(request)
            return await future
        except asyncio.CancelledError:
            if self._pending.pop(call, None) is not None and self._dead is None:
                with contextlib.suppress(ConnectionFailed):  # gone: nothing left to stop
                    self._write(frame(("cancel", call)))
            raise
        finally:
            self._pending.pop(call, None)

    def _write(self, data: bytes) -> None:
        process = self._process
        assert process is not None and process.stdin is not None
        try:
            process.stdin.write(data)
            process.stdin.flush()
        except OSError as e:
            self._gone(f"could not write to it: {e}")
            raise ConnectionFailed(f"{self.name}: the worker process is gone ({e})") from None

    def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        process = self._process
        assert process is not None and process.stdout is not None
        os.set_blocking(process.stdout.fileno(), False)
        loop.add_reader(process.stdout.fileno(), self._readable)
        self._loop = loop

    def _readable(self) -> None:
        process = self._process
        assert process is not None and process.stdout is not None
        try:
            data = os.read(process.stdout.fileno(), 1 << 20)
        except BlockingIOError:
            return
        except OSError as e:
            data, why = b"", str(e)
        else:
            why = "it exited"
        if not data:
            self._gone(why)
            return
        for message in self._frames.feed(data):
            self._answer(message)

    def _answer(self, message: tuple[Any, ...]) -> None:
        kind, call = message[0], message[1]
        pending = self._pending.get(call)
        if pending is None:
            return  # cancelled meanwhile
        future, on_text, on_thinking = pending
        if kind == "text" and on_text is not None:
            on_text(message[2])
        elif kind == "thinking" and on_thinking is not None:
            on_thinking(message[2])
        elif kind == "done" and not future.done():
            future.set_result(message[2])
        elif kind == "error" and not future.done():
            future.set_exception(rebuild(*message[2]))

    def _gone(self, why: str) -> None:
        self._dead = why
        if self._loop is not None and self._process is not None:
            self._loop.remove_reader(self._process.stdout.fileno())  # type: ignore[union-attr]
        for future, *_ in list(self._pending.values()):
            if not future.done():
                future.set_exception(
                    ConnectionFailed(f"{self.name}: the worker process is gone ({why})")
                )

    async def aclose(self) -> None:
        """Stop the worker (it closes its client first), and the adapter if it was used here."""
        await self.inner.aclose()
        process, self._process = self._process, None
        if process is None:
            return
        if self._loop is not None and process.stdout is not None and self._dead is None:
            self._loop.remove_reader(process.stdout.fileno())
        try:
            assert process.stdin is not None
            process.stdin.write(frame(("close",)))
            process.stdin.close()
        except OSError:
            pass
        try:
            await asyncio.to_thread(process.wait, 10)
        except subprocess.TimeoutExpired:
            process.kill()
            await asyncio.to_thread(process.wait)
        if process.stdout is not None:
            process.stdout.close()


def read_one(stream: IO[bytes]) -> Any:
    """One message from a blocking stream, or None at its end."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    return pickle.loads(stream.read(size))
