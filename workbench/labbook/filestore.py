"""The files sent with prompts, stored once each in the lab notebook, named by their sha256.

`<root>/files/ab/abcdef...` holds the bytes whose SHA-256 (hex) is `abcdef...`: the same
bytes sent in many calls, sessions or clones are one file. Call records name files by hash
(`prompt.messages[].files[].sha256`), and each file is written and fsync'd before the record
that names it; git commits the folder with the records (`workbench.labbook.git`), and
`workbench log verify` re-hashes every file a record names.

Text files are stored only when the redactor finds no secret in them: a text file that holds
what looks like a key is refused before anything is sent (`refuse_secrets`, an
`InvalidPrompt`), since a file is stored as it is and cannot be redacted without changing
its hash. Images and PDFs are stored as they are.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from workbench.errors import InvalidPrompt
from workbench.labbook.redact import Redactor
from workbench.labbook.store import fsync
from workbench.providers.content import File

FOLDER = "files"
"""The folder of stored files, inside the lab notebook's root."""
_CHUNK = 1 << 20


def path_of(root: Path, sha256: str) -> Path:
    """Where the file with this hash is (or would be) stored."""
    return root / FOLDER / sha256[:2] / sha256


def relative(sha256: str) -> str:
    """The stored file's path relative to the lab notebook's root, with forward slashes."""
    return f"{FOLDER}/{sha256[:2]}/{sha256}"


def put(root: Path, file: File) -> Path:
    """Store `file` durably unless it is already there; its path. Raises OSError."""
    where = path_of(root, file.sha256)
    try:
        if where.stat().st_size == file.size:
            return where  # content-addressed: same name, same size, same bytes
    except FileNotFoundError:
        pass
    folder = where.parent
    new_folders = [p for p in (folder.parent, folder) if not p.is_dir()]
    folder.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{file.sha256[:12]}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(file.data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o444)  # never edited: a change would break its name
        os.replace(temp, where)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    fsync(folder)  # the directory entries, durable too
    for made in new_folders:
        fsync(made.parent)
    return where


def digest(path: Path) -> str:
    """The SHA-256 (hex) of a file's bytes, read in chunks."""
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            sha.update(chunk)
    return sha.hexdigest()


def holds_secret(file: File, redactor: Redactor) -> bool:
    """Whether a text file holds what the redactor would redact (other kinds: never looked at)."""
    if file.kind != "text":
        return False
    return redactor.finds(file.data.decode("utf-8", errors="replace"))


def refuse_secrets(files: Iterable[File], redactor: Redactor) -> None:
    """An InvalidPrompt naming the first text file that holds a secret (each looked at once)."""
    seen: set[str] = set()
    for file in files:
        if file.sha256 in seen:
            continue
        seen.add(file.sha256)
        if holds_secret(file, redactor):
            raise InvalidPrompt(
                f"{file.name} holds what looks like a secret (an API key or token): remove it "
                "from the file and send it again (nothing was sent; the lab notebook keeps "
                "files as they are, so it cannot redact one)"
            )


def named(record: dict[str, Any]) -> list[tuple[str | None, str, str]]:
    """(record id, name, sha256) of each file a call record names and says it stored."""
    prompt = record.get("prompt")
    if record.get("kind") != "call" or not isinstance(prompt, dict):
        return []
    rid = record.get("id") if isinstance(record.get("id"), str) else None
    messages = prompt.get("messages")
    return [
        (rid, str(f.get("name")), str(f.get("sha256")))
        for m in (messages if isinstance(messages, list) else ())
        if isinstance(m, dict) and isinstance(m.get("files"), list)
        for f in m["files"]
        if isinstance(f, dict) and "sha256" in f and f.get("stored", True) is not False
    ]


def root_of(session_file: Path) -> Path | None:
    """The lab notebook's root of a session file laid out as `<root>/YYYY/MM/DD/<name>`."""
    day = session_file.parent
    month, year = day.parent, day.parent.parent
    dated = (len(year.name), len(month.name), len(day.name)) == (4, 2, 2)
    return year.parent if dated and (year.name + month.name + day.name).isdigit() else None
