"""The worker process of `workbench.workers`: one model's calls, answered over its pipes.

Run as `python -m workbench.worker_process`: it reads (spec, config) from stdin, builds and
prepares the adapter (its SDK imported here), says "ready" (with the provider settings it
was built with), then answers call frames with completions or errors until told to close
or its input ends (the caller is gone); it closes its client, then exits at once.

With `--listen FD` (see `worker_handoff`) the calls come over a connection to the Unix
socket listening on FD instead: after preparing, it waits for one connection and serves it.
If its stdin ends first (the process that started it says it is no longer wanted), it exits.
"""

from __future__ import annotations

import asyncio
import os
import select
import socket
import sys
from typing import IO, Any

from workbench.errors import WorkbenchError
from workbench.providers.base import Model, Prompt
from workbench.worker_channel import Frames, error_message, frame, read_one


async def _serve(model: Model, requests: int, answers: IO[bytes], *, pipe: bool = True) -> None:
    """Answer calls from the `requests` descriptor on `answers` until told to close.

    A pipe is read non-blocking; a socket stays blocking (the setting would also make the
    answers' writes fail when its buffer is full): it is read only when the loop says it can be.
    """
    loop = asyncio.get_running_loop()
    tasks: dict[int, asyncio.Task[None]] = {}
    frames = Frames()
    closing: asyncio.Future[None] = loop.create_future()

    def close() -> None:
        if not closing.done():
            closing.set_result(None)

    def send(message: Any) -> None:
        answers.write(frame(message))
        answers.flush()

    async def call(call: int, prompt: Prompt, stream: bool) -> None:
        def text(piece: str) -> None:
            send(("text", call, piece))

        def thinking(piece: str) -> None:
            send(("thinking", call, piece))

        try:
            completion = await model.complete(
                prompt, text if stream else None, thinking if stream else None
            )
        except asyncio.CancelledError:
            return
        except BaseException as e:  # every failure goes back; the caller's runner sorts it
            send(("error", call, error_message(e)))
        else:
            send(("done", call, completion))
        finally:
            tasks.pop(call, None)

    def readable() -> None:
        try:
            data = os.read(requests, 1 << 20)
        except BlockingIOError:
            return
        except OSError:  # the connection was reset: the caller is gone
            data = b""
        if not data:
            close()
            return
        for message in frames.feed(data):
            if message[0] == "call":
                tasks[message[1]] = loop.create_task(call(*message[1:]))
            elif message[0] == "cancel" and message[1] in tasks:
                tasks[message[1]].cancel()
            elif message[0] == "close":
                close()

    if pipe:
        os.set_blocking(requests, False)
    loop.add_reader(requests, readable)
    await closing
    loop.remove_reader(requests)
    for task in list(tasks.values()):
        task.cancel()
    await asyncio.gather(*tasks.values(), return_exceptions=True)
    await model.aclose()


def _prepared(spec: Any, config: Any) -> tuple[Model | None, tuple[Any, ...]]:
    """The adapter built and prepared, and what to say: ("ready", settings) or the error."""
    from workbench.providers import registry

    try:
        model = registry.build(spec, config)
        model.prepare()
    except WorkbenchError as e:
        return None, ("error", 0, error_message(e))
    return model, ("ready", model.settings)


def _accept(listener: socket.socket, starter: int) -> socket.socket | None:
    """The one connection to serve, or None once the starter's pipe (`starter`) ends."""
    while True:
        ready, _, _ = select.select([listener.fileno(), starter], [], [])
        if listener.fileno() in ready:
            connection, _ = listener.accept()
            return connection
        if not os.read(starter, 4096):
            return None


def main(argv: list[str] | None = None) -> None:
    """The worker: build and prepare the adapter, say ready, then answer calls."""
    argv = sys.argv[1:] if argv is None else argv
    listening = argv[:1] == ["--listen"]
    out = None if listening else os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything an SDK prints goes to stderr, never into the frames
    requests = sys.stdin.buffer
    spec, config = read_one(requests)
    model, said = _prepared(spec, config)
    if listening:
        listener = socket.socket(fileno=int(argv[1]))
        connection = _accept(listener, requests.fileno())
        listener.close()
        if connection is None:
            os._exit(0)
        answers, source, pipe = connection.makefile("wb"), connection.fileno(), False
    else:
        assert out is not None
        answers, source, pipe = out, requests.fileno(), True
    answers.write(frame(said))
    answers.flush()
    if model is None:
        return
    asyncio.run(_serve(model, source, answers, pipe=pipe))
    # Every answer is flushed and the client closed: the interpreter's teardown (an SDK's
    # thousands of modules and pydantic classes: 0.2-0.5 s of CPU) would only delay the
    # kernel, which waits for its workers to exit.
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
