"""Fan-out benchmark: the real SDKs against the wire servers, measured against the ideal.

    .venv/bin/python bench/fanout.py            # full size (about 30 s)
    .venv/bin/python bench/fanout.py --quick    # smoke check (a few seconds)

(a) sync comparisons one after another: 3 models, latency 0.2 s, `Session.compare` as a
    notebook cell calls it, with the lab notebook on (git too, in a temporary research
    repository), then the same comparisons straight through the three SDKs. Ideal: N x 0.2 s
    (each comparison waits for its slowest model); target: workbench / raw SDKs <= 1.02 per
    comparison.
(b) one big fan-out: P prompts x 3 models, latency 0.1 s, concurrency=64 per provider.
    Ideal: ceil(P / 64) x 0.1 s (each provider runs its P calls 64 at a time, the three
    providers side by side). Run streamed (the default) and with stream=False.

The wire servers (tests/wire) run in their own processes, so their work never holds the
client's GIL; they still share the machine's cores with the client. Not a test: it prints
figures. Exit status 0, or 1 with --strict when a figure misses its target, or 2 when any
call failed (the figures would then mean nothing).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import shutil
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from wire_processes import (  # noqa: E402
    MODELS,
    NOISY,
    PROVIDERS,
    TEMP_DIRS,
    Servers,
    machine_cpu_s,
    open_session,
    others_cpu,
    point_env_at,
    wire_config,
)

SYNC_LATENCY_S = 0.2
SYNC_TARGET = 1.05
SYNC_RAW_TARGET = 1.02
FANOUT_LATENCY_S = 0.1
FANOUT_CONCURRENCY = 64
FANOUT_TARGET = 1.2


def check(comparison: Any, what: str) -> int:
    errors = comparison.errors
    if errors:
        first = errors[0]
        print(
            f"  ! {what}: {len(errors)} of {len(comparison)} calls failed; first: "
            f"{first.model}: {first.error.type}: {first.error.message}",
            file=sys.stderr,
        )
    return len(errors)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), linear between closest ranks."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


@dataclass
class Row:
    bench: str
    figure: str
    value: str
    target: str = ""
    verdict: str = ""


def recording_session(config: Any, git: bool) -> Any:
    """A Session whose lab notebook is on, as a researcher has it: the `labbook/` folder of a
    (temporary) research repository that is the working directory, committed unless `git`
    is False."""
    import dataclasses
    import subprocess
    import tempfile

    from workbench.sessions import Session

    repo = Path(tempfile.mkdtemp(prefix="fanout-research-"))
    TEMP_DIRS.append(str(repo))
    for args in (
        ["init", "-q", "-b", "main"],
        ["config", "user.name", "Bench"],
        ["config", "user.email", "bench@example.org"],
        ["commit", "-q", "--allow-empty", "-m", "Start"],
    ):
        subprocess.run(["git", *args], cwd=repo, check=True)
    os.chdir(repo)
    book = dataclasses.replace(
        config.labbook, path=str(repo / "labbook"), git=git, push=None, redact=()
    )
    return Session(dataclasses.replace(config, labbook=book))


def bench_sync(
    config: Any, servers: Servers, n: int, git: bool, rows: list[Row]
) -> tuple[bool, int]:
    """(a) N comparisons, one after another, through the sync API with the lab notebook on,
    interleaved with the same N through the raw SDKs (alternating which goes first), so the
    machine's drift weighs on both alike."""
    import asyncio

    servers.set_latency(SYNC_LATENCY_S)
    here = os.getcwd()
    session = recording_session(config, git)
    raw_loop = asyncio.new_event_loop()
    raw = RawSDKs(servers, 64, stream=True)
    try:
        failures = check(session.compare("warm up", MODELS), "(a) warm-up")
        session.labbook.commit("bench: warm-up")
        raw_loop.run_until_complete(raw.fan_out(["warm up"]))
        server_cpu0 = servers.reset()
        walls: list[float] = []
        raw_walls: list[float] = []
        slowest: list[float] = []  # the slowest reply's own latency_s in each comparison
        cpu = raw_cpu = 0.0
        machine0 = machine_cpu_s()
        start = time.perf_counter()
        for i in range(n):
            prompt = f"comparison {i}: name three prime numbers"
            for side in ("workbench", "raw") if i % 2 == 0 else ("raw", "workbench"):
                cpu0, t0 = time.process_time(), time.perf_counter()
                if side == "raw":
                    raw_loop.run_until_complete(raw.fan_out([prompt]))
                    raw_walls.append(time.perf_counter() - t0)
                    raw_cpu += time.process_time() - cpu0
                    continue
                comparison = session.compare(prompt, MODELS)
                walls.append(time.perf_counter() - t0)
                cpu += time.process_time() - cpu0
                failures += check(comparison, f"(a) comparison {i}")
                slowest.append(max(r.latency_s for r in comparison))
        t0 = time.perf_counter()
        session.labbook.commit("bench: the last records")  # every record committed: counted
        last_commit = time.perf_counter() - t0
        elapsed = time.perf_counter() - start
        wall = sum(walls) + last_commit
        server_cpu = servers.stats()["cpu_s"] - server_cpu0
        records = sum(1 for line in session.labbook.lines() if line.record["kind"] == "call")
    finally:
        raw_loop.run_until_complete(raw.aclose())
        raw_loop.close()
        if session.labbook is not None:
            session.labbook.close()
        session.close()
        os.chdir(here)
    noise = others_cpu(machine0, cpu + raw_cpu + server_cpu, elapsed, f"(a) {n}x3, both")
    ideal = n * SYNC_LATENCY_S
    ratio = wall / ideal
    per, raw_per = wall / n, statistics.fmean(raw_walls)
    ok = ratio <= SYNC_TARGET and per / raw_per <= SYNC_RAW_TARGET
    name = f"(a) sync {n}x3, lab notebook on{'' if git else ', git off'}"
    ms = 1000
    raw_verdict = "PASS" if per / raw_per <= SYNC_RAW_TARGET else "MISS"
    rows += [
        Row(name, "wall", f"{wall:.3f} s"),
        Row(name, "ideal", f"{ideal:.3f} s", f"{n} x {SYNC_LATENCY_S:g} s"),
        Row(
            name,
            "wall / ideal",
            f"{ratio:.3f}",
            f"<= {SYNC_TARGET}",
            "PASS" if ratio <= SYNC_TARGET else "MISS",
        ),
        Row(name, "per comparison (wall / N)", f"{per * ms:.1f} ms", "last commit included"),
        Row(name, "per comparison p50", f"{percentile(walls, 50) * ms:.1f} ms"),
        Row(name, "per comparison p95", f"{percentile(walls, 95) * ms:.1f} ms"),
        Row(name, "per comparison max", f"{max(walls) * ms:.1f} ms"),
        Row(name, "the last commit (after the loop)", f"{last_commit * ms:.1f} ms"),
        Row(
            name,
            "slowest call in it, mean",
            f"{statistics.fmean(slowest) * ms:.1f} ms",
            f"{SYNC_LATENCY_S * ms:g} ms + SDK",
        ),
        Row(name, "client CPU / comparison", f"{cpu / n * ms:.2f} ms"),
        Row(name, "call records written", str(records), f"{3 * (n + 1)} expected"),
        Row(name, "other processes' CPU", noise, "machine noise (both sides), ideally ~0"),
        Row(
            name,
            "raw SDKs: per comparison mean",
            f"{raw_per * ms:.1f} ms",
            "same N, interleaved, no workbench",
        ),
        Row(name, "raw SDKs: per comparison p50", f"{percentile(raw_walls, 50) * ms:.1f} ms"),
        Row(name, "raw SDKs: client CPU / comparison", f"{raw_cpu / n * ms:.2f} ms"),
        Row(
            name,
            "workbench / raw SDKs per comparison",
            f"{per / raw_per:.3f}",
            f"<= {SYNC_RAW_TARGET}",
            raw_verdict,
        ),
    ]
    if records != 3 * (n + 1):
        failures += 1
    return ok, failures


def bench_fanout(
    session: Any,
    servers: Servers,
    n: int,
    stream: bool,
    rows: list[Row],
    profile: str | None,
    raw: bool,
) -> tuple[bool, int]:
    """(b) N prompts x 3 models in one compare call, 64 in flight per provider."""
    servers.set_latency(FANOUT_LATENCY_S)
    c = FANOUT_CONCURRENCY
    # Warm-up: one full wave, so each provider's pool holds its 64 connections already.
    warm = [f"warm-up {i}" for i in range(min(c, n))]
    failures = check(session.compare(warm, MODELS, concurrency=c, stream=stream), "(b) warm-up")
    prompts = [f"prompt {i}: name three prime numbers" for i in range(n)]
    server_cpu0 = servers.reset()
    spy = py_spy(profile, "stream" if stream else "nostream")
    machine0 = machine_cpu_s()
    cpu0, sys0 = time.process_time(), os.times().system
    start = time.perf_counter()
    comparison = session.compare(prompts, MODELS, concurrency=c, stream=stream)
    wall = time.perf_counter() - start
    cpu, sys_cpu = time.process_time() - cpu0, os.times().system - sys0
    if spy is not None:
        stop_py_spy(spy)
    stats = servers.stats()
    server_cpu = stats["cpu_s"] - server_cpu0
    noise = others_cpu(machine0, cpu + server_cpu, wall, f"(b) {n}x3 stream={stream}")
    failures += check(comparison, "(b)")
    calls = len(comparison)
    ideal = math.ceil(n / c) * FANOUT_LATENCY_S
    ratio = wall / ideal
    ok = ratio <= FANOUT_TARGET
    latencies = [r.latency_s for r in comparison]
    name = f"(b) {n}x3 c={c} {'stream' if stream else 'stream=False'}"
    peaks = "/".join(str(stats["peak"][p]) for p in PROVIDERS)
    sent = sum(stats["requests"].values())
    rows += [
        Row(name, "wall", f"{wall:.3f} s"),
        Row(name, "ideal", f"{ideal:.3f} s", f"ceil({n}/{c}) x {FANOUT_LATENCY_S:g} s"),
        Row(name, "wall / ideal", f"{ratio:.3f}", f"<= {FANOUT_TARGET}", "PASS" if ok else "MISS"),
        Row(name, "calls/s", f"{calls / wall:.0f}", f"{calls / ideal:.0f} at ideal"),
        Row(
            name,
            "call latency p50 / p95",
            f"{percentile(latencies, 50) * 1000:.0f} / {percentile(latencies, 95) * 1000:.0f} ms",
            "incl. queueing for a slot",
        ),
        Row(
            name,
            "client CPU",
            f"{cpu:.2f} s = {cpu / calls * 1000:.2f} ms/call",
            f"of it {sys_cpu:.2f} s in the kernel",
        ),
        Row(name, "client CPU / wall", f"{cpu / wall:.0%}", "~100% = one core saturated"),
        Row(
            name,
            "server CPU (3 procs)" if len(servers.procs) > 1 else "server CPU",
            f"{server_cpu:.2f} s = {server_cpu / max(sent, 1) * 1000:.2f} ms/req",
        ),
        Row(name, "other processes' CPU", noise, "machine noise, ideally ~0"),
        Row(name, "peak in flight o/a/g", peaks, f"{c} each"),
        Row(
            name,
            "new connections o/a/g",
            "/".join(str(stats["connections"][p]) for p in PROVIDERS),
            "0 each (pools warm)",
        ),
    ]
    if sent != calls:
        rows.append(Row(name, "requests seen by servers", str(sent), str(calls)))
    if raw:
        import asyncio

        raw_wall, raw_cpu, raw_calls, raw_noise = asyncio.run(
            raw_sdk_fanout(servers, prompts, c, stream)
        )
        rows += [
            Row(name, "raw SDKs, no workbench: wall", f"{raw_wall:.3f} s", "same fan-out"),
            Row(name, "raw SDKs: wall / ideal", f"{raw_wall / ideal:.3f}", "the SDKs' floor"),
            Row(
                name,
                "raw SDKs: client CPU",
                f"{raw_cpu:.2f} s = {raw_cpu / raw_calls * 1000:.2f} ms/call",
            ),
            Row(name, "raw SDKs: other processes' CPU", raw_noise, "machine noise"),
            Row(name, "workbench wall / raw SDKs", f"{wall / raw_wall:.3f}", "workbench's share"),
        ]
    return ok, failures


def py_spy(prefix: str | None, what: str) -> Any:
    """With --profile, sample this process with py-spy during the timed call only."""
    if not prefix:
        return None
    import subprocess

    exe = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    out = f"{prefix}-{what}.txt"
    spy = subprocess.Popen(
        [
            exe,
            "record",
            "--pid",
            str(os.getpid()),
            "--rate",
            "200",
            "--nonblocking",
            "--format",
            "raw",
            "--output",
            out,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1.0)  # let it attach before the clock starts
    print(f"  py-spy sampling the timed call into {out}", flush=True)
    return spy


def stop_py_spy(spy: Any) -> None:
    import signal

    spy.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
    try:
        spy.wait(timeout=30)
    except Exception:
        spy.kill()
        spy.wait()


class RawSDKs:
    """The three SDKs' clients, called as the runner calls them: the no-workbench baseline."""

    def __init__(self, servers: Servers, concurrency: int, stream: bool) -> None:
        import asyncio

        import anthropic
        import openai
        from google import genai

        urls = servers.urls
        self.stream = stream
        self.oa = openai.AsyncOpenAI(
            api_key=urls["openai"][1], base_url=urls["openai"][0], max_retries=0
        )
        self.an = anthropic.AsyncAnthropic(
            api_key=urls["anthropic"][1], base_url=urls["anthropic"][0], max_retries=0
        )
        options = genai.types.HttpOptions(
            base_url=urls["gemini"][0], retry_options=genai.types.HttpRetryOptions(attempts=1)
        )
        self.gm = genai.Client(api_key=urls["gemini"][1], vertexai=False, http_options=options).aio
        self.limits = {p: asyncio.Semaphore(concurrency) for p in PROVIDERS}

    async def openai_call(self, prompt: str) -> str:
        messages: Any = [{"role": "user", "content": prompt}]
        async with self.limits["openai"]:
            if not self.stream:
                r = await self.oa.chat.completions.create(model="gpt-test", messages=messages)
                return r.choices[0].message.content or ""
            pieces = []
            s = await self.oa.chat.completions.create(
                model="gpt-test",
                messages=messages,
                stream=True,
                stream_options={"include_usage": True},
            )
            async with s:
                async for chunk in s:
                    if chunk.choices and chunk.choices[0].delta.content:
                        pieces.append(chunk.choices[0].delta.content)
            return "".join(pieces)

    async def anthropic_call(self, prompt: str) -> str:
        messages: Any = [{"role": "user", "content": prompt}]
        async with self.limits["anthropic"]:
            if not self.stream:
                m = await self.an.messages.create(
                    model="claude-test", max_tokens=4096, messages=messages
                )
                return "".join(getattr(b, "text", "") for b in m.content)
            pieces = []
            s = await self.an.messages.create(
                model="claude-test", max_tokens=4096, messages=messages, stream=True
            )
            async with s:
                async for event in s:
                    if event.type == "content_block_delta" and event.delta.type == "text_delta":
                        pieces.append(event.delta.text)
            return "".join(pieces)

    async def gemini_call(self, prompt: str) -> str:
        async with self.limits["gemini"]:
            if not self.stream:
                r = await self.gm.models.generate_content(model="gemini-test", contents=prompt)
                return r.text or ""
            pieces = []
            async for chunk in await self.gm.models.generate_content_stream(
                model="gemini-test", contents=prompt
            ):
                pieces.append(chunk.text or "")
            return "".join(pieces)

    async def fan_out(self, items: Sequence[str]) -> list[str]:
        """Every prompt to the three models at once (a task per call); the answers."""
        import asyncio

        calls = [
            f(p) for p in items for f in (self.openai_call, self.anthropic_call, self.gemini_call)
        ]
        answers = list(await asyncio.gather(*calls))
        if not all(a.startswith("echo: ") for a in answers):
            raise RuntimeError("the raw SDKs got an answer that is not the echo")
        return answers

    async def aclose(self) -> None:
        await self.oa.close()
        await self.an.close()
        await self.gm.aclose()


async def raw_sdk_fanout(
    servers: Servers, prompts: Sequence[str], concurrency: int, stream: bool
) -> tuple[float, float, int, str]:
    """The same fan-out straight through the three SDKs, no workbench.

    Returns the wall time, the client CPU, the number of calls and the machine noise.

    What the SDKs alone cost on this machine: the floor that the workbench adds its runner,
    retries, budgets and Replies to. Same shape as the runner: a task per call, all made up
    front, a semaphore of `concurrency` per provider; warm-up with one wave first.
    """
    raw = RawSDKs(servers, concurrency, stream)
    try:
        await raw.fan_out([f"warm-up {i}" for i in range(min(concurrency, len(prompts)))])
        server_cpu0, machine0 = servers.reset(), machine_cpu_s()
        cpu0, start = time.process_time(), time.perf_counter()
        answers = await raw.fan_out(prompts)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
        server_cpu = servers.stats()["cpu_s"] - server_cpu0
        what = f"(b) raw SDKs {len(prompts)}x3 stream={stream}"
        noise = others_cpu(machine0, cpu + server_cpu, wall, what)
        return wall, cpu, len(answers), noise
    finally:
        await raw.aclose()


def raw_sdk_sync(servers: Servers, n: int) -> tuple[list[float], float]:
    """(a) through the raw SDKs: N comparisons one after another, each one `gather` of the
    three streamed calls on one long-lived loop; the wall time of each and the client CPU."""
    import asyncio

    loop = asyncio.new_event_loop()
    raw = RawSDKs(servers, 64, stream=True)
    try:
        loop.run_until_complete(raw.fan_out(["warm up"]))
        walls = []
        cpu0 = time.process_time()
        for i in range(n):
            t0 = time.perf_counter()
            loop.run_until_complete(raw.fan_out([f"comparison {i}: name three prime numbers"]))
            walls.append(time.perf_counter() - t0)
        return walls, time.process_time() - cpu0
    finally:
        loop.run_until_complete(raw.aclose())
        loop.close()


def print_table(rows: list[Row]) -> None:
    heads = Row("benchmark", "figure", "value", "target / ideal", "")
    widths = [max(len(getattr(r, f)) for r in [heads, *rows]) for f in Row.__dataclass_fields__]

    def line(r: Row) -> str:
        cells = [
            getattr(r, f).ljust(w) for f, w in zip(Row.__dataclass_fields__, widths, strict=True)
        ]
        return "  ".join(cells).rstrip()

    print(line(heads))
    print("  ".join("-" * w for w in widths))
    last = None
    for r in rows:
        if last is not None and r.bench != last:
            print()
        print(line(r if r.bench != last else Row("", r.figure, r.value, r.target, r.verdict)))
        last = r.bench


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke check")
    parser.add_argument("--comparisons", type=int, help="(a) size (default 50, quick 10)")
    parser.add_argument("--prompts", type=int, help="(b) size (default 1000, quick 200)")
    parser.add_argument(
        "--only", choices=("a", "b", "b-stream", "b-nostream"), help="run one benchmark only"
    )
    parser.add_argument(
        "--one-server-process",
        action="store_true",
        help="all three wire servers in one process instead of one each",
    )
    parser.add_argument(
        "--harness-nagle",
        action="store_true",
        help="leave Nagle on in the wire servers, as tests/wire/harness.py has it "
        "(adds ~40 ms to every call)",
    )
    parser.add_argument(
        "--labbook",
        action="store_true",
        help="(b): record every call in a lab notebook (in a temporary folder); (a) always does",
    )
    parser.add_argument(
        "--no-git",
        action="store_true",
        help="(a): the lab notebook records but does not commit (to measure git's share)",
    )
    parser.add_argument(
        "--profile",
        metavar="PREFIX",
        help="sample each timed (b) call with py-spy (pip install py-spy) "
        "into PREFIX-stream.txt / PREFIX-nostream.txt (collapsed stacks); "
        "the figures then include py-spy's own load on the 2 cores",
    )
    parser.add_argument(
        "--no-raw",
        action="store_true",
        help="skip running (b) straight through the SDKs (the no-workbench baseline)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a figure misses")
    args = parser.parse_args(argv)
    n_sync = args.comparisons or (10 if args.quick else 50)
    n_fan = args.prompts or (200 if args.quick else 1000)

    servers = Servers(SYNC_LATENCY_S, args.one_server_process, not args.harness_nagle).start()
    rows: list[Row] = []
    results: list[bool] = []
    failures = 0
    session = None
    try:
        point_env_at(servers.urls)
        from workbench.sessions import Session

        session = open_session(Session, wire_config(servers.urls), args.labbook)
        print(
            f"fan-out benchmark: python {platform.python_version()}, {os.cpu_count()} cores, "
            f"wire servers in {len(servers.procs)} process(es), "
            f"Nagle {'on (harness as is)' if args.harness_nagle else 'off (TCP_NODELAY)'}\n",
            flush=True,
        )
        if args.only in (None, "a"):
            ok, bad = bench_sync(wire_config(servers.urls), servers, n_sync, not args.no_git, rows)
            results.append(ok)
            failures += bad
        for stream in (True, False):
            if args.only in (None, "b") or args.only == ("b-stream" if stream else "b-nostream"):
                ok, bad = bench_fanout(
                    session, servers, n_fan, stream, rows, args.profile, not args.no_raw
                )
                # The target is for the default (streamed) compare; stream=False is a comparison.
                if stream:
                    results.append(ok)
                failures += bad
    finally:
        if session is not None:
            session.close()
        servers.stop()
        for folder in TEMP_DIRS:
            shutil.rmtree(folder, ignore_errors=True)
    print_table(rows)
    for line in NOISY:
        print(f"\n! {line}: the machine was not quiet, figures are pessimistic", end="")
    if NOISY:
        print()
    if failures:
        print(f"\n{failures} call(s) failed: the figures above are not valid", file=sys.stderr)
        return 2
    return 1 if args.strict and not all(results) else 0


if __name__ == "__main__":
    sys.exit(main())
