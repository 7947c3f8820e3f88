"""Lab notebook benchmark: the cost of recording a call, and of reading a big lab notebook back.

    .venv/bin/python bench/labbook.py            # 300 calls, 1,000,000 records (a few minutes)
    .venv/bin/python bench/labbook.py --quick    # 40 calls, 50,000 records: a smoke check

(a) Per-call overhead of recording, p50/p99 in ms. Each call goes to the OpenAI wire server
    of tests/wire (its own process) twice: once through a workbench Session (`compare`, which
    records nothing: labbook=False), once through the `llm` package's Python API (an
    extra-openai-models.yaml in a temporary LLM_USER_PATH points it at the same server). Both
    get the same reply. Then only the logging step is timed, on those replies:
      ours      LabBook.record_call(job, reply).result(): redact, seal, append, fsync
      ours+git  the same, then LabBook.commit(), as a Session does once per comparison
      llm       response.log_to_db(sqlite_utils.Database(logs.db)), as `llm prompt` logs
    Timing the logging step alone (rather than call+logging minus call) keeps the server's
    and the SDKs' jitter out of a difference of two noisy figures. Target: ours / llm <= 1.
(b) A lab notebook of 1M records (bench/labbook_data.py: 7 days x 24 session files, cached
    under /tmp), each figure taken in a fresh Python process, files in the OS page cache:
      load       read_frame(files) as wb.log.to_frame() does: cold (no sidecars: DuckDB
                 parses every file, the Arrow sidecars are written), warm (every file hashed
                 again, the sorted sidecar mapped), after the newest file grew by 1,000 later
                 records (a session recording on) and after an older file grew (sorted again;
                 files are cut back to their old size afterwards)
      sql        wb.log.sql's query: calls and mean latency per model
      hash       XXH3-128 of every file as the cache key is made, BLAKE2b and SHA-256 beside it
      peers      pyarrow.json.read_json of every file; DuckDB's JSON reader alone (the query
                 of a cold load); SQLite: `select * from records` into pandas from a table of
                 the same records (built once, cached beside them)
      verify     verify(files): every chain re-hashed from the raw bytes (never the cache)
      export     load_records(files_between(day, day)) + export(records, "md", day, day),
                 as wb.log.export does (files are given realistic mtimes first)
    Targets for 1M records: cold load <= 5 s, warm load <= 1 s, verify <= 10 s. Each step
    with a target runs `--repeat` times (3), in a fresh process each: the median is shown,
    with the range; "system" CPU is the kernel's (mostly page faults: on this VM a fault on
    memory the guest has not touched lately costs several microseconds, and a load's
    figure moves with it). A big load returns before its new sidecars are written; when
    they were on disk is shown too.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [p for p in (str(ROOT), str(ROOT / "bench")) if p not in sys.path]

OVERHEAD_TARGET = 1.0
MODEL = "openai:gpt-test"


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), linear between closest ranks."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


# -- (a) per-call overhead ----------------------------------------------------------------------


def overhead(calls: int, tmp: Path) -> dict[str, list[float]]:
    """Logging times (s) per call for ours, ours+git and llm, on the same replies."""
    from wire_processes import ServerProcess, point_env_at, wire_config

    server = ServerProcess(("openai",), latency_s=0.0).start()
    try:
        point_env_at(server.urls)
        base_url, key = server.urls["openai"]
        return _overhead(calls, tmp, wire_config(server.urls), base_url, key)
    finally:
        server.stop()


def _overhead(
    calls: int, tmp: Path, config: Any, base_url: str, key: str
) -> dict[str, list[float]]:
    import llm
    import sqlite_utils

    from workbench.labbook import LabBook
    from workbench.labbook.git import GitSync
    from workbench.sessions import Session

    os.environ["LLM_USER_PATH"] = str(tmp / "llm")
    (tmp / "llm").mkdir()
    (tmp / "llm" / "extra-openai-models.yaml").write_text(
        f"- model_id: bench-gpt\n  model_name: gpt-test\n  api_base: {base_url}\n"
        "  api_key_name: bench\n"
    )
    model = llm.get_model("bench-gpt")
    db = sqlite_utils.Database(tmp / "llm" / "logs.db")
    plain = LabBook(tmp / "plain" / "labbook", "bench-plain", source="bench", git=None)
    repo = tmp / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    git = GitSync.open(repo / "labbook", research_repo=repo)
    tracked = LabBook(repo / "labbook", "bench-git", source="bench", git=git)
    session = Session(config, labbook=False)
    times: dict[str, list[float]] = {"ours": [], "ours+git": [], "llm": []}
    try:
        for i in range(calls + 5):  # the first 5 warm up (imports, connections, files)
            prompt = f"Question {i}: what does the lab notebook record? " * 6
            comparison = session.compare(prompt, [MODEL])
            job, reply = comparison.jobs[0], comparison.replies[0]
            if reply.error is not None:
                raise RuntimeError(f"the workbench call failed: {reply.error}")
            response = model.prompt(prompt, key=key)
            if response.text() != reply.text:
                raise RuntimeError("llm and the workbench got different replies")
            t0 = time.perf_counter()
            future = plain.record_call(job, reply)
            assert future is not None
            future.result()
            t1 = time.perf_counter()
            future = tracked.record_call(job, reply)
            assert future is not None
            future.result()
            tracked.commit(f"compare: call {i}")
            t2 = time.perf_counter()
            response.log_to_db(db)
            t3 = time.perf_counter()
            if i >= 5:
                times["ours"].append(t1 - t0)
                times["ours+git"].append(t2 - t1)
                times["llm"].append(t3 - t2)
    finally:
        session.close()
        plain.close()
        tracked.close()
        git.close()
    logged = db.execute("select count(*) from turns").fetchone()[0]
    if logged != calls + 5:
        raise RuntimeError(f"llm logged {logged} responses, not {calls + 5}")
    return times


# -- (b) a big lab notebook, one figure per fresh process ---------------------------------------


def step(name: str, root: Path, day: str) -> dict[str, Any]:
    """Child process: time one operation on the lab notebook in `root`."""
    import duckdb  # noqa: F401  (imports are not what is timed)
    import pandas
    import pyarrow.json  # noqa: F401

    import workbench.export
    import workbench.labbook.query
    import workbench.labbook.verify  # noqa: F401
    from workbench.labbook.book import files

    paths = files(root)
    grown = None
    if name == "load-grown":  # the session being recorded: the newest file, later records
        grown = grow(paths[-1], 1000, after=True)
    elif name == "load-grown-old":  # an older file gained records among the others
        grown = grow(paths[len(paths) // 2], 1000)
    before, sys_before = _cpu(), _cpu(system=True)
    start = time.perf_counter()
    if name in ("load-cold", "load-warm", "load-grown", "load-grown-old"):
        from workbench.labbook.query import read_frame

        frame = read_frame(paths)
        figure = {"rows": len(frame)}
    elif name == "sql":
        from workbench.labbook.sql import sql

        found = sql(SQL, paths)
        figure = {"rows": int(found["calls"].sum())}
    elif name == "hash":
        figure = hashes(paths)
    elif name == "pyarrow-json":
        import pyarrow.json as pj

        figure = {"rows": sum(pj.read_json(str(path)).num_rows for path in paths)}
    elif name == "duckdb-json":
        from workbench.labbook import columnar

        figure = {"rows": columnar._query(paths, None).num_rows}
    elif name == "sqlite-build":
        figure = {"rows": 0, "built_s": build_sqlite(root)}
    elif name == "sqlite":
        import sqlite3

        with sqlite3.connect(sqlite_path(root)) as con:
            frame = pandas.read_sql_query("select * from records order by ts", con)
        figure = {"rows": len(frame)}
    elif name == "verify":
        from workbench.labbook.verify import verify

        report = verify(paths)
        figure = {"rows": report.records_checked, "ok": report.ok}
    else:
        from datetime import date

        from workbench.export import export
        from workbench.labbook.book import files_between
        from workbench.labbook.query import load_records

        the_day = date.fromisoformat(day)
        records = load_records(files_between(root, the_day, the_day))  # as wb.log.export does
        loaded = time.perf_counter()
        text = export(records, "md", since=day, until=day)
        figure = {"rows": len(records), "load_s": loaded - start, "chars": len(text)}
    wall = time.perf_counter() - start
    sys_s = _cpu(system=True) - sys_before  # the kernel's share: mostly page faults
    if name.startswith("load-"):  # a big load returns before its new sidecars are written
        from workbench.labbook.cache import Writes

        Writes.settle()
        figure["written_s"] = time.perf_counter() - start
    if grown is not None:  # back as generated (the next load rebuilds that file's entry)
        os.truncate(*grown)
    cpu = _cpu() - before  # of the timed part only (imports excluded), worker processes included
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return {
        "wall_s": wall, "cpu_s": cpu, "sys_s": sys_s, "process_cpu_s": _cpu(), "rss_gb": rss,
        **figure,
    }  # fmt: skip


def _cpu(system: bool = False) -> float:
    """CPU seconds of this process and its children: user and system, or system only."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    if system:
        return own.ru_stime + kids.ru_stime
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


SQL = (
    "select model, count(*) as calls, avg(latency_s) as latency from records"
    " where kind = 'call' group by model"
)
"""The query of the `sql` step (as `wb.log.sql` runs it)."""


def hashes(paths: list[Path]) -> dict[str, Any]:
    """Seconds to hash every file: XXH3-128 as the cache does (mapped), BLAKE2b and SHA-256 read."""
    import hashlib

    from workbench.labbook import cache

    figure: dict[str, Any] = {"rows": 0}
    start = time.perf_counter()
    for path in paths:
        cache.key_of(path)
    figure["xxh3_s"] = time.perf_counter() - start
    for name in ("blake2b", "sha256"):
        start = time.perf_counter()
        for path in paths:
            with open(path, "rb") as handle:
                hashlib.file_digest(handle, name)
        figure[f"{name}_s"] = time.perf_counter() - start
    return figure


def sqlite_path(root: Path) -> Path:
    return root.parent / "records.sqlite"


def build_sqlite(root: Path) -> float:
    """The peer's table: every record as `to_frame` has it, in SQLite (built once, cached)."""
    import sqlite3

    import orjson

    from workbench.labbook.book import files
    from workbench.labbook.query import read_frame

    target = sqlite_path(root)
    if target.exists():
        return 0.0
    start = time.perf_counter()
    frame = read_frame(files(root))
    for name in ("params", "files", "data", "links", "tags"):
        frame[name] = [None if v is None else orjson.dumps(v).decode() for v in frame[name]]
    frame["ts"] = frame["ts"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    for name in ("day", "kind", "session", "model", "resolved", "file"):
        frame[name] = frame[name].astype(object).map(lambda v: None if v is None else str(v))
    temp = target.with_suffix(".tmp")
    temp.unlink(missing_ok=True)
    with sqlite3.connect(temp) as con:
        frame.to_sql("records", con, index=False, chunksize=20_000)
    temp.rename(target)
    return time.perf_counter() - start


def grow(path: Path, count: int, after: bool = False) -> tuple[Path, int]:
    """Append `count` notes to a session file through the store; return (path, old size).

    The notes have the file's last time, or with `after` times after every record.
    """
    import labbook_data

    from workbench.labbook import store
    from workbench.labbook.chain import new_id

    size = path.stat().st_size
    last = path.read_bytes()[:-1].rsplit(b"\n", 1)[-1]
    head = json.loads(last)
    end = labbook_data.FIRST_DAY + timedelta(days=labbook_data.DAYS)
    notes = [
        {**{k: head[k] for k in ("v", "ts", "session", "author", "source", "repo_head")},
         "id": new_id(), "kind": "note", "data": {"text": f"a note appended later ({i})"}}
        | ({"ts": f"{end + timedelta(microseconds=i):%Y-%m-%dT%H:%M:%S.%fZ}"} if after else {})
        for i in range(count)
    ]  # fmt: skip
    store.append_many(path, notes)
    return path, size


def run_step(name: str, root: Path, day: str) -> dict[str, Any]:
    """Run `step` in a fresh interpreter (its imports are not timed) and read its figures."""
    from wire_processes import machine_cpu_s

    if name == "load-cold":
        from workbench.labbook.cache import folder_for

        shutil.rmtree(folder_for(root), ignore_errors=True)
    before = machine_cpu_s()
    done = subprocess.run(
        [sys.executable, __file__, "--step", name, "--root", str(root), "--day", day],
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    after = machine_cpu_s()
    if before is not None and after is not None:
        result["others_cpu_s"] = max(0.0, after - before - result["process_cpu_s"] - 0.5)
    return result


def realistic_mtimes(root: Path) -> None:
    """Each file's mtime at its last record's time, as a lab notebook written over days has."""
    from workbench.labbook.book import files

    for path in files(root):
        with path.open("rb") as handle:
            handle.seek(max(0, path.stat().st_size - 1_000_000))
            last = handle.read().rstrip(b"\n").rsplit(b"\n", 1)[-1]
        ts = json.loads(last)["ts"]
        stamp = datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
        os.utime(path, (stamp, stamp))


def warm_page_cache(root: Path) -> tuple[int, int]:
    """Read every session file once, so the figures are not about the disk: (files, bytes)."""
    from workbench.labbook.book import files

    paths = files(root)
    return len(paths), sum(len(path.read_bytes()) for path in paths)


# -- the report ---------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="40 calls, 50,000 records")
    parser.add_argument("--calls", type=int, help="calls timed in (a)")
    parser.add_argument("--records", type=int, help="records in (b)")
    parser.add_argument("--only", choices=["a", "b"], help="run one part")
    parser.add_argument("--strict", action="store_true", help="exit 1 on a MISS")
    parser.add_argument("--steps", help="(b) only these steps, comma-separated (e.g. load-warm)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="(b) runs of each step with a target (the median)"
    )
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--day", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat takes a number of runs, 1 or more")
    if args.step:
        print(json.dumps(step(args.step, args.root, args.day)))
        return 0
    calls = args.calls or (40 if args.quick else 300)
    records = args.records or (50_000 if args.quick else 1_000_000)
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, {_versions()}")
    rows: list[tuple[str, str, str, str]] = []
    if args.only in (None, "a"):
        rows += part_a(calls)
    if args.only in (None, "b"):
        rows += part_b(records, args.steps.split(",") if args.steps else None, args.repeat)
    print()
    print("| benchmark | figure | target | verdict |")
    print("| --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 1 if args.strict and any(r[3] == "MISS" for r in rows) else 0


def part_a(calls: int) -> list[tuple[str, str, str, str]]:
    print(f"(a) recording overhead: {calls} calls to the OpenAI wire server, logging timed alone")
    tmp = Path(tempfile.mkdtemp(prefix="bench-labbook-"))
    try:
        times = overhead(calls, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    p = {k: (percentile(v, 50) * 1e3, percentile(v, 99) * 1e3) for k, v in times.items()}
    rows = []
    for name, what in (
        ("ours", "append + fsync"),
        ("ours+git", "append + fsync + git commit"),
        ("llm", "llm log_to_db (SQLite)"),
    ):
        p50, p99 = p[name]
        ratio = f"; / llm: p50 {p50 / p['llm'][0]:.2f}, p99 {p99 / p['llm'][1]:.2f}"
        figure = f"p50 {p50:.2f} ms, p99 {p99:.2f} ms" + ("" if name == "llm" else ratio)
        target, verdict = "", ""
        if name == "ours":
            worst = max(p50 / p["llm"][0], p99 / p["llm"][1])
            target, verdict = f"<= {OVERHEAD_TARGET:g} x llm", _verdict(worst <= OVERHEAD_TARGET)
        rows.append((f"(a) {what}, per call", figure, target, verdict))
    return rows


TARGETS = {"load-cold": 5.0, "load-warm": 1.0, "verify": 10.0}
"""Seconds for 1M records (scaled to the records there are)."""
STEPS = (
    ("load-cold", "load into pandas, no cache yet (DuckDB parses, sidecars written)"),
    ("load-warm", "load into pandas, sidecars valid (every file hashed again)"),
    ("load-grown", "load into pandas, the newest file grew by 1,000 later records"),
    ("load-grown-old", "load into pandas, an older file grew by 1,000 records (sorted again)"),
    ("sql", "wb.log.sql: calls and mean latency per model (sidecars valid)"),
    ("hash", "hash every file: XXH3-128 (the cache key), mapped"),
    ("pyarrow-json", "peer: pyarrow.json.read_json of every file (Arrow table, no frame)"),
    ("duckdb-json", "DuckDB's JSON reader alone: the query of a cold load (Arrow, no frame)"),
    ("sqlite", "peer: SQLite, `select * from records` into pandas (records in a table)"),
    ("verify", "verify (every record re-hashed from the raw bytes)"),
    ("export", "export one day, md (load_records + export)"),
)


def part_b(
    records: int, only: list[str] | None = None, repeat: int = 3
) -> list[tuple[str, str, str, str]]:
    import labbook_data

    start = time.perf_counter()
    root = labbook_data.generate(records)
    made = time.perf_counter() - start
    wanted = [(name, what) for name, what in STEPS if only is None or name in only]
    sqlite = any(name == "sqlite" for name, _ in wanted)
    built = run_step("sqlite-build", root, "")["wall_s"] if sqlite else 0.0
    files, size = warm_page_cache(root)
    realistic_mtimes(root)
    middle = labbook_data.FIRST_DAY + timedelta(days=labbook_data.DAYS // 2)
    day = f"{middle:%Y-%m-%d}"
    print(
        f"(b) {root}: {files} files, {size / 1e9:.2f} GB "
        f"({f'generated in {made:.0f} s' if made > 1 else 'cached'}"
        f"{f'; SQLite table built in {built:.0f} s' if built > 1 else ''}); export day {day}"
    )
    rows = []
    for name, what in wanted:
        runs = [run_step(name, root, day) for _ in range(repeat if name in TARGETS else 1)]
        for r in runs:
            print(f"  {name}: {json.dumps(r)}")
        r = sorted(runs, key=lambda run: run["wall_s"])[len(runs) // 2]  # the median run
        walls = [run["wall_s"] for run in runs]
        spread = f"median of {len(runs)}: {min(walls):.2f}-{max(walls):.2f} s; "
        figure = f"{r['wall_s']:.2f} s ({spread if len(runs) > 1 else ''}{r['rows']:,} records"
        figure += f", CPU {r['cpu_s']:.1f} s of which system {r['sys_s']:.1f} s"
        figure += f", peak RSS {r['rss_gb']:.1f} GB"
        if r.get("written_s", r["wall_s"]) > r["wall_s"] + 0.05:
            figure += f"; new sidecars on disk at {r['written_s']:.2f} s"
        if "load_s" in r:
            figure += f"; of which load_records {r['load_s']:.2f} s"
        if name == "hash":
            figure = (
                f"{r['xxh3_s']:.2f} s for {size / 1e9:.2f} GB ({size / 1e9 / r['xxh3_s']:.1f} GB/s;"
                f" BLAKE2b {r['blake2b_s']:.2f} s, SHA-256 {r['sha256_s']:.2f} s"
            )
        if r.get("others_cpu_s", 0) > 0.2 * r["wall_s"]:
            figure += f"; other processes used {r['others_cpu_s']:.1f} s CPU"
        figure += ")"
        target, verdict = "", ""
        if name in TARGETS:
            scaled = TARGETS[name] * r["rows"] / 1_000_000
            target = f"<= {scaled:.2f} s" if records != 1_000_000 else f"<= {TARGETS[name]:g} s"
            verdict = _verdict(r["wall_s"] <= scaled)
        if name == "verify" and not r["ok"]:
            verdict = "BROKEN CHAIN"
        rows.append((f"(b) {what}", figure, target, verdict))
    return rows


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def _versions() -> str:
    from importlib.metadata import version

    names = ("pandas", "pyarrow", "duckdb", "xxhash", "orjson", "llm", "sqlite-utils")
    out = []
    for name in names:
        try:
            out.append(f"{name} {version(name)}")
        except Exception:
            out.append(f"{name} -")
    return ", ".join(out)


if __name__ == "__main__":
    sys.exit(main())
