"""Audit benchmark: 1000 items x 3 models through papermill, against the ideal.

    .venv/bin/python bench/audit.py                  # 1000 items, latency 0.1 s
    .venv/bin/python bench/audit.py --items 200      # smaller
    .venv/bin/python bench/audit.py --concurrency 32 # calls in flight per provider
    .venv/bin/python bench/audit.py --shards 2       # also: 2 shard processes, then combine

One `workbench.audit.run_audit` call: the exercise is checked, the run folder made, the
template executed by papermill (a fresh kernel does the calls, records every one in a lab
notebook with git, saves each item as it finishes), then the results are read back and
committed. The three wire servers (tests/wire) run in processes of their own, answering
after `--latency` seconds.

    ideal = calls x latency / (concurrency per provider x 3 providers) + one kernel start

where one kernel start is measured here: a trivial notebook executed by papermill. The
report cells of the template (tables, Styler, plots) are part of the wall time and shown
apart. Target: wall / ideal <= 1.3. Not a test: it prints figures; exit 1 with --strict on
a miss, 2 when any item failed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from wire_processes import (  # noqa: E402
    NOISY,
    PROVIDERS,
    Servers,
    machine_cpu_s,
    others_cpu,
    point_env_at,
)

TARGET = 1.3
CHILDREN = "the workers and the kernel's children"
MODELS = {"gpt": "openai:gpt-test", "claude": "anthropic:claude-test", "gem": "gemini:gemini-test"}


def write_config(
    folder: Path, urls: dict[str, tuple[str, str]], concurrency: int, processes: str = "auto"
) -> None:
    lines = ["[run]", "backoff_s = 0.01", "backoff_max_s = 0.05"]
    if processes != "auto":  # (a tree from before issue 13 knows no such key)
        lines += [f"processes = {processes}"]
    lines += ["[aliases]"]
    lines += [f'{alias} = "{target}"' for alias, target in MODELS.items()]
    for provider, (base_url, _key) in urls.items():
        lines += [f"[providers.{provider}]", f'base_url = "{base_url}"']
        lines += [f"concurrency = {concurrency}"]
    lines += ["[prices]"]
    lines += [f'"{t}" = {{ input = 1.0, output = 2.0 }}' for t in MODELS.values()]
    (folder / "workbench.toml").write_text("\n".join(lines) + "\n")


def write_exercise(folder: Path, n: int) -> Path:
    rows = "\n".join(f'{{"id": "q{i:04d}", "a": {i}, "b": {i % 7}}}' for i in range(n))
    (folder / "items.jsonl").write_text(rows + "\n")
    path = folder / "sums.yaml"
    path.write_text(
        "name: sums\ninstructions: Answer with the number only.\n"
        "reason: Arithmetic has one right answer.\n"
        'template: "What is {a} + {b}?"\nscorer: normalised\n'
        "models: [gpt, claude, gem]\nparams: {max_tokens: 8}\n"
        "items: {file: items.jsonl}\n"
    )
    return path


def kernel_start_s(folder: Path) -> float:
    """Wall time of papermill executing a one-cell notebook (kernel start and stop)."""
    import nbformat
    import papermill
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(cells=[new_code_cell("1 + 1")])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = folder / "trivial.ipynb"
    nbformat.write(nb, path)
    times = []
    for _ in range(2):
        start = time.perf_counter()
        papermill.execute_notebook(str(path), str(folder / "out.ipynb"), progress_bar=False)
        times.append(time.perf_counter() - start)
    return min(times)


def cell_times(notebook: Path) -> list[tuple[float, str]]:
    """Each code cell's duration (papermill's metadata) and its first line."""
    import nbformat

    nb = nbformat.read(notebook, as_version=4)
    return [
        (
            float(c.metadata.get("papermill", {}).get("duration") or 0.0),
            (c.source.strip().splitlines() or [""])[-1][:50],
        )
        for c in nb.cells
        if c.cell_type == "code"
    ]


def call_span(notebook: Path, labbook: Path) -> tuple[float, float, float] | None:
    """The execute cell split: before the first request, the calls, after the last answer.

    From papermill's start and end times of the longest cell and the call records' times
    (each recorded at its answer; sent `wall_s` - `queued_s` before: the call's time less
    its wait for a slot).
    """
    import nbformat
    import pandas as pd

    from workbench.labbook.book import files
    from workbench.labbook.query import read_frame

    nb = nbformat.read(notebook, as_version=4)
    meta = max(
        (c.metadata.get("papermill", {}) for c in nb.cells if c.cell_type == "code"),
        key=lambda m: float(m.get("duration") or 0.0),
    )
    if not meta.get("start_time") or not meta.get("end_time"):
        return None
    begin, end = pd.Timestamp(meta["start_time"]), pd.Timestamp(meta["end_time"])
    frame = read_frame(files(labbook), kind="call", cache=False)
    if frame.empty:
        return None
    before = frame["wall_s"].fillna(0) - frame["queued_s"].fillna(0)
    sent = (frame["ts"] - pd.to_timedelta(before, unit="s")).min()
    last = frame["ts"].max()
    seconds = [(sent - begin), (last - sent), (end - last)]
    return (seconds[0].total_seconds(), seconds[1].total_seconds(), seconds[2].total_seconds())


class ProcessCPU:
    """Samples the CPU of the kernel papermill starts, of the processes the kernel starts, and
    of the workers started here for it (`worker_handoff`).

    RUSAGE_CHILDREN lumps them together (and counts a child only once it is reaped), so a
    thread reads /proc/<pid>/stat every 0.1 s and keeps the last figure of each process.
    """

    def __init__(self) -> None:
        import threading

        self.seen: dict[int, tuple[str, float]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ProcessCPU:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        tick = os.sysconf("SC_CLK_TCK")
        me = os.getpid()
        while not self._stop.wait(0.1):
            kernels = {p for p, (kind, _) in self.seen.items() if kind == "kernel"}
            for entry in os.listdir("/proc"):
                if not entry.isdigit():
                    continue
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                    with open(f"/proc/{entry}/cmdline", "rb") as f:
                        command = f.read()
                except OSError:
                    continue
                ppid, cpu = int(fields[1]), (int(fields[11]) + int(fields[12])) / tick
                if ppid == me and b"ipykernel_launcher" in command:
                    self.seen[int(entry)] = ("kernel", cpu)
                elif ppid in kernels or (ppid == me and b"workbench.worker_process" in command):
                    self.seen[int(entry)] = (CHILDREN, cpu)

    def total(self, kind: str) -> float:
        return sum(cpu for k, cpu in self.seen.values() if k == kind)


def own_cpu_s() -> float:
    """CPU of this process and of its children waited for (the kernel, the workers, git)."""
    import resource

    usage = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usage)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=8, help="per provider (default 8)")
    parser.add_argument(
        "--shards", type=int, default=0,
        help="also run N `workbench audit run --shard K/N` processes at once, each with "
        "concurrency/N per provider, then `audit combine` (0: skip)",
    )  # fmt: skip
    parser.add_argument(
        "--processes", choices=("auto", "true", "false"), default="auto",
        help="[run] processes: calls in worker processes (auto: when a core is free)",
    )  # fmt: skip
    parser.add_argument("--strict", action="store_true")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    servers = Servers(args.latency, one_process=False, nodelay=True).start()
    try:
        point_env_at(servers.urls)
        os.environ["XDG_DATA_HOME"] = str(work / "data")
        os.environ["WORKBENCH_LABBOOK"] = str(work / "labbook")
        os.environ.pop("WORKBENCH_CONFIG", None)
        subprocess.run(["git", "init", "-q", str(work)], check=True)
        for key, value in (("user.name", "bench"), ("user.email", "bench@localhost")):
            subprocess.run(["git", "-C", str(work), "config", key, value], check=True)
        os.chdir(work)
        write_config(work, servers.urls, args.concurrency, args.processes)
        exercise = write_exercise(work, args.items)
        kernel = kernel_start_s(work)

        from workbench.audit import run_audit

        servers_cpu0 = servers.reset()
        machine0, cpu0 = machine_cpu_s(), own_cpu_s()
        start = time.perf_counter()
        with ProcessCPU() as processes:
            run = run_audit(exercise, progress=False)
        wall = time.perf_counter() - start
        stats = servers.stats()
        ours = own_cpu_s() - cpu0
        others = others_cpu(machine0, ours + stats["cpu_s"] - servers_cpu0, wall, "the audit")

        rows = run.rows
        calls = args.items * len(MODELS)
        ideal = calls * args.latency / (args.concurrency * len(PROVIDERS)) + kernel
        cells = cell_times(run.path / "audit.ipynb")
        execute_s = max(t for t, _ in cells)
        failed = sum(1 for r in rows if r["outcome"] == "error")
        ratio = wall / ideal
        verdict = "PASS" if ratio <= TARGET else "MISS"
        sent = sum(stats["requests"].values())
        print(f"audit benchmark: {args.items} items x {len(MODELS)} models, latency "
              f"{args.latency:g} s, concurrency {args.concurrency} per provider, processes "
              f"{args.processes} (load {os.getloadavg()[0]:.1f} at the end)")  # fmt: skip
        print(f"  calls answered by the servers  {sent} (expected {calls})")
        print(
            f"  items saved                    {len(rows)} ({failed} errors), status {run.status}"
        )
        print(f"  kernel start (trivial nb)      {kernel:6.2f} s")
        print(f"  execute cell (the calls)       {execute_s:6.2f} s   (ideal calls alone "
              f"{calls * args.latency / (args.concurrency * len(PROVIDERS)):.2f} s)")  # fmt: skip
        print(f"  report cells (tables, plots)   {sum(t for t, _ in cells) - execute_s:6.2f} s")
        span = call_span(run.path / "audit.ipynb", work / "labbook")
        if span is not None:
            print(f"    of which before the first request {span[0]:5.2f} s, the calls "
                  f"{span[1]:.2f} s, after the last answer {span[2]:.2f} s")  # fmt: skip
        for seconds, line in sorted(cells, reverse=True)[1:6]:
            print(f"    {seconds:6.2f} s  {line}")
        print(f"  wall (run_audit, end to end)   {wall:6.2f} s")
        print(f"  CPU: kernel, workers, CLI, git {ours:6.2f} s; servers "
              f"{stats['cpu_s'] - servers_cpu0:.2f} s; other processes {others}")  # fmt: skip
        print(f"    of which the kernel          {processes.total('kernel'):6.2f} s; the workers "
              f"and git {processes.total(CHILDREN):.2f} s (sampled)")  # fmt: skip
        print(f"  ideal                          {ideal:6.2f} s")
        print(f"  wall / ideal                   {ratio:6.3f}   target <= {TARGET}  {verdict}")
        print(f"  lab notebook commits           {_commits(work)}; run folder {run.path}")
        if NOISY:
            print(f"  note: the machine was busy ({'; '.join(NOISY)}): figures are pessimistic")
        if failed or len(rows) != args.items:
            return 2
        if args.shards > 1:
            sharded(args, work, exercise, ideal, calls, servers)
        return 1 if args.strict and verdict == "MISS" else 0
    finally:
        servers.stop()
        os.chdir(ROOT)
        shutil.rmtree(work, ignore_errors=True)


def sharded(
    args: argparse.Namespace,
    work: Path,
    exercise: Path,
    ideal: float,
    calls: int,
    servers: Servers,
) -> str:
    """The same sweep as N shard processes at once (same total concurrency), then combined."""
    per = max(1, args.concurrency // args.shards)
    toml = work / "shard.toml"
    toml.write_text("".join(f"[providers.{p}]\nconcurrency = {per}\n" for p in PROVIDERS))
    env = {**os.environ, "WORKBENCH_CONFIG": str(toml)}
    workbench = str(Path(sys.executable).parent / "workbench")
    servers.reset()
    start = time.perf_counter()
    procs = [
        subprocess.Popen(
            [
                workbench,
                "audit",
                "run",
                str(exercise),
                "--shard",
                f"{k}/{args.shards}",
                "--no-progress",
            ],
            cwd=work,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for k in range(1, args.shards + 1)
    ]
    outs = [proc.communicate()[0] for proc in procs]
    names = [out.split("run folder: ")[1].split()[0].rsplit("/", 1)[-1] for out in outs]
    shards_done = time.perf_counter() - start
    combined = subprocess.run(
        [workbench, "audit", "combine", *names], cwd=work, capture_output=True, text=True
    )
    wall = time.perf_counter() - start
    sent = sum(servers.stats()["requests"].values())
    ratio = wall / ideal
    verdict = "PASS" if ratio <= TARGET else "MISS"
    summary = combined.stdout.splitlines()[0] if combined.stdout else combined.stderr.strip()
    print(f"\n{args.shards} shard processes at once (concurrency {per} per provider each), "
          "then `workbench audit combine`")  # fmt: skip
    print(f"  calls answered by the servers  {sent} (expected {calls})")
    print(f"  shards done                    {shards_done:6.2f} s")
    print(f"  wall (shards + combine)        {wall:6.2f} s")
    print(f"  wall / ideal                   {ratio:6.3f}   target <= {TARGET}  {verdict}")
    print(f"  combined: {summary}")
    return verdict


def _commits(folder: Path) -> int:
    out = subprocess.run(
        ["git", "-C", str(folder), "rev-list", "--count", "HEAD"], capture_output=True, text=True
    )
    return int(out.stdout.strip() or 0)


if __name__ == "__main__":
    sys.exit(main())
