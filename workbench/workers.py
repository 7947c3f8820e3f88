"""Calls made in a worker process: the SDK's CPU on another core.

An audit's kernel is CPU-bound: importing the three SDKs costs it about 2 s, and each call
2-2.6 ms of SDK and HTTP work (request building, pydantic models, httpx) on top of the
~1.1 ms of recording it. `ProcessModel` wraps an adapter so that its calls run in a process
of its own (`worker_process`, one per model): the SDK is imported and the client built
there, in parallel with the kernel's own start, and each call crosses a pipe as a
pickled `Prompt` one way and a `Completion` (or the ProviderError) the other, with the
answer's pieces when streaming. Checks (`check`), retries, timeouts, budgets, rate limits and
recording stay in the calling process, in `Runner`, unchanged.

Frames (`worker_channel`) are a 4-byte big-endian length and a pickle. Requests: ("call",
id, prompt, stream), ("cancel", id), ("close",). Answers: ("ready", provider settings),
("text" | "thinking", id, piece), ("done", id, completion), ("error", id, error), where an
error is (class name, message, attributes) and is rebuilt as the same WorkbenchError class.
A worker is either started here (its pipes) or was started before this kernel by the
process running the audit notebook (`worker_handoff`; reached through a Unix socket).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import subprocess
import time
from typing import Any

from workbench.config import Config
from workbench.errors import ConnectionFailed, WorkbenchError
from workbench.providers.base import Completion, Model, Prompt, TextSink
from workbench.providers.registry import ModelSpec
from workbench.worker_channel import Channel, Frames, frame, meeting_place, rebuild, socket_path

TYPES = frozenset({"openai", "anthropic", "gemini", "compat"})
"""Provider types whose calls may run in a worker (HTTP clients; not the local model)."""


def wanted(setting: bool | str) -> bool:
    """Whether to make calls in workers: `[run] processes` (true, false, or "auto").

    "auto": when the machine has a core to spare, i.e. more than one core and fewer than
    cores - 1 other threads (of any process) running now (`running_elsewhere`). A worker
    costs CPU of its own (its start, the SDK's import, the pipe): where other work already
    fills the cores, the calls are made in this process instead, which then costs less in all.
    """
    if setting != "auto":
        return bool(setting)
    cores = os.cpu_count() or 1
    return cores > 1 and running_elsewhere() < cores - 1


def running_elsewhere(looks: int = 5, apart_s: float = 0.004) -> float:
    """How many other threads are running or ready to run now (Linux), else the load average.

    The load average lags by a minute: right after a burst of work (the previous audit, a
    test run) it still says the cores are busy. /proc/loadavg's fourth field counts what is
    runnable at this instant (this thread included); the median of a few looks ignores a
    process that merely passes through.
    """
    counts = []
    try:
        for look in range(looks):
            if look:
                time.sleep(apart_s)
            with open("/proc/loadavg") as f:
                counts.append(int(f.read().split()[3].split("/")[0]) - 1)
    except (OSError, ValueError, IndexError):
        try:
            return os.getloadavg()[0]
        except OSError:  # pragma: no cover - no load average on this platform
            return 0.0
    return float(statistics.median(counts))


def can_host(spec: ModelSpec, config: Config) -> bool:
    """Whether this model's calls can run in a worker process (an HTTP provider's)."""
    settings = config.providers.get(spec.provider)
    return settings is not None and settings.type in TYPES


_PARKED: dict[str, Channel] = {}
"""Workers started ahead (`start`) or reached through a socket, by model, not yet adopted."""


def parked(name: str) -> bool:
    """Whether a worker for the model `name` (full name) was started ahead for this process."""
    return name in _PARKED


def models_to_host(run_dir: str | os.PathLike[str], config: Config) -> list[ModelSpec]:
    """The models of an audit run whose calls would run in workers (none for a replay)."""
    import json
    from pathlib import Path

    from workbench.providers import registry

    try:
        manifest = json.loads((Path(run_dir) / "manifest.json").read_text())
    except (OSError, ValueError):
        return []
    if not isinstance(manifest, dict) or manifest.get("replay_of") is not None:
        return []
    if manifest.get("report_only"):  # nothing to call
        return []
    specs = []
    for name in manifest.get("models", []):
        try:
            spec = registry.resolve(name, config)
        except WorkbenchError:
            continue
        if can_host(spec, config) and spec not in specs:
            specs.append(spec)
    return specs


def start(run_dir: str | os.PathLike[str]) -> int:
    """Start (or reach) the worker processes of an audit run's models now; how many.

    The audit notebook calls this first thing. Workers that the process running the
    notebook started before this kernel (`worker_handoff`) are reached through their
    sockets; the others are started here, so each imports its SDK while the kernel
    imports the workbench and sets the run up. `ProcessModel.prepare` then adopts the
    worker of its model if it was built with the same provider settings. A run that
    replays, or with no manifest, starts none; a busy machine (`wanted`) starts none here.
    """
    import atexit

    config = Config.load()
    place = meeting_place(run_dir)
    spawn: bool | None = None  # asked only if a worker is to be started here (it takes ~20 ms)
    started = 0
    for spec in models_to_host(run_dir, config):
        if spec.full_name in _PARKED:
            continue
        channel = None
        if place is not None and socket_path(place, spec.full_name).exists():
            with contextlib.suppress(OSError):  # gone meanwhile: started here instead
                channel = Channel.connect(socket_path(place, spec.full_name))
        if channel is None:
            spawn = wanted(config.run.processes) if spawn is None else spawn
            channel = Channel.spawn(spec, config) if spawn else None
        if channel is not None:
            _PARKED[spec.full_name] = channel
            started += 1
    if started:
        atexit.register(_stop_parked)
    return started


def _stop_parked() -> None:
    """Workers started ahead and never used: their end of the pipe closes, and they exit."""
    for channel in _PARKED.values():
        channel.discard(wait_s=5)
    _PARKED.clear()


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
        self._channel: Channel | None = None
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
        """Start the worker; return once its SDK is imported and its client built.

        A worker started ahead is adopted when it was built with this adapter's provider
        settings (it says which with "ready"); otherwise it is let go and one started here.
        """
        if self._channel is not None:
            return
        channel = _PARKED.pop(self.spec.full_name, None)
        if channel is not None:
            answer = channel.read_one()
            if answer is not None and answer[0] == "ready" and answer[1] != self.settings:
                channel.discard()  # built for other settings (another config)
                channel = None
        if channel is None:
            channel = Channel.spawn(self.spec, self.config)
            answer = channel.read_one()
        if answer is None or answer[0] != "ready":
            channel.discard()
            if answer is not None and answer[0] == "error":
                raise rebuild(*answer[2])
            raise ConnectionFailed(f"{self.name}: the worker process did not start")
        self._channel = channel

    async def complete(
        self,
        prompt: Prompt,
        on_text: TextSink | None = None,
        on_thinking: TextSink | None = None,
    ) -> Completion:
        """Send the prompt to the worker and wait for its answer (or its error)."""
        if self._channel is None:
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
        assert self._channel is not None
        try:
            self._channel.write(data)
        except OSError as e:
            self._gone(f"could not write to it: {e}")
            raise ConnectionFailed(f"{self.name}: the worker process is gone ({e})") from None

    def _listen(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        assert self._channel is not None
        self._channel.watch()
        loop.add_reader(self._channel.fileno(), self._readable)
        self._loop = loop

    def _readable(self) -> None:
        assert self._channel is not None
        try:
            data = os.read(self._channel.fileno(), 1 << 20)
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
        if self._loop is not None and self._channel is not None:
            self._loop.remove_reader(self._channel.fileno())
        for future, *_ in list(self._pending.values()):
            if not future.done():
                future.set_exception(
                    ConnectionFailed(f"{self.name}: the worker process is gone ({why})")
                )

    async def aclose(self) -> None:
        """Stop the worker (it closes its client first), and the adapter if it was used here."""
        await self.inner.aclose()
        channel, self._channel = self._channel, None
        if channel is None:
            return
        if self._loop is not None and self._dead is None:
            self._loop.remove_reader(channel.fileno())
        with contextlib.suppress(OSError):
            channel.write(frame(("close",)))
        channel.close_send()
        process = channel.process
        if process is not None:  # ours: waited for (a worker reached by socket is its starter's)
            try:
                await asyncio.to_thread(process.wait, 10)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait)
        channel.close()
