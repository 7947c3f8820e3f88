"""A run's folder inside the lab notebook: `audits/<date>-<name>-<run id>/`.

exercise.yaml   the exercise file as it was when the run started
items.jsonl     the items chosen (after --sample and --shard), with their fields and the
                files each sends (by sha256)
files/          a copy of each of those files, named by its sha256 (see `files`)
manifest.json   what was asked (models, params, schema, budget, shard), status and the sessions
results.jsonl   one row per finished item, appended as each finishes (a later row for
                the same item replaces an earlier one)
audit.ipynb     the executed notebook
batches.json    a batch run's provider batches and what each holds (see `batch_state`)
STOP            present while a stop is asked for (Ctrl-C in the command that runs it)

Every file is written redacted (see `secrets`): the manifest's `redact` patterns, the
default ones and the values of secret environment variables never reach it.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.audit.items import Item
from workbench.errors import AuditError

if TYPE_CHECKING:
    from workbench.config import Config
    from workbench.labbook import LabBook
    from workbench.labbook.redact import Redactor

AUDITS = "audits"
MANIFEST, RESULTS, ITEMS, EXERCISE, NOTEBOOK, STOP = (
    "manifest.json", "results.jsonl", "items.jsonl", "exercise.yaml", "audit.ipynb", "STOP",
)  # fmt: skip


@dataclass(frozen=True)
class RunFolder:
    """One run's folder and the files in it."""

    path: Path

    @property
    def name(self) -> str:
        """The folder's name: `<date>-<exercise>-<run id>`."""
        return self.path.name

    @property
    def run_id(self) -> str:
        """The run's short id, the last part of its name."""
        return self.name.rsplit("-", 1)[-1]

    @property
    def labbook_root(self) -> Path:
        """The lab notebook holding this run."""
        return self.path.parent.parent

    @property
    def repo(self) -> Path:
        """The research repository the run's paths are relative to (see `portable`)."""
        return repo_of(self.labbook_root)

    def portable(self, path: str | Path | None) -> str | None:
        """A path as a run's files keep it: relative to the research repository, '/'-separated."""
        return None if path is None else portable(Path(path), self.repo)

    def resolve(self, kept: str | None) -> Path | None:
        """A path a run's files keep, on this machine (absolute ones, from older runs, as is)."""
        return None if kept is None else (self.repo / kept).resolve()

    @classmethod
    def create(cls, root: Path, name: str) -> RunFolder:
        """A new, empty run folder under the lab notebook at `root`."""
        run_id = uuid.uuid4().hex[:8]
        path = root / AUDITS / f"{datetime.now(UTC):%Y-%m-%d}-{name}-{run_id}"
        path.mkdir(parents=True)
        return cls(path)

    # -- manifest ------------------------------------------------------------------------

    def manifest(self) -> dict[str, Any]:
        """The run's manifest."""
        try:
            return dict(json.loads((self.path / MANIFEST).read_text()))
        except (OSError, json.JSONDecodeError) as e:
            raise AuditError(f"{self.path} is not an audit run: {e}", run=self.name) from None

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        """Replace the manifest atomically, redacted with the patterns it names."""
        from workbench.labbook.redact import Redactor

        clean = Redactor(manifest.get("redact") or ())(manifest)
        atomic_write(self.path / MANIFEST, json.dumps(clean, indent=2, ensure_ascii=False))

    def update(self, **changes: Any) -> dict[str, Any]:
        """Change some manifest fields; return the new manifest."""
        manifest = {**self.manifest(), **changes}
        self.write_manifest(manifest)
        return manifest

    # -- items and results ---------------------------------------------------------------

    def redactor(self) -> Redactor:
        """What every file of this run is redacted with: the patterns its manifest names."""
        from workbench.labbook.redact import Redactor

        return Redactor(self.manifest().get("redact") or ())

    def write_exercise(self, text: str) -> None:
        """Keep the exercise file's text (already redacted, see `secrets.exercise_text`)."""
        atomic_write(self.path / EXERCISE, text)

    def write_items(self, items: Iterable[Item], redact: Redactor) -> None:
        """Keep the chosen items (their fields as they were, redacted) for resume and rerun."""
        text = "".join(
            json.dumps(redact(i.to_dict()), ensure_ascii=False, default=str) + "\n" for i in items
        )
        atomic_write(self.path / ITEMS, text)

    def items(self) -> list[Item]:
        """The run's items, in order."""
        try:
            lines = (self.path / ITEMS).read_text(encoding="utf-8").splitlines()
            return [Item.from_dict(json.loads(line)) for line in lines if line.strip()]
        except (OSError, ValueError, KeyError) as e:
            raise AuditError(f"cannot read the items of {self.path}: {e}", run=self.name) from None

    def rows(self) -> list[dict[str, Any]]:
        """One result row per finished item, in item order (the latest row of each wins)."""
        latest: dict[str, dict[str, Any]] = {}
        path = self.path / RESULTS
        if not path.exists():
            return []
        with path.open(encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.endswith("\n"):  # a torn last line is an item not finished
                    continue
                try:
                    row = json.loads(line)
                    latest[row["item"]] = row
                except (ValueError, KeyError, TypeError):
                    raise AuditError(
                        f"{path}:{number} is not a result row: repair or remove that line",
                        run=self.name,
                    ) from None
        return sorted(latest.values(), key=lambda r: r["index"])

    def pending(self) -> list[Item]:
        """Items without a result, or whose result was an error: what a resume answers."""
        finished = {r["item"] for r in self.rows() if r["outcome"] != "error"}
        return [item for item in self.items() if item.id not in finished]

    def stop_requested(self) -> bool:
        """True once a stop was asked for."""
        return (self.path / STOP).exists()

    def request_stop(self) -> None:
        """Ask the running execution to start nothing new and finish."""
        (self.path / STOP).touch()

    def clear_stop(self) -> None:
        """Forget a stop request (before resuming)."""
        (self.path / STOP).unlink(missing_ok=True)


class ResultWriter:
    """Appends result rows (redacted) as items finish; flushed, fsync'd at most every 0.5 s."""

    def __init__(self, folder: RunFolder, redact: Redactor | None = None) -> None:
        path = folder.path / RESULTS
        self._redact = redact or folder.redactor()
        _drop_torn_tail(path)
        self._file = path.open("a", encoding="utf-8")
        self._synced = 0.0

    def write(self, row: dict[str, Any]) -> None:
        """Append one row."""
        import time

        line = json.dumps(self._redact(row), ensure_ascii=False, default=str)
        self._file.write(line + "\n")
        self._file.flush()
        now = time.monotonic()
        if now - self._synced > 0.5:
            os.fsync(self._file.fileno())
            self._synced = now

    def close(self) -> None:
        """Sync and close."""
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()


def repo_of(labbook_root: Path) -> Path:
    """The git work tree around a lab notebook's folder; that folder's parent when none is.

    Asked of the parent: a lab notebook outside any repository gets a git repository of
    its own, and the answer must not change when it does.
    """
    from workbench.labbook import git_toplevel

    parent = labbook_root.resolve().parent
    return (git_toplevel(parent) if parent.is_dir() else None) or parent


def portable(path: Path, root: Path) -> str:
    """`path` relative to `root` ('..' where it lies outside), so no machine path is committed."""
    return Path(os.path.relpath(path.resolve(), root.resolve())).as_posix()


def find_run(ref: str | Path, root: Path) -> RunFolder:
    """A run by folder path, full name, run id or unique part of its name."""
    path = Path(ref)
    if (path / MANIFEST).is_file():
        return RunFolder(path.resolve())
    audits = root / AUDITS
    runs = (
        sorted(p for p in audits.glob("*") if (p / MANIFEST).is_file()) if audits.exists() else []
    )
    text = str(ref)
    exact = [p for p in runs if p.name == text or p.name.endswith(f"-{text}")]
    found = exact or [p for p in runs if text in p.name]
    if len(found) == 1:
        return RunFolder(found[0])
    if not found:
        raise AuditError(
            f"no audit run {text!r} in {audits}: `workbench audit list` shows the runs", run=text
        )
    names = ", ".join(p.name for p in found[:5])
    raise AuditError(f"{text!r} matches {len(found)} runs ({names}): give more of the name")


def list_runs(root: Path) -> list[RunFolder]:
    """Every run in the lab notebook, oldest first (by when each was made, then by name)."""
    audits = root / AUDITS
    if not audits.exists():
        return []
    found = [RunFolder(p) for p in audits.iterdir() if (p / MANIFEST).is_file()]
    return sorted(found, key=lambda run: (_created(run), run.name))


def _created(run: RunFolder) -> datetime:
    """When the run was made (its folder's name holds only the day, and a random id)."""
    try:
        return datetime.fromisoformat(str(run.manifest()["created"]))
    except (AuditError, KeyError, ValueError):
        return datetime.min.replace(tzinfo=UTC)


def open_book(root: Path, config: Config, *, source: str, session: str | None = None) -> LabBook:
    """The lab notebook at `root` for one session (new by default), with git when configured."""
    from workbench.labbook import open_labbook
    from workbench.labbook.chain import new_session_id

    return open_labbook(config, session or new_session_id(), root=root, source=source)


@contextmanager
def one_off_book(root: Path, config: Config, source: str) -> Iterator[LabBook]:
    """A short session of its own in the lab notebook at `root`, closed (git too) on the way out."""
    book = open_book(root, config, source=source)
    try:
        yield book
    finally:
        close_book(book)


def close_book(book: LabBook) -> None:
    """Stop the book's writer (everything queued is written) and release its git repository."""
    book.close()
    if book.git is not None:
        book.git.close()


def _drop_torn_tail(path: Path) -> None:
    """Cut a last line left unfinished by a crash (an item not finished), so rows append whole."""
    try:
        with path.open("rb+") as f:
            data = f.read()
            if data and not data.endswith(b"\n"):
                f.truncate(data.rfind(b"\n") + 1)
    except FileNotFoundError:
        pass


def atomic_write(path: Path, text: str) -> None:
    """Replace `path` with `text` at once (a reader sees the old file or the new one)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
