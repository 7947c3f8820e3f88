"""How the caller and a worker process talk: frames, and the channel that carries them.

Frames are a 4-byte big-endian length and a pickle. A channel is either the pipes of a
worker this process started (`Channel.spawn`), or a connection to a worker that the
process running an audit's notebook started before the kernel (`Channel.connect`; see
`worker_handoff`), listening on a Unix socket in a folder only its user can open
(`meeting_place`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import socket
import stat
import struct
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

from workbench import errors

_HEADER = struct.Struct(">I")


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


def read_one(stream: IO[bytes]) -> Any:
    """One message from a blocking stream, or None at its end."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    return pickle.loads(stream.read(size))


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


def meeting_place(run_dir: str | os.PathLike[str]) -> Path | None:
    """The folder where the workers started for `run_dir` listen, or None where unsafe.

    It lies in a folder of the temporary directory that only this user may open (checked,
    not assumed: a folder of that name made by someone else is not used), so no other
    user can connect to a worker, nor pose as one.
    """
    if not hasattr(socket, "AF_UNIX") or not hasattr(os, "getuid"):  # not a POSIX system
        return None
    base = Path(tempfile.gettempdir()) / f"workbench-{os.getuid()}"
    try:
        base.mkdir(mode=0o700, exist_ok=True)
        info = base.lstat()
    except OSError:
        return None
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        return None
    key = hashlib.sha256(str(Path(run_dir).resolve()).encode()).hexdigest()[:20]
    return base / key


def socket_path(place: Path, model: str) -> Path:
    """Where the worker of `model` (its full name) listens in a meeting place."""
    return place / f"{hashlib.sha256(model.encode()).hexdigest()[:12]}.sock"


def start_worker(spec: Any, config: Any, listen: int | None = None) -> subprocess.Popen[bytes]:
    """A worker process for `spec`, told what to build (it says "ready" when it has).

    It answers on its stdout, or with `listen` (a listening socket's descriptor, passed
    on) over the one connection it accepts there; its stdin stays its starter's pipe.
    """
    command = [sys.executable, "-m", "workbench.worker_process"]
    command += [] if listen is None else ["--listen", str(listen)]
    process = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE if listen is None else subprocess.DEVNULL,
        pass_fds=() if listen is None else (listen,),
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdin is not None
    process.stdin.write(frame((spec, config)))
    process.stdin.flush()
    return process


class Channel:
    """The two ends of one worker's frames, as the caller sees them: requests out, answers in.

    `process` is set when this process started the worker (and so waits for its exit);
    a worker reached through a socket belongs to the process that started it.
    """

    def __init__(
        self,
        send: IO[bytes],
        receive: IO[bytes],
        *,
        process: subprocess.Popen[bytes] | None = None,
        sock: socket.socket | None = None,
    ) -> None:
        self.send, self.receive, self.process, self._sock = send, receive, process, sock

    @classmethod
    def spawn(cls, spec: Any, config: Any) -> Channel:
        """A new worker process for `spec`, answering on its pipes."""
        process = start_worker(spec, config)
        assert process.stdin is not None and process.stdout is not None
        return cls(process.stdin, process.stdout, process=process)

    @classmethod
    def connect(cls, path: Path) -> Channel:
        """A connection to the worker listening at `path` (OSError when none is)."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(path))
        except OSError:
            sock.close()
            raise
        return cls(sock.makefile("wb"), sock.makefile("rb"), sock=sock)

    def fileno(self) -> int:
        """The descriptor the answers arrive on."""
        return self.receive.fileno()

    def watch(self) -> None:
        """Get ready to read answers as they come (an event loop's reader on `fileno`).

        A pipe is made non-blocking; a socket is left blocking, since that setting is the
        socket's and would make its writes fail when its buffer is full.
        """
        if self._sock is None:
            os.set_blocking(self.fileno(), False)

    def write(self, data: bytes) -> None:
        """Send whole frames (OSError when the worker is gone)."""
        self.send.write(data)
        self.send.flush()

    def read_one(self) -> Any:
        """The next message, waiting for it (None once the worker is gone)."""
        return read_one(self.receive)

    def close_send(self) -> None:
        """No more requests: the worker finishes and exits."""
        with contextlib.suppress(OSError):
            self.send.close()
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        """Close both ends (a worker of our own exits at the end of its input)."""
        self.close_send()
        with contextlib.suppress(OSError):
            self.receive.close()
        if self._sock is not None:
            self._sock.close()

    def discard(self, wait_s: float = 0.0) -> None:
        """Close it; a worker of our own is waited for a moment, then killed if it lingers."""
        self.close()
        if self.process is not None:
            end(self.process, wait_s)


def end(process: subprocess.Popen[bytes], wait_s: float) -> None:
    """Wait up to `wait_s` for a worker told to go (its input closed), then kill it."""
    try:
        process.wait(max(0.001, wait_s))
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
