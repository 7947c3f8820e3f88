"""Adaptive concurrency against a rate limit: a wire server that takes N requests per second.

    .venv/bin/python bench/ratelimit.py                 # N = 50/s, 0.2 s per answer, 3 SDKs
    .venv/bin/python bench/ratelimit.py --rate 100 --calls 1000 --providers openai
    .venv/bin/python bench/ratelimit.py --window-headers     # answers say what is left

Each provider's wire server (tests/wire) runs in a process of its own behind a token bucket
(tests/wire/ratelimit.py: `--rate` requests per second, bursts of a tenth of a second): a
request beyond it is refused at once with a 429 and a Retry-After saying when the next token
comes. The bucket starts full, as a provider's does: the first second's burst (N requests)
is in "calls/s"; "steady" leaves it out ((answered - N) / wall / N). The best concurrency is
rate x latency (10 at 50/s and 0.2 s). Each provider gets
`--calls` prompts in one `Session.compare` (no lab notebook), twice: starting from a
concurrency that is too high (`--high`, 64) and from one too low (`--low`, 2), with
`max_concurrency = --high` and `min_concurrency = 1`. Targets: throughput (calls answered /
wall) within 10 % of the rate, and no call failing for a rate limit. It also prints the 429s,
the limiter's cuts and final limit, and the mean wait for a slot (queued_s) against the mean
latency, which must stay the server's latency: waiting is queueing, not latency. Not a test:
exit 1 with --strict on a miss. With `--window-headers` every answer also says what the bucket
has left and when it is full again, as OpenAI and Anthropic do on every response (Google sends
nothing, so gemini's rows do not change): an answer with nothing left pauses the provider.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from wire_processes import KEY_ENV, PROVIDERS, machine_cpu_s, others_cpu, point_env_at  # noqa: E402

TOLERANCE = 0.10
MODEL = {"openai": "openai:gpt-test", "anthropic": "anthropic:claude-test",
         "gemini": "gemini:gemini-test"}  # fmt: skip


def _serve(conn: Any, provider: str, latency_s: float, rate: float, window: bool) -> None:
    """Child process: one wire server behind a token bucket, obeying commands from the pipe."""
    from tests.wire.anthropic_server import AnthropicServer
    from tests.wire.gemini_server import GeminiServer
    from tests.wire.openai_server import OpenAIServer
    from tests.wire.ratelimit import RateLimit

    kinds = {"openai": OpenAIServer, "anthropic": AnthropicServer, "gemini": GeminiServer}
    server = kinds[provider](latency_s=latency_s)
    bucket = RateLimit(rate, answers=window)
    bucket.attach(server)
    server.start()
    conn.send((server.base_url, server.api_key))
    try:
        while True:
            command = conn.recv()
            if command == "reset":
                bucket.reset()
                conn.send(None)
            elif command == "stats":
                conn.send({"admitted": bucket.admitted, "refused": bucket.refused})
            else:
                break
    except (EOFError, OSError, KeyboardInterrupt):
        pass
    finally:
        server.stop()


class Limited:
    """A rate-limited wire server in its own process."""

    def __init__(self, provider: str, latency_s: float, rate: float, window: bool = False) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(
            target=_serve, args=(child, provider, latency_s, rate, window), daemon=True
        )
        self.process.start()
        child.close()
        self.url, self.key = self.conn.recv()

    def ask(self, command: str) -> Any:
        self.conn.send(command)
        return self.conn.recv()

    def stop(self) -> None:
        self.conn.send("stop")
        self.process.join(timeout=10)


def config_for(provider: str, url: str, start: int, high: int, low: int = 1) -> Any:
    from wire_processes import wire_config

    config = wire_config({provider: (url, "")})
    import dataclasses

    settings = dataclasses.replace(
        config.providers[provider], concurrency=start, min_concurrency=low, max_concurrency=high
    )
    return dataclasses.replace(config, providers={**config.providers, provider: settings})


def one_run(
    provider: str, server: Limited, args: argparse.Namespace, start: int, fixed: bool = False
) -> dict[str, Any]:
    from workbench.sessions import Session

    prompts = [f"q{i}" for i in range(args.calls)]
    bounds = (start, start) if fixed else (args.high, 1)
    session = Session(config_for(provider, server.url, start, *bounds), labbook=False)
    session.compare(["warm"], [MODEL[provider]], stream=False)  # SDK imported, client built
    server.ask("reset")
    machine0, cpu0 = machine_cpu_s(), time.process_time()
    t0 = time.perf_counter()
    comparison = session.compare(prompts, [MODEL[provider]], stream=False)
    wall = time.perf_counter() - t0
    ours = time.process_time() - cpu0
    stats = server.ask("stats")
    limit = next(iter(session._limits.values()))[provider]
    replies = list(comparison)
    ok = [r for r in replies if r.ok]
    failed = [r for r in replies if not r.ok]
    session.close()
    return {
        "wall": wall,
        "throughput": len(ok) / wall,
        "ok": len(ok),
        "failed": len(failed),
        "rate_limited": sum(1 for r in failed if r.error and r.error.type == "RateLimited"),
        "errors": sorted({r.error.type for r in failed if r.error}),
        "refused": stats["refused"],
        "cuts": limit.cuts,
        "final": limit.allowed,
        "queued": statistics.mean(r.queued_s or 0.0 for r in ok) if ok else 0.0,
        "latency": statistics.mean(r.latency_s or 0.0 for r in ok) if ok else 0.0,
        "attempts": max((r.attempts for r in replies), default=0),
        "others": others_cpu(machine0, ours, wall, f"{provider} from {start}"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second allowed")
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--calls", type=int, default=600, help="per provider and run")
    parser.add_argument("--high", type=int, default=64, help="the start that is too high")
    parser.add_argument("--low", type=int, default=2, help="the start that is too low")
    parser.add_argument("--providers", default=",".join(PROVIDERS))
    parser.add_argument(
        "--no-fixed", dest="fixed", action="store_false",
        help="skip the peer row: a fixed concurrency of rate x latency, rounded up",
    )  # fmt: skip
    parser.add_argument(
        "--window-headers", action="store_true",
        help="answers carry the provider's rate-limit headers (requests left, reset)",
    )  # fmt: skip
    parser.add_argument("--strict", action="store_true")
    args = parser.parse_args(argv)

    best = args.rate * args.latency
    print(f"rate limit benchmark: {args.rate:g} requests/s allowed, {args.latency:g} s per "
          f"answer (best concurrency {best:g}), {args.calls} calls per run, "
          "no lab notebook"
          + (", rate-limit headers on answers" if args.window_headers else ""))  # fmt: skip
    head = (f"  {'provider':<9} {'start':>5} {'calls/s':>8} {'vs rate':>8} {'steady':>7} "
            f"{'target':>7} "
            f"{'failed':>6} {'for 429':>7} {'429s':>5} {'cuts':>4} {'final':>5} {'queued':>7} "
            f"{'latency':>7} {'max att':>7} {'others CPU':>10}  verdict")  # fmt: skip
    print(head)
    misses = 0
    for provider in args.providers.split(","):
        server = Limited(provider, args.latency, args.rate, args.window_headers)
        try:
            point_env_at({provider: (server.url, server.key)})
            os.environ[KEY_ENV[provider]] = server.key
            runs = [(args.high, False), (args.low, False)]
            if args.fixed:  # the peer: a fixed limit at the best concurrency, told in advance
                runs.append((math.ceil(best), True))
            for start, fixed in runs:
                r = one_run(provider, server, args, start, fixed)
                share = r["throughput"] / args.rate
                steady = (r["ok"] - args.rate) / r["wall"] / args.rate  # less the first burst
                good = share >= 1 - TOLERANCE and r["rate_limited"] == 0 and r["failed"] == 0
                misses += not (good or fixed)
                verdict = "(fixed)" if fixed else "PASS" if good else "MISS"
                print(
                    f"  {provider:<9} {start:>5} {r['throughput']:>8.1f} {share:>8.3f} "
                    f"{steady:>7.3f} {'>= 0.9':>7} {r['failed']:>6} {r['rate_limited']:>7} "
                    f"{r['refused']:>5} "
                    f"{r['cuts']:>4} {r['final']:>5} {r['queued']:>6.3f}s {r['latency']:>6.3f}s "
                    f"{r['attempts']:>7} {r['others']:>10}  {verdict}"
                    + (f"  errors: {', '.join(r['errors'])}" if r["errors"] else "")
                )
        finally:
            server.stop()
    return 1 if args.strict and misses else 0


if __name__ == "__main__":
    sys.exit(main())
