"""google-genai's connection pool keeps a connection for every call that may be in flight."""

from __future__ import annotations

import threading
from typing import Any

from tests.conftest import wire_config
from workbench.sessions import Session


def count_connections(server: Any) -> list[int]:
    """Count the TCP connections the server accepts from now on."""
    opened = [0]
    lock = threading.Lock()
    accept = server._httpd.process_request

    def process_request(request: Any, address: Any) -> None:
        with lock:
            opened[0] += 1
        accept(request, address)

    server._httpd.process_request = process_request
    return opened


def test_a_second_run_at_full_concurrency_opens_no_new_connection(wire: dict[str, Any]) -> None:
    server = wire["gemini"]
    server.latency_s = 0.2
    config = wire_config(wire, {"gemini": {"concurrency": 40}})
    session = Session(config, labbook=False)  # type: ignore[arg-type]
    prompts = [f"q{i}" for i in range(40)]
    first = session.compare(prompts, ["gemini:gemini-test"], stream=False)
    assert all(r.ok for r in first)
    opened = count_connections(server)
    second = session.compare(prompts, ["gemini:gemini-test"], stream=False)
    assert all(r.ok for r in second)
    # httpx's default pool keeps 20 idle connections: 20 of the 40 would be opened again
    assert opened[0] == 0, f"{opened[0]} new connections for 40 calls on a warm pool"
    session.close()
