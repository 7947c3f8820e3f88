"""The record format: field order, canonical JSON, ids, and the hash chain that links records.

One record is one JSON object on one line. Fields appear in `FIELDS` order (the order is part
of the format); `hash` is the SHA-256 of the canonical JSON of every other field, and `prev`
is the `hash` of the record before it in the same file (`None` for the first, whose `seq` is
0). Changing, removing or reordering a line therefore breaks the chain at that line.

Text is UTF-8. A lone surrogate (half of a UTF-16 pair, e.g. a reply whose JSON held an
escaped D800) has no UTF-8 form: it is recorded as U+FFFD, the replacement character, when the
record is sealed, and hashed as that (`canonical` does the same for request hashes).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.providers.base import Prompt

SCHEMA_VERSION = 1

FIELDS = (
    "v", "id", "ts", "kind", "session", "seq", "author", "source", "repo_head",
    "model", "resolved", "request_hash", "prompt", "reply", "links", "tags", "data",
    "prev", "hash",
)  # fmt: skip
KINDS = ("session", "call", "decision", "note", "pause", "resume", "audit")

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_SURROGATE = re.compile("[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def new_id() -> str:
    """A 26-character ULID: sortable by creation time, unique without coordination."""
    value = (time.time_ns() // 1_000_000) << 80 | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def new_session_id() -> str:
    """A session's id, which names its file: UTC start time, sortable, plus 8 random hex digits."""
    return f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-{os.urandom(4).hex()}"


def canonical(value: Any) -> bytes:
    """The one byte string a JSON value hashes as: sorted keys, no spaces, UTF-8."""
    return _utf8(_sorted_json(value))[0]


def record_hash(record: dict[str, Any]) -> str:
    """The SHA-256 (hex) of a record's canonical JSON without its own `hash` field."""
    body = {k: v for k, v in record.items() if k != "hash"}
    return hashlib.sha256(canonical(body)).hexdigest()


def whole(value: Any) -> Any:
    """A JSON-like value with every lone surrogate in its strings (keys too) as U+FFFD."""
    if isinstance(value, str):
        return _SURROGATE.sub(REPLACEMENT, value)
    if isinstance(value, dict):
        return {whole(k): whole(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [whole(v) for v in value]
    return value


def _sorted_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _utf8(text: str) -> tuple[bytes, bool]:
    """`text` as UTF-8, each lone surrogate as U+FFFD; and whether `text` had none."""
    try:
        return text.encode(), True
    except UnicodeEncodeError:
        return _SURROGATE.sub(REPLACEMENT, text).encode(), False


def prompt_hash(model: str, prompt: Prompt) -> str:
    """`request_hash` of a Prompt: the one key records, replays and audits all use."""
    data = prompt.to_dict()
    return request_hash(model, data["messages"], data["params"], data.get("schema"))


def request_hash(
    model: str,
    messages: list[dict[str, Any]],
    params: dict[str, Any],
    schema: dict[str, Any] | None = None,
) -> str:
    """The replay key of a call: the resolved model, the messages and the set params.

    Files are in the messages by name, type, size and sha256, so the key covers their bytes;
    a schema (structured output) is part of the request too, only when there is one (so
    the keys of requests without one are what they always were).
    """
    payload: dict[str, Any] = {"model": model, "messages": messages, "params": params}
    if schema is not None:
        payload["schema"] = schema
    return hashlib.sha256(canonical(payload)).hexdigest()


def ordered(record: dict[str, Any]) -> dict[str, Any]:
    """The record with its fields in format order (unknown fields from newer versions last)."""
    known = {k: record[k] for k in FIELDS if k in record}
    return known | {k: v for k, v in record.items() if k not in known}


def seal(record: dict[str, Any], seq: int, prev: str | None) -> dict[str, Any]:
    """Fill in `seq`, `prev` and `hash`, in format order (lone surrogates become U+FFFD)."""
    sealed = ordered({**record, "seq": seq, "prev": prev, "hash": ""})
    data, was_whole = _utf8(_sorted_json({k: v for k, v in sealed.items() if k != "hash"}))
    if not was_whole:  # rare: only then walk the record
        sealed = whole(sealed)
    sealed["hash"] = hashlib.sha256(data).hexdigest()
    return sealed


def dumps(record: dict[str, Any]) -> bytes:
    """One record as one line of JSON, newline included."""
    return _utf8(json.dumps(record, ensure_ascii=False, separators=(",", ":")))[0] + b"\n"
