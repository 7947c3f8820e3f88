"""Against a server we did not write: llama-cpp-python's own OpenAI-compatible server.

It streams no usage, and by default a new request interrupts the running stream, which
then ends with `data: [DONE]` but no finish_reason. The compat provider must record
unknown usage as unknown, never keep an interrupted answer as complete, and say clearly
when the server is not running. The built-in `llamacpp` provider's default concurrency
must keep a default user clear of interruptions.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from workbench.config import Config
from workbench.errors import ConnectionFailed, IncompleteAnswer
from workbench.providers.local import model_path
from workbench.sessions import Session

pytestmark = pytest.mark.local_model
MODEL = "llamacpp:smollm2"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama_cpp.server on a free port, as a user would start it; its base URL."""
    pytest.importorskip("uvicorn", reason="needs llama-cpp-python[server]")
    port = _free_port()
    log_path = tmp_path_factory.mktemp("llamacpp") / "server.log"
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model_path("smollm2")),
        "--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", "2048",
    ]  # fmt: skip
    log = log_path.open("wb")  # a pipe would fill with llama.cpp's logs and stall the server
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/models", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                said = log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"llama_cpp.server did not start: {said}")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _session(base: str, **provider: Any) -> Session:
    config = Config.load(
        {"providers": {"llamacpp": {"base_url": base, **provider}}, "run": {"backoff_s": 0.2}}
    )
    return Session(config, labbook=False)


def test_one_call_answers_with_a_finish_reason_and_honest_usage(server: str) -> None:
    with _session(server) as session:
        streamed = session.compare("What is 2+2?", [MODEL], max_tokens=24)[MODEL]
        whole = session.compare("What is 2+2?", [MODEL], max_tokens=24, stream=False)[MODEL]
    assert streamed.ok and streamed.text and streamed.finish_reason in ("stop", "length")
    # The server sends no usage in streams: unknown, never 0.
    assert streamed.usage.input_tokens is None and streamed.usage.output_tokens is None
    assert streamed.usage.source is None
    assert streamed.cost_usd == 0.0  # a compat server is free: that much is known
    # Not streamed, the server reports usage: recorded as the provider's.
    assert whole.ok and whole.usage.source == "provider"
    assert whole.usage.input_tokens and whole.usage.input_tokens > 10


def test_samples_at_once_are_complete_answers_or_explicit_errors(server: str) -> None:
    # Forced past the default concurrency: the server interrupts running streams.
    with _session(server, concurrency=6) as session:
        comparison = session.compare(
            "Name a colour.", [MODEL], samples=6, max_tokens=16, temperature=0.8, stream=True
        )
    for reply in comparison:
        if reply.ok:
            assert reply.finish_reason in ("stop", "length"), reply
        else:
            assert reply.error is not None and reply.error.kind is not None, reply
    frame = comparison.to_frame()
    kept = frame[frame["ok"]]
    assert kept["finish_reason"].notna().all()
    incomplete = [r for r in comparison if r.error and r.error.is_a(IncompleteAnswer)]
    assert all(not r.ok for r in incomplete)


def test_the_default_concurrency_keeps_a_default_user_clear_of_interruptions(
    server: str,
) -> None:
    assert Config.load().providers["llamacpp"].concurrency == 1
    with _session(server) as session:
        comparison = session.compare("Name a fruit.", [MODEL], samples=4, max_tokens=12)
    assert all(r.ok and r.finish_reason in ("stop", "length") for r in comparison), [
        (r.finish_reason, r.error) for r in comparison
    ]
    assert all(r.attempts == 1 for r in comparison)  # nothing was interrupted and retried


def test_a_server_that_is_not_running_is_one_clear_error() -> None:
    base = f"http://127.0.0.1:{_free_port()}/v1"
    with _session(base) as session:
        comparison = session.compare("hi", [MODEL])
    reply = comparison[MODEL]
    assert reply.error is not None and reply.error.is_a(ConnectionFailed)
    assert "could not reach the server" in reply.error.message
    assert "\n" not in reply.error.message and len(reply.error.message) < 300
