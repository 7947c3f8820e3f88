"""The lab notebook: every call, decision and note of a session, recorded as it happens.

A `LabBook` writes one file per session under a dated folder of its root
(`<root>/2026/11/25/<session>.jsonl`); the first record of each file describes the session.
Calls are recorded with no opt-in (a Session registers `record_call` as a recorder);
`pause()` and `resume()` stop and restart that, and are recorded (and committed) themselves.
Every string, and every commit message, is redacted before it is written (and a commit
message is shortened only after).

Git commits run off the caller's path: `commit_soon(message)` (a Session's comparisons)
asks the committer thread, which commits at once if the last commit is `commit_every_s`
old, else when it is, all that was appended until then in one commit whose message lists
each message asked for. `commit()` commits now (the CLI's notes, decisions, audits,
`wb.log.commit()`); whatever is left is committed at exit. A record is durable (fsync'd)
before `append` returns; its commit may come later, and after a crash the next session's
commit takes it.
"""

from __future__ import annotations

import atexit
import threading
import time as clock
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import InvalidOption
from workbench.labbook import filestore, store
from workbench.labbook.background import Committer, Writer
from workbench.labbook.chain import REPLACEMENT, SCHEMA_VERSION, new_id, prompt_hash, whole
from workbench.labbook.redact import Redactor
from workbench.labbook.sessionfiles import (
    files,
    files_between,
    lines,
    recent,
    records,
    session_file,
)
from workbench.labbook.sessioninfo import detect_source, fallback_author, session_facts
from workbench.labbook.verdicts import VERDICTS, check_verdict
from workbench.notices import notice

if TYPE_CHECKING:
    from workbench.labbook.git import GitSync
    from workbench.providers.base import Prompt, Reply
    from workbench.run import Job

__all__ = [  # readers import these from here too (from `sessionfiles`, `sessioninfo`, `verdicts`)
    "COMMIT_EVERY_S", "LINE_WIDTH", "QUOTE_WIDTH", "VERDICTS", "LabBook", "check_verdict",
    "detect_source", "files", "files_between", "lines", "recent", "records", "reply_fields",
    "session_facts",
]  # fmt: skip

_LATER = "_later"
"""Where a queued record keeps the function that makes the rest of its fields."""
COMMIT_EVERY_S = 5.0
"""A session's background commits: at most one every this many seconds (the first at once)."""
QUOTE_WIDTH = 60
"""Characters of a prompt quoted in a commit message (after redaction)."""
LINE_WIDTH = 200
"""Characters of one message line of a commit (after redaction)."""


class LabBook:
    """Appends records for one session; reads every session's records back."""

    def __init__(
        self,
        root: Path,
        session: str,
        *,
        source: str | None = None,
        redactor: Redactor | None = None,
        git: GitSync | None = None,
        clock: Callable[[], datetime] | None = None,
        commit_every_s: float = COMMIT_EVERY_S,
        announce: str | None = None,
    ) -> None:
        """`clock`: the time records carry (default: now, UTC); `announce`: said at first write."""
        self.root = root
        self.session = session
        self.source = source or detect_source()
        self.redact = redactor or Redactor()
        self.git = git
        self.clock = clock or _now
        self.paused = False
        self.pending = 0
        """Records appended since the last commit."""
        self._path: Path | None = None
        self._author = git.author() if git else fallback_author()
        self._writer = Writer(self._write_batch)
        self._pending_lock = threading.Lock()
        self._messages: list[Callable[[], str]] = []
        """Message lines of the commits asked for and not yet made, built when committing."""
        self._commit_lock = threading.Lock()
        self._committer = Committer(self._commit_in_background, commit_every_s)
        self._announce = announce
        self._stored: set[str] = set()
        """Hashes of the files this session stored (only the writer thread touches it)."""
        if git is not None:  # records appended but not yet committed are committed at exit
            atexit.register(self._commit_at_exit)

    @property
    def path(self) -> Path:
        """This session's file (created with its session record on first write)."""
        if self._path is None:
            day = self.clock()
            self._path = session_file(self.root, day, self.session)
        return self._path

    # -- writing -------------------------------------------------------------------------

    def submit(
        self, kind: str, later: Callable[[], dict[str, Any]] | None = None, **fields: Any
    ) -> Future[dict[str, Any]]:
        """Queue a record for the writer thread; the future resolves once it is on disk.

        `later` makes the rest of the record's fields in the writer thread, off the caller's
        (the event loop's) time; the research repo's HEAD is read there too, once a batch.
        """
        record = {
            "v": SCHEMA_VERSION,
            "id": new_id(),
            "ts": self.clock().isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "kind": kind,
            "session": self.session,
            "author": self._author,
            "source": self.source,
            "repo_head": None,
            **fields,
        }
        if later is not None:
            record[_LATER] = later
        future: Future[dict[str, Any]] = Future()
        self._writer.put(record, future)
        return future

    def append(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Append one record and wait until it is durable; return it as written."""
        return self.submit(kind, **fields).result()

    def _write_batch(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        def header() -> dict[str, Any]:  # the file's first record: the session's facts
            facts = {**records[0], "id": new_id(), "kind": "session", "data": session_facts()}
            return dict(self.redact({k: v for k, v in facts.items() if k in _SESSION_FIELDS}))

        head = self.git.repo_head() if self.git else None
        for record in records:
            record["repo_head"] = head
            later = record.pop(_LATER, None)
            if later is not None:
                record.update(later())
        redacted = self.redact(records)  # one look at the environment per batch
        try:
            written = store.append_many(self.path, redacted, header=header)
        except OSError as e:
            raise store.unwritable(self.root, e) from e
        with self._pending_lock:
            self.pending += len(written)
        if self._announce is not None:
            notice(self._announce, once=f"where {self.root}")
            self._announce = None
        return written

    def close(self) -> None:
        """Write everything queued and stop the writer and committer threads.

        What was appended and not committed stays pending: the next `commit()` (or the one
        at exit) takes it.
        """
        self._writer.close()
        self._committer.stop()

    def _commit_at_exit(self) -> None:
        self.close()
        self._commit_reporting(None if self._messages else "flush at exit", "at exit")

    def _commit_in_background(self) -> None:
        self._commit_reporting(None, "in the background")

    def _commit_reporting(self, message: str | None, when: str) -> None:
        """`commit(message)`, saying in one line why it failed (there is no one to raise to)."""
        try:
            self.commit(message)
        except Exception as e:
            notice(
                f"lab notebook not committed {when} ({_first_line(e)}); the records are on "
                f"disk in {self.root} and the next commit will take them",
                once=f"commit failed {self.root} {type(e).__name__}",
            )

    def admit(self, prompts: Iterable[Prompt]) -> None:
        """Before anything is sent: refuse a text file that holds a secret (InvalidPrompt).

        Files are stored as they are (their hash names them), so one holding a key cannot
        be redacted: it is refused instead. Nothing is refused while recording is paused.
        """
        if not self.paused:
            filestore.refuse_secrets((f for p in prompts for f in p.files), self.redact)

    def record_call(
        self, job: Job, reply: Reply, *, tags: Sequence[str] = ()
    ) -> Future[dict[str, Any]] | None:
        """Queue the record of one finished call (a Session recorder); nothing while paused.

        The prompt's files are stored (`filestore`) before the record that names them.
        `tags` mark how the call was made (a provider batch: "batch").
        """
        if self.paused:
            return None

        def fields() -> dict[str, Any]:  # in the writer thread
            prompt = job.prompt.to_dict()
            withheld = self._store_files(job.prompt)
            for message in prompt["messages"] if withheld else ():
                for file in message.get("files", ()):
                    if file["sha256"] in withheld:
                        file["stored"] = False  # sent, not kept: it holds a secret
            if job.prompt.origin is not None:  # the prompt file it came from, beside the request
                prompt["origin"] = job.prompt.origin.to_dict()
            return {
                "model": job.spec.label,
                "resolved": job.spec.full_name,
                "request_hash": prompt_hash(job.spec.full_name, job.prompt),
                "prompt": {**prompt, "sample": job.sample},
                "reply": reply_fields(reply),
                **({"parent": job.parent} if job.parent else {}),  # a follow-up's earlier turn
                **({"tags": list(tags)} if tags else {}),
            }

        return self.submit("call", fields)

    def _store_files(self, prompt: Prompt) -> set[str]:
        """Store the prompt's files; the hashes of those withheld (text holding a secret).

        `admit` refuses those before sending; a call that skipped it (a runner used without
        a session) is still recorded, naming the file, which is then not kept.
        """
        withheld: set[str] = set()
        for file in prompt.files:
            if file.sha256 in self._stored:  # this session stored it already
                continue
            if filestore.holds_secret(file, self.redact):
                withheld.add(file.sha256)
                notice(
                    f"{file.name} was sent but is not kept in the lab notebook: it holds what "
                    "looks like a secret (its record names it by hash)",
                    once=f"withheld {file.sha256}",
                )
                continue
            try:
                filestore.put(self.root, file)
            except OSError as e:
                raise store.unwritable(self.root, e) from e
            self._stored.add(file.sha256)
        return withheld

    def decide(
        self,
        verdict: str,
        on: Sequence[str],
        *,
        choice: str | None = None,
        reason: str | None = None,
        tags: Iterable[str] = (),
        score: int | None = None,
        supersedes: str | None = None,
    ) -> dict[str, Any]:
        """Record a human verdict on call records (the shapes: `VERDICTS`).

        `supersedes` names an earlier decision this one replaces (a new pick over an old one).
        """
        check_verdict(verdict, list(on), choice, score)
        data: dict[str, Any] = {"verdict": verdict, "choice": choice, "reason": reason}
        if score is not None:
            data["score"] = score
        if supersedes is not None:
            data["supersedes"] = supersedes
        return self.append("decision", links=list(on), tags=sorted(set(tags)), data=data)

    def note(
        self, text: str, *, on: Sequence[str] = (), tags: Iterable[str] = ()
    ) -> dict[str, Any]:
        """Record a free note, optionally about some records."""
        if not text.strip():
            raise InvalidOption("a note needs some text")
        return self.append("note", links=list(on), tags=sorted(set(tags)), data={"text": text})

    def pause(self, reason: str | None = None) -> None:
        """Stop recording calls until `resume()`; the pause itself is recorded."""
        if not self.paused:
            self.append("pause", data={"reason": reason})
            self.paused = True
            self.commit("pause recording" + (f": {reason}" if reason else ""))

    def resume(self) -> None:
        """Record calls again."""
        if self.paused:
            self.paused = False
            self.append("resume", data={})
            self.commit("resume recording")

    def commit(self, message: str | None = None) -> str | None:
        """Commit now what was appended since the last commit (if git is on); return the commit.

        `message` says what the records are; the messages of commits asked for with
        `commit_soon` and not yet made join it (it comes last).
        """
        with self._commit_lock:
            with self._pending_lock:
                count, self.pending = self.pending, 0
                asked, self._messages = self._messages, []
            if self.git is None or count == 0:
                return None
            lines = [line() for line in asked]
            lines += [] if message is None else [self.describe(message)]
            try:
                sha = self.git.commit(_message(lines, count))
            except BaseException:  # not committed: still pending, for the next commit
                with self._pending_lock:
                    self.pending += count
                    self._messages[:0] = asked
                raise
            self._committer.last = clock.monotonic()
            return sha

    def commit_soon(self, message: str) -> None:
        """Ask for a commit in the background (see the module docstring); return at once."""
        self._ask(lambda: self.describe(message))

    def compared(self, prompt: str, models: Sequence[str]) -> None:
        """Commit a comparison's records soon: "compare: '<prompt, cut>' on <models>"."""
        names = ", ".join(models)
        if not self.paused:  # the message is made off the caller's path, like the commit
            self._ask(lambda: self.describe(f"compare: {self.quote(prompt)} on {names}"))

    def _ask(self, line: Callable[[], str]) -> None:
        if self.git is None:
            return
        with self._pending_lock:
            self._messages.append(line)
        self._committer.ask()

    def quote(self, text: str) -> str:
        """`text` to quote in a commit message: redacted first, then cut to QUOTE_WIDTH."""
        return repr(_clip(self.redact.text(text), QUOTE_WIDTH))

    def describe(self, message: str) -> str:
        """One line of a commit message: redacted first, then cut to LINE_WIDTH."""
        return _clip(self.redact.text(message), LINE_WIDTH)

    # -- reading -------------------------------------------------------------------------

    def files(self) -> list[Path]:
        """Every session file, oldest folder first."""
        return files(self.root)

    def lines(self) -> Iterator[store.Line]:
        """Every record of every session, file by file."""
        return lines(self.root)

    def records(self) -> list[dict[str, Any]]:
        """Every record of every session, in time order."""
        return records(self.root)


def reply_fields(reply: Reply) -> dict[str, Any]:
    """A reply as its call record holds it (`Reply.to_dict` without the model's names)."""
    data = reply.to_dict()
    for key in ("model", "resolved"):
        data.pop(key)
    return data


_SESSION_FIELDS = ("v", "id", "ts", "kind", "session", "author", "source", "repo_head", "data")


def _now() -> datetime:
    return datetime.now(UTC)


def _message(lines: list[str], count: int) -> str:
    """A commit message: the newest line (and how many more) and the count; then every line."""
    records = f"({count} record{'s' * (count != 1)})"
    if len(lines) <= 1:
        return f"{lines[0] if lines else 'records'} {records}"
    return f"{lines[-1]} and {len(lines) - 1} more {records}\n\n" + "\n".join(lines)


def _clip(text: str, width: int) -> str:
    """`text` on one line that git takes (no NUL, no lone surrogate), cut to `width`."""
    line = " ".join(whole(text).replace("\0", REPLACEMENT).split())
    return line if len(line) <= width else line[: width - 1] + "…"


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
