"""The wire servers in processes of their own, and the client-side helpers the benchmarks share."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import sys
import threading
import time
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PROVIDERS = ("openai", "anthropic", "gemini")
MODELS = ["openai:gpt-test", "anthropic:claude-test", "gemini:gemini-test"]
KEY_ENV = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY", "gemini": "GEMINI_API_KEY"}
# Env vars the SDKs read on their own that would point them away from the wire servers.
STRAY_ENV = ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "GOOGLE_GEMINI_BASE_URL", "GOOGLE_API_KEY")

TEMP_DIRS: list[str] = []  # removed at exit
NOISY: list[str] = []  # runs during which other processes were busy


# -- the wire servers, in processes of their own --------------------------------------------


def _serve(conn: Any, providers: Sequence[str], latency_s: float, nodelay: bool) -> None:
    """Child process: run wire servers for `providers` and obey commands from the pipe."""
    from tests.wire.anthropic_server import AnthropicServer
    from tests.wire.gemini_server import GeminiServer
    from tests.wire.openai_server import OpenAIServer

    kinds = {"openai": OpenAIServer, "anthropic": AnthropicServer, "gemini": GeminiServer}
    servers = {p: kinds[p](latency_s=latency_s) for p in providers}
    for server in servers.values():
        # The harness's handler leaves Nagle on: it sends the headers, then holds the body
        # back until the client ACKs them, and the client's delayed ACK takes ~40 ms. Every
        # call would look 40 ms slower than the latency asked for, so the benchmark turns
        # Nagle off (TCP_NODELAY, as real API front ends do) unless --harness-nagle.
        server._httpd.RequestHandlerClass.disable_nagle_algorithm = nodelay
        server.start()
    counters = {p: _InFlight() for p in providers}
    for p, server in servers.items():
        counters[p].wrap(server)
    parent = os.getppid()
    conn.send({p: (s.base_url, s.api_key) for p, s in servers.items()})
    try:
        while True:
            if not conn.poll(1.0):
                if os.getppid() != parent:  # the parent died without saying stop
                    break
                continue
            command, *args = conn.recv()
            if command == "latency":
                for server in servers.values():
                    server.latency_s = float(args[0])
                conn.send(None)
            elif command == "reset":
                for p, server in servers.items():
                    with server._lock:
                        server.requests.clear()
                    counters[p].reset()
                conn.send(time.process_time())
            elif command == "stats":
                conn.send(
                    {
                        "cpu_s": time.process_time(),
                        "requests": {p: c.total for p, c in counters.items()},
                        "peak": {p: c.peak for p, c in counters.items()},
                        "connections": {p: c.connections for p, c in counters.items()},
                    }
                )
            elif command == "stop":
                break
    except (EOFError, OSError, KeyboardInterrupt):
        pass
    finally:
        for server in servers.values():
            server.stop()


class _InFlight:
    """Counts the requests a server is holding (inside its latency wait) and the peak."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = self.peak = self.total = self.connections = 0

    def reset(self) -> None:
        with self.lock:
            self.peak = self.now
            self.total = self.connections = 0

    def wrap(self, server: Any) -> None:
        inner = server.wait
        accept = server._httpd.process_request

        def process_request(request: Any, client_address: Any) -> None:
            with self.lock:
                self.connections += 1  # one per TCP connection the client opened
            accept(request, client_address)

        server._httpd.process_request = process_request

        def wait(seconds: float) -> None:
            with self.lock:
                self.now += 1
                self.total += 1
                self.peak = max(self.peak, self.now)
            try:
                inner(seconds)
            finally:
                with self.lock:
                    self.now -= 1

        server.wait = wait  # the handler calls wire.wait(latency) once per request


@dataclass
class ServerProcess:
    providers: Sequence[str]
    latency_s: float
    nodelay: bool = True
    process: Any = None
    conn: Any = None
    urls: dict[str, tuple[str, str]] = field(default_factory=dict)

    def start(self) -> ServerProcess:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_serve,
            args=(child, tuple(self.providers), self.latency_s, self.nodelay),
            name=f"wire-{'-'.join(self.providers)}",
            daemon=True,
        )
        self.process.start()
        child.close()
        if not self.conn.poll(30):
            raise RuntimeError(f"wire servers {self.providers} did not start within 30 s")
        self.urls = self.conn.recv()
        return self

    def ask(self, *command: Any) -> Any:
        self.conn.send(command)
        return self.conn.recv()

    def stop(self) -> None:
        if self.process is None:
            return
        with contextlib.suppress(OSError):
            self.conn.send(("stop",))
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=5)
        self.conn.close()
        self.process = None


class Servers:
    """The three wire servers, one process each (or all in one with --one-server-process)."""

    def __init__(self, latency_s: float, one_process: bool, nodelay: bool) -> None:
        groups = [PROVIDERS] if one_process else [(p,) for p in PROVIDERS]
        self.procs = [ServerProcess(g, latency_s, nodelay) for g in groups]

    def start(self) -> Servers:
        for proc in self.procs:
            proc.start()
        return self

    @property
    def urls(self) -> dict[str, tuple[str, str]]:
        return {p: u for proc in self.procs for p, u in proc.urls.items()}

    def set_latency(self, seconds: float) -> None:
        for proc in self.procs:
            proc.ask("latency", seconds)

    def reset(self) -> float:
        return sum(proc.ask("reset") for proc in self.procs)

    def stats(self) -> dict[str, Any]:
        merged: dict[str, Any] = {"cpu_s": 0.0, "requests": {}, "peak": {}, "connections": {}}
        for proc in self.procs:
            s = proc.ask("stats")
            merged["cpu_s"] += s["cpu_s"]
            for key in ("requests", "peak", "connections"):
                merged[key].update(s[key])
        return merged

    def stop(self) -> None:
        for proc in self.procs:
            proc.stop()


# -- the client -------------------------------------------------------------------------------


def wire_config(urls: dict[str, tuple[str, str]]) -> Any:
    """The shipped defaults with openai/anthropic/gemini pointed at the wire servers.

    Built from defaults.toml alone (no user or repo config files), like tests.conftest's
    wire_config otherwise.
    """
    from workbench.config import Config

    data = tomllib.loads(resources.files("workbench").joinpath("defaults.toml").read_text())
    for provider, (base_url, _key) in urls.items():
        data["providers"][provider]["base_url"] = base_url
    data["run"].update(backoff_s=0.01, backoff_max_s=0.05)
    data.setdefault("prices", {}).update({m: {"input": 1000.0, "output": 1000.0} for m in MODELS})
    data["budget"] = {}
    return Config.from_dict(data)


def open_session(session_class: Any, config: Any, labbook: bool) -> Any:
    """A Session on `config`; without --labbook, one that records nothing.

    The lab notebook (where a Session has one) writes and commits a record per call: a cost
    of its own, kept out of the fan-out figures unless asked for. With --labbook it lives in
    a temporary folder, never in the repository the benchmark runs from.
    """
    import dataclasses
    import inspect
    import tempfile

    if "labbook" not in inspect.signature(session_class).parameters:
        if labbook:
            print("  (this Session has no lab notebook: --labbook ignored)", file=sys.stderr)
        return session_class(config)
    if not labbook:
        return session_class(config, labbook=False)
    folder = tempfile.mkdtemp(prefix="fanout-labbook-")
    TEMP_DIRS.append(folder)
    os.environ["XDG_DATA_HOME"] = folder
    book = dataclasses.replace(config.labbook, path=os.path.join(folder, "labbook"), push=None)
    return session_class(dataclasses.replace(config, labbook=book))


def point_env_at(urls: dict[str, tuple[str, str]]) -> None:
    for var in STRAY_ENV:
        os.environ.pop(var, None)
    for provider, (_url, key) in urls.items():
        os.environ[KEY_ENV[provider]] = key
    no_proxy = ",".join(x for x in (os.environ.get("NO_PROXY"), "127.0.0.1", "localhost") if x)
    os.environ["NO_PROXY"] = os.environ["no_proxy"] = no_proxy


def machine_cpu_s() -> float | None:
    """CPU seconds the whole machine has been busy (Linux /proc/stat), or None elsewhere."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def others_cpu(machine0: float | None, ours_s: float, wall_s: float, what: str) -> str:
    """CPU that processes other than this benchmark used while it ran (noise)."""
    machine1 = machine_cpu_s()
    if machine0 is None or machine1 is None:
        return "n/a"
    others = max(0.0, machine1 - machine0 - ours_s)
    if others > 0.1 * wall_s:
        NOISY.append(f"{what}: other processes used {others:.1f} s of CPU in {wall_s:.1f} s")
    return f"{others:.2f} s"
