"""A large synthetic lab notebook for bench/labbook.py, written through the real store.

`generate(records)` writes about `records` records over `DAYS` days and `SESSIONS_PER_DAY`
session files per day: each file starts with a session record (as `LabBook` writes it),
then calls (prompts and replies of a few hundred characters, some with a system message,
some failed), decisions picking or rejecting recent calls, notes, tags, and now and then a
pause and a resume. Records are sealed and appended by `workbench.labbook.store.append_many`
in batches, so every chain is valid. The folder is cached under /tmp keyed by `VERSION` and
the size; a finished folder has a `complete` marker, so reruns reuse it.
"""

from __future__ import annotations

import multiprocessing as mp
import random
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

VERSION = "labbook-bench-3"
DAYS = 7
SESSIONS_PER_DAY = 24
FIRST_DAY = datetime(2026, 11, 16, tzinfo=UTC)
MODELS = [
    ("gpt", "openai:gpt-4o"),
    ("claude", "anthropic:claude-sonnet-4-5"),
    ("gemini", "gemini:gemini-2.5-pro"),
    ("local", "local:smollm2"),
]
WORDS = [
    "the", "model", "answer", "prompt", "token", "context", "latency", "cost", "reply",
    "system", "user", "chain", "hash", "record", "experiment", "baseline", "variance",
    "sample", "evidence", "notebook", "review", "temperature", "reasoning", "summary",
    "abstract", "method", "result", "table", "figure", "of", "a", "to", "in", "is", "it",
    "that", "for", "with", "as", "on", "by",
]  # fmt: skip
FOREIGN = ["déjà", "naïve", "Zürich", "東京", "α", "β", "γ", "—", "“quoted”"]
"""Words outside ASCII, in about one text in ten (most prompts are plain English)."""
_BATCH = 2000


def folder(records: int) -> Path:
    """Where the lab notebook of `records` records is cached."""
    return Path(tempfile.gettempdir()) / f"workbench-{VERSION}-{records}" / "labbook"


def generate(records: int, *, processes: int = 2) -> Path:
    """The cached lab notebook of about `records` records (written on first use)."""
    root = folder(records)
    if (root.parent / "complete").exists():
        return root
    shutil.rmtree(root.parent, ignore_errors=True)
    root.mkdir(parents=True)
    per_file = max(2, records // (DAYS * SESSIONS_PER_DAY))
    jobs = [(root, day, s, per_file) for day in range(DAYS) for s in range(SESSIONS_PER_DAY)]
    with mp.get_context("fork").Pool(processes) as pool:
        pool.starmap(_write_file, jobs)
    (root.parent / "complete").write_text(f"{VERSION} {records}\n")
    return root


def _text(rng: random.Random, chars: int) -> str:
    out: list[str] = [rng.choice(FOREIGN)] if rng.random() < 0.1 else []
    size = 0
    while size < chars:
        word = rng.choice(WORDS)
        out.append(word)
        size += len(word) + 1
    return " ".join(out).capitalize() + "."


def _write_file(root: Path, day: int, index: int, count: int) -> None:
    from workbench.labbook import store
    from workbench.labbook.chain import SCHEMA_VERSION, new_id, request_hash

    rng = random.Random(day * 1000 + index)
    start = FIRST_DAY + timedelta(days=day, hours=7, minutes=rng.randrange(600))
    span = timedelta(hours=23, minutes=59) - (start - (FIRST_DAY + timedelta(days=day)))
    step = span / (count + 1)
    session = f"{start:%Y%m%dT%H%M%SZ}-{rng.getrandbits(32):08x}"
    path = root / f"{start:%Y}" / f"{start:%m}" / f"{start:%d}" / f"{session}.jsonl"
    author = {"name": f"researcher{index % 5}", "email": f"r{index % 5}@lab.example"}
    source = rng.choice(["analysis.ipynb", "prompts/eval.ipynb", "workbench compare"])
    head = f"{rng.getrandbits(160):040x}"

    def base(i: int, kind: str) -> dict[str, Any]:
        ts = (start + step * i).isoformat(timespec="microseconds").replace("+00:00", "Z")
        return {
            "v": SCHEMA_VERSION,
            "id": new_id(),
            "ts": ts,
            "kind": kind,
            "session": session,
            "author": author,
            "source": source,
            "repo_head": head,
        }

    facts = {"workbench": "0.1.0", "python": "3.11.7", "host": "bench", "pid": 1, "cwd": "/w"}
    batch: list[dict[str, Any]] = [{**base(0, "session"), "data": facts}]
    calls: list[str] = []
    paused = False
    for i in range(1, count):
        roll = rng.random()
        if paused or roll < 0.005:
            kind, paused = ("resume", False) if paused else ("pause", True)
            data = {} if kind == "resume" else {"reason": "lunch"}
            record = {**base(i, kind), "data": data}
        elif roll < 0.06 and calls:
            on = calls[-rng.randint(1, min(3, len(calls))) :]
            verdict = rng.choice(["pick", "reject"])
            data = {
                "verdict": verdict,
                "choice": on[0] if verdict == "pick" else None,
                "reason": _text(rng, 60),
            }
            record = {**base(i, "decision"), "links": on, "tags": ["eval"], "data": data}
        elif roll < 0.09:
            on = calls[-1:] if calls and rng.random() < 0.5 else []
            tags = sorted(rng.sample(["todo", "math", "eval", "draft"], rng.randint(0, 2)))
            data = {"text": _text(rng, 150)}
            record = {**base(i, "note"), "links": on, "tags": tags, "data": data}
        else:
            record = _call(rng, base(i, "call"), request_hash)
            calls.append(record["id"])
        batch.append(record)
        if len(batch) >= _BATCH:
            store.append_many(path, batch)
            batch = []
    if batch:
        store.append_many(path, batch)


def _call(rng: random.Random, record: dict[str, Any], hasher: Any) -> dict[str, Any]:
    label, resolved = rng.choice(MODELS)
    messages = [{"role": "system", "content": _text(rng, 80)}] if rng.random() < 0.3 else []
    messages.append({"role": "user", "content": _text(rng, rng.randint(150, 450))})
    params = {"temperature": rng.choice([0.0, 0.2, 0.7]), "max_tokens": 512}
    failed = rng.random() < 0.02
    text = "" if failed else _text(rng, rng.randint(200, 600))
    error = {"type": "RateLimited", "message": "429: slow down", "status": 429}
    reply = {
        "text": text,
        "usage": {"input_tokens": rng.randint(40, 200), "output_tokens": rng.randint(50, 300)},
        "cost_usd": None if failed else round(rng.random() / 100, 6),
        "price_source": "genai-prices",
        "latency_s": round(rng.uniform(0.3, 9.0), 3),
        "first_token_s": round(rng.uniform(0.1, 1.0), 3),
        "finish_reason": None if failed else "stop",
        "model_version": f"{resolved}-2026-10-01",
        "error": error if failed else None,
        "attempts": 1 + failed,
        "started_at": record["ts"],
    }
    return {
        **record,
        "model": label,
        "resolved": resolved,
        "request_hash": hasher(resolved, messages, params),
        "prompt": {"messages": messages, "params": params, "sample": 0},
        "reply": reply,
    }
