"""Workers started before an audit's kernel, by the process that runs its notebook.

A worker's start is mostly its SDK's import (Anthropic's alone is over a second of CPU),
and the run's first calls wait for it. Started by the kernel, it could begin only once
the kernel had started; started here, it begins as the kernel does. Each worker listens
on a Unix socket in a folder only this user may open (`worker_channel.meeting_place`,
found again from the run folder's path); the kernel's `workers.start` connects to it.

`Handoff.close` after the notebook ends the workers nobody connected to (a replay, a
custom template, settings of another config) and waits for the others, which exit once
their kernel's connection closes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from workbench.config import Config
from workbench.providers.registry import ModelSpec
from workbench.worker_channel import end, meeting_place, socket_path, start_worker
from workbench.workers import models_to_host, wanted

OWNER = "owner"
"""The file in a meeting place naming the process that made it (a stale one is replaced)."""


class Handoff:
    """The workers of one run, started ahead for its kernel to connect to."""

    def __init__(self, place: Path, processes: list[subprocess.Popen[bytes]]) -> None:
        self.place, self.processes = place, processes

    @classmethod
    def start(cls, run_dir: str | os.PathLike[str], config: Config) -> Handoff | None:
        """Start the run's workers now; None when there are none to start, or nowhere safe."""
        if not wanted(config.run.processes):
            return None
        specs = models_to_host(run_dir, config)
        place = meeting_place(run_dir) if specs else None
        if place is None or not _claim(place):
            return None
        handoff = cls(place, [])
        try:
            for spec in specs:
                handoff.processes.append(_listening_worker(place, spec, config))
        except OSError:  # a path too long for a socket, say: the kernel starts its own
            handoff.close()
            return None
        return handoff

    def close(self, wait_s: float = 5.0) -> None:
        """End the workers (their starter's pipe closes) and remove their sockets."""
        for process in self.processes:
            with contextlib.suppress(OSError):
                if process.stdin is not None:
                    process.stdin.close()
        deadline = time.monotonic() + wait_s
        for process in self.processes:
            end(process, deadline - time.monotonic())
        shutil.rmtree(self.place, ignore_errors=True)


def _claim(place: Path, retry: bool = True) -> bool:
    """Make the meeting place for this process; False while another live one holds it."""
    try:
        place.mkdir(mode=0o700)
    except FileExistsError:
        try:
            pid = int((place / OWNER).read_text())
            os.kill(pid, 0)
        except (OSError, ValueError):  # left by a process that is gone: stale
            shutil.rmtree(place, ignore_errors=True)
            return retry and _claim(place, retry=False)
        return False  # this run is being executed by another process right now
    except OSError:
        return False
    (place / OWNER).write_text(str(os.getpid()))
    return True


def _listening_worker(place: Path, spec: ModelSpec, config: Config) -> subprocess.Popen[bytes]:
    """A worker for `spec`, listening on its socket in `place` (bound here, so it exists now)."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        listener.bind(str(socket_path(place, spec.full_name)))
        listener.listen(1)
        return start_worker(spec, config, listen=listener.fileno())
    finally:
        listener.close()  # the worker holds it now
