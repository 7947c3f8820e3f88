"""The worker process of `workbench.workers`: one model's calls, answered over its pipes.

Run as `python -m workbench.worker_process`: it reads (spec, config) from stdin, builds and
prepares the adapter (its SDK imported here), says "ready", then answers call frames with
completions or errors until told to close or its input ends (the caller is gone); it closes
its client, then exits at once.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import IO, Any

from workbench.errors import WorkbenchError
from workbench.providers.base import Model, Prompt
from workbench.workers import Frames, error_message, frame, read_one


async def _serve(model: Model, requests: int, answers: IO[bytes]) -> None:
    """Answer calls from the `requests` pipe on `answers` until told to close."""
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
        data = os.read(requests, 1 << 20)
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

    os.set_blocking(requests, False)
    loop.add_reader(requests, readable)
    await closing
    loop.remove_reader(requests)
    for task in list(tasks.values()):
        task.cancel()
    await asyncio.gather(*tasks.values(), return_exceptions=True)
    await model.aclose()


def main() -> None:
    """The worker: build and prepare the adapter, say ready, then answer calls."""
    from workbench.providers import registry

    answers = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # anything an SDK prints goes to stderr, never into the frames
    requests = sys.stdin.buffer
    spec, config = read_one(requests)
    try:
        model = registry.build(spec, config)
        model.prepare()
    except WorkbenchError as e:
        answers.write(frame(("error", 0, error_message(e))))
        answers.flush()
        return
    answers.write(frame(("ready",)))
    answers.flush()
    asyncio.run(_serve(model, requests.fileno(), answers))
    # Every answer is flushed and the client closed: the interpreter's teardown (an SDK's
    # thousands of modules and pydantic classes: 0.2-0.5 s of CPU) would only delay the kernel,
    # which waits for its workers to exit.
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
