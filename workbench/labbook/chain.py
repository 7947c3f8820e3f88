"""The record format: field order, canonical JSON, ids, and the hash chain that links records.

One record is one JSON object on one line. Fields appear in `FIELDS` order (the order is part
of the format); `hash` is the SHA-256 of the canonical JSON of every other field, and `prev`
is the `hash` of the record before it in the same file (`None` for the first, whose `seq` is
0). Changing, removing or reordering a line therefore breaks the chain at that line.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.models.base import Prompt

SCHEMA_VERSION = 1

FIELDS = (
    "v", "id", "ts", "kind", "session", "seq", "author", "source", "repo_head",
    "model", "resolved", "request_hash", "prompt", "reply", "links", "tags", "data",
    "prev", "hash",
)  # fmt: skip
KINDS = ("session", "call", "decision", "note", "pause", "resume", "audit")

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id() -> str:
    """A 26-character ULID: sortable by creation time, unique without coordination."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def new_session_id() -> str:
    """A session's id, which names its file: UTC start time, sortable, plus 8 random hex digits."""
    return f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{os.urandom(4).hex()}"


def canonical(value: Any) -> bytes:
    """The one byte string a JSON value hashes as: sorted keys, no spaces, UTF-8."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def record_hash(record: dict[str, Any]) -> str:
    """The SHA-256 (hex) of a record's canonical JSON without its own `hash` field."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(canonical(body)).hexdigest()


def prompt_hash(model: str, prompt: Prompt) -> str:
    """`request_hash` of a Prompt: the one key records, replays and audits all use."""
    data = prompt.to_dict()
    return request_hash(model, data["messages"], data["params"])


def request_hash(model: str, messages: list[dict[str, str]], params: dict[str, Any]) -> str:
    """The replay key of a call: the resolved model, the messages and the set params."""
    payload = {"model": model, "messages": messages, "params": params}
    return hashlib.sha256(canonical(payload)).hexdigest()


def ordered(record: dict[str, Any]) -> dict[str, Any]:
    """The record with its fields in format order (unknown fields from newer versions last)."""
    known = {k: record[k] for k in FIELDS if k in record}
    return known | {k: v for k, v in record.items() if k not in known}


def seal(record: dict[str, Any], seq: int, prev: str | None) -> dict[str, Any]:
    """Fill in `seq`, `prev` and `hash`, in format order."""
    sealed = ordered({**record, "seq": seq, "prev": prev, "hash": ""})
    sealed["hash"] = record_hash(sealed)
    return sealed


def dumps(record: dict[str, Any]) -> bytes:
    """One record as one line of JSON, newline included."""
    return json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
