"""The lab notebook's two background threads: the writer (records to disk) and the committer.

The writer takes records off a queue and writes them in batches (one lock and one fsync per
batch); a caller waits on a record's future until it is durable. The committer makes git
commits off the caller's path: the first one soon after it is asked, then at most one every
`every_s` seconds, each taking everything appended until then. A record is durable once
written; the commit, which dates it, may come later (or, after a crash, in the next session).
"""

from __future__ import annotations

import atexit
import contextlib
import math
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

_BATCH = 1024
NICE = 10
"""The committer thread's niceness (Linux)."""


class Writer:
    """A thread that writes queued records in batches: one lock and one fsync per batch."""

    def __init__(self, write: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> None:
        self._write = write
        self._queue: queue.SimpleQueue[tuple[dict[str, Any], Future[dict[str, Any]]] | None] = (
            queue.SimpleQueue()
        )
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def put(self, record: dict[str, Any], future: Future[dict[str, Any]]) -> None:
        """Queue a record; `future` gets it as written (or the error that stopped it)."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="labbook-writer")
                self._thread.daemon = True
                self._thread.start()
                atexit.register(self.close)
            self._queue.put((record, future))

    def close(self) -> None:
        """Write everything queued, then stop the thread (the next `put` starts another)."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None and thread.is_alive():
            self._queue.put(None)
            thread.join()

    def _run(self) -> None:
        stop = False
        while not stop:
            batch: list[tuple[dict[str, Any], Future[dict[str, Any]]]] = []
            item = self._queue.get()
            while item is not None:
                batch.append(item)
                if len(batch) >= _BATCH:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            stop = item is None
            if not batch:
                continue
            try:
                written = self._write([record for record, _ in batch])
            except BaseException as e:  # every waiter learns the write failed
                for _, future in batch:
                    future.set_exception(e)
            else:
                for (_, future), record in zip(batch, written, strict=True):
                    future.set_result(record)


class Committer:
    """A thread that calls `commit` when asked, at most once every `every_s` seconds.

    Asks made while it waits (or commits) are coalesced into its next call. The thread ends
    when nothing is due, and starts again at the next ask.
    """

    def __init__(self, commit: Callable[[], object], every_s: float) -> None:
        self._commit = commit
        self.every_s = every_s
        self.last = -math.inf
        """When the last commit was made (time.monotonic()), by this thread or anyone."""
        self._changed = threading.Condition()
        self._due = False
        self._stopping = False
        self._thread: threading.Thread | None = None

    def ask(self) -> None:
        """Commit soon: now if the last commit is `every_s` old, else when it is."""
        with self._changed:
            self._due, self._stopping = True, False
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="labbook-committer", daemon=True
                )
                self._thread.start()
            self._changed.notify()

    def stop(self) -> None:
        """Stop waiting (a commit under way finishes first); what was due stays due."""
        with self._changed:
            thread, self._stopping = self._thread, True
            self._changed.notify()
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _run(self) -> None:
        _yield_cpu()
        while True:
            with self._changed:
                while (
                    not self._stopping and (wait := self.last + self.every_s - time.monotonic()) > 0
                ):
                    self._changed.wait(wait)
                if self._stopping or not self._due:
                    self._thread = None
                    return
                self._due = False
            self._commit()  # it reports its own failures


def _yield_cpu() -> None:
    """Lower this thread's CPU priority (Linux: per thread, and the git it runs inherits it).

    On a busy machine the commit then waits for the comparisons, not they for it.
    """
    if sys.platform != "linux":  # elsewhere the call would renice the whole process
        return
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
