"""Git for the lab notebook: commits limited to its own paths, the research repo's HEAD, dating.

The lab notebook is a folder inside the user's repository (then its commits contain that
folder only, and whatever the user has staged stays staged and out of them) or a repository
of its own. Lab notebook commits skip the user's hooks, retry while another git process
holds a lock, never commit a session file whose committed lines were changed or removed,
and are pushed when a remote is configured (a failed push is a notice, never an error).

Records are never committed where no branch would hold them: on a detached HEAD (and while
a merge, rebase, cherry-pick, revert or bisect is in progress) the commit is skipped, the
records stay on disk, uncommitted, and the next commit on a branch takes them. Each of these,
and a commit made under the fallback identity (no user.name/user.email), is said once, in
one line.
"""

from __future__ import annotations

import random
import re
import time
from pathlib import Path

import git

from workbench.errors import LabBookError
from workbench.labbook.filestore import FOLDER as FILES
from workbench.labbook.store import make_folder
from workbench.notices import notice

FALLBACK_NAME, FALLBACK_EMAIL = "workbench", "workbench@localhost"
BUSY = ("MERGE_HEAD", "CHERRY_PICK_HEAD", "REVERT_HEAD", "BISECT_LOG", "rebase-merge",
        "rebase-apply")  # fmt: skip
ATTEMPTS = 60
"""Tries of a commit while other processes hold the index or ref locks (about 10 s in all)."""
PUSH_TIMEOUT_S = 120
README = """\
# Lab notebook

Kept by research-workbench: every prompt sent to a language model, every answer and every
decision, one JSON Lines file per session under `YYYY/MM/DD/`. The files are append-only and
hash-chained (each record carries the hash of the one before it); git commits date them.
Files sent with prompts (images, PDFs, text) are kept once each under `files/`, named by the
SHA-256 of their bytes, which the records quote. Do not edit any of them by hand. To check
that nothing was changed or removed, run:

    workbench log verify
"""

_SHA = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")
_COMMITTED = re.compile(r"^\[.*? ([0-9a-f]{4,64})\] ")
_NOTHING = re.compile(r"(^|')(nothing (added )?to commit|no changes added to commit)", re.M)


class GitSync:
    """The git side of one lab notebook folder (see the module docstring)."""

    def __init__(self, repo: git.Repo, root: Path, research: git.Repo | None, push: str | None):
        self.repo, self.root, self.push = repo, root, push
        self.top = Path(repo.working_tree_dir or root).resolve()
        self.pathspec = root.relative_to(self.top).as_posix()
        self._author: dict[str, str | None] | None = None
        self._research = research
        self._head_dirs = (Path(research.git_dir), Path(research.common_dir)) if research else None
        self._packed: tuple[tuple[int, int, int], dict[str, str]] | None = None
        self._config: list[str] | None = None
        self._fallback: list[str] = []
        """The identity keys git config lacks, which commits fill in with a stand-in."""

    @classmethod
    def open(cls, root: Path, *, research_repo: Path | None, push: str | None = None) -> GitSync:
        """The lab notebook in `root`: inside the git work tree holding it, else its own repo.

        Raises LabBookUnwritable when the folder cannot be made or written.
        """
        make_folder(root)
        root = root.resolve()
        repo = _work_tree(root)
        if repo is not None and Path(repo.working_tree_dir or root).resolve() != root:
            try:  # does the enclosing repository ignore this folder? then keep it apart
                repo.git.check_ignore("-q", "--", str(root))
                repo.close()
                repo = None
            except git.GitCommandError:
                pass
        fresh = repo is None
        if repo is None:
            repo = git.Repo.init(root)
        research = None if research_repo is None else _work_tree(research_repo.resolve())
        if research is not None and research.git_dir == repo.git_dir:
            research.close()
            research = repo
        sync = cls(repo, root, research, push)
        if fresh and not (root / "README.md").exists():
            (root / "README.md").write_text(README, encoding="utf-8")
            sync._commit("Start the lab notebook", ["README.md"])
        return sync

    def close(self) -> None:
        """Stop the git helper processes gitpython keeps."""
        if self._research is not None and self._research is not self.repo:
            self._research.close()
        self.repo.close()

    # -- identity and HEAD --------------------------------------------------------------

    def author(self) -> dict[str, str | None]:
        """user.name and user.email: the research repo's config, else the lab notebook repo's."""
        if self._author is None:
            found: dict[str, str | None] = {"name": None, "email": None}
            for repo in (self._research, self.repo):
                for key, value in _identity(repo).items():
                    found[key] = found[key] or value
            self._author = found
        return dict(self._author)

    def repo_head(self) -> str | None:
        """The research repo's HEAD commit (None without one), read from .git directly."""
        if self._head_dirs is None:
            return None
        text: str | None = _read(self._head_dirs[0] / "HEAD")
        for _ in range(5):  # HEAD -> refs/heads/x (-> another symbolic ref, rarely)
            if text is None or not text.startswith("ref:"):
                return text if text and _SHA.fullmatch(text) else None
            ref = text[4:].strip()
            if ref == "refs/heads/.invalid":  # the reftable backend: ask git
                assert self._research is not None
                return (
                    str(
                        self._research.git.rev_parse(
                            "-q", "--verify", "HEAD", with_exceptions=False
                        )
                    )
                    or None
                )
            text = _read(self._head_dirs[0] / ref) or _read(self._head_dirs[1] / ref)
            text = text or self._packed_refs().get(ref)
        return None

    def _packed_refs(self) -> dict[str, str]:
        assert self._head_dirs is not None
        path = self._head_dirs[1] / "packed-refs"
        try:
            st = path.stat()
        except OSError:
            return {}
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        if self._packed is None or self._packed[0] != key:
            pairs = (line.split(" ", 1) for line in path.read_text().splitlines())
            refs = {p[1]: p[0] for p in pairs if len(p) == 2 and _SHA.fullmatch(p[0])}
            self._packed = (key, refs)
        return self._packed[1]

    # -- committing ---------------------------------------------------------------------

    def commit(self, message: str) -> str | None:
        """Commit the lab notebook's changes alone and push them; None when there are none.

        None too, with a notice, on a detached HEAD or while a merge (rebase, ...) is in
        progress: the records stay on disk for the next commit.
        """
        if self._blocked():
            return None
        sha = self._commit(message)
        if sha is not None and self._fallback:
            keys = " and ".join(f"user.{key}" for key in self._fallback)
            notice(
                f"git has no {keys} here: lab notebook commits are signed {FALLBACK_NAME} "
                f"<{FALLBACK_EMAIL}>; set yours with `git config --global user.email "
                "you@example.org` (and user.name)",
                once=f"identity {self.top}",
            )
        if sha is not None and self.push:
            try:
                with self.repo.git.custom_environment(GIT_TERMINAL_PROMPT="0"):
                    self.repo.git.push(
                        "--quiet", self.push, "HEAD", kill_after_timeout=PUSH_TIMEOUT_S
                    )
            except git.GitCommandError as e:
                why = str(e.stderr).strip().removeprefix("stderr: ").strip("'").strip()
                notice(
                    f"lab notebook commit {sha[:12]} not pushed to {self.push!r} "
                    f"({' '.join(why.split())}); it is committed here, and the next push "
                    "takes it",
                    once=f"push {self.top} {self.push} {why}",
                )
        return sha

    def _blocked(self) -> bool:
        """Whether a commit now would be lost or in the way (said once, in one line)."""
        busy = [name for name in BUSY if (Path(self.repo.git_dir) / name).exists()]
        if busy:
            notice(
                f"lab notebook not committed: a git operation is in progress in {self.top} "
                f"({', '.join(busy)}); the records stay on disk, and the first commit after "
                "it is finished takes them",
                once=f"busy {self.top} {' '.join(busy)}",
            )
            return True
        if self.repo.head.is_detached:
            notice(
                f"lab notebook not committed: HEAD is detached in {self.top}, and a commit "
                "there would belong to no branch; the records stay on disk, uncommitted, "
                "until you are on a branch again (`git switch main`, or `git switch -c NAME` "
                "to keep this state): the next commit takes them",
                once=f"detached {self.top}",
            )
            return True
        return False

    def _commit(self, message: str, names: list[str] | None = None) -> str | None:
        if names is None:  # the dated folders, audit runs, stored files: nothing foreign
            names = [p.name for p in self.root.glob("[0-9][0-9][0-9][0-9]") if p.is_dir()]
            names += [n for n in ("audits", FILES) if (self.root / n).is_dir()]
        paths = [(self.root / name).relative_to(self.top).as_posix() for name in sorted(names)]
        rewritten = self._rewritten(paths)
        spec = [*(f":(literal){p}" for p in paths), *(f":(exclude,literal){p}" for p in rewritten)]
        for attempt in range(ATTEMPTS):
            try:
                return self._commit_once(message, spec) if paths else None
            except git.GitCommandError as e:
                if attempt == ATTEMPTS - 1 or not _contended(e):
                    raise
            time.sleep(random.uniform(0.05, 0.25) * min(1.0, (attempt + 1) / 5))
        return None  # pragma: no cover (the loop returns or raises)

    def _commit_once(self, message: str, spec: list[str]) -> str | None:
        self.repo.git.add("--", *spec)
        try:
            out = self.repo.git(c=self._options()).commit(
                "--only", "--no-verify", "-m", message, "--", *spec
            )
        except git.GitCommandError as e:
            if e.status == 1 and _NOTHING.search(str(e.stdout)):
                return None  # nothing new (or another process committed it first)
            raise
        match = _COMMITTED.match(str(out))
        if match is None:
            raise LabBookError(f"cannot read the commit made from git's output: {out!r}")
        return str(self.repo.git.rev_parse("--verify", f"{match[1]}^{{commit}}"))

    def _options(self) -> list[str]:
        """`-c` options: no hooks; an identity only where git config has none."""
        if self._config is None:
            self._config = ["core.hooksPath=/dev/null"]
            config = _identity(self.repo)
            for key, fallback in (("name", FALLBACK_NAME), ("email", FALLBACK_EMAIL)):
                if not config[key]:
                    found = self.author()[key]
                    self._config.append(f"user.{key}={found or fallback}")
                    self._fallback += [] if found else [key]
        return self._config

    def _rewritten(self, paths: list[str]) -> list[str]:
        """Files git must not take: changed where committed (it would bury the evidence).

        Session files whose committed lines are not all still at their start; stored files
        (named by their bytes' hash) changed or removed since committed.
        """
        if not paths or not self.repo.head.is_valid():
            return []
        spec = [f":(literal){p}" for p in paths]
        names = self.repo.git.diff("HEAD", "--name-only", "-z", "--no-renames", "--", *spec)
        stored = f"{self.pathspec}/{FILES}/".removeprefix("./").lstrip("/")
        bad = []
        for name in filter(None, str(names).split("\0")):
            if name.startswith(stored):
                bad += [name] if self._blob(name) is not None else []
                continue
            old = self._blob(name) if name.endswith(".jsonl") else None
            old = old and old[: old.rfind(b"\n") + 1]  # a torn last line may be completed later
            if old and _read_bytes(self.top / name, len(old)) != old:
                bad.append(name)
        if bad:
            notice(
                "lab notebook files not committed because what was committed of them was "
                f"changed or removed (run `workbench log verify`): {', '.join(bad)}",
                once=f"rewritten {self.top} {' '.join(bad)}",
            )
        return bad

    # -- dating -------------------------------------------------------------------------

    def first_commits(self, path: Path) -> list[tuple[str, str]]:
        """(commit, committer date ISO 8601) that first held each committed line of a file."""
        rel = self._rel(path)
        latest = self._blob(rel) if self.repo.head.is_valid() else None
        result: list[tuple[str, str]] = []
        if latest is None:
            return result
        for commit in self.repo.iter_commits("HEAD", paths=rel, reverse=True):
            try:  # append-only: each version is a prefix of the latest, so its size will do
                lines = latest.count(b"\n", 0, (commit.tree / rel).size)
            except KeyError:
                continue
            stamp = (commit.hexsha, commit.committed_datetime.isoformat())
            result += [stamp] * (lines - len(result))
        return result

    def committed_line_count(self, path: Path) -> int:
        """The number of lines of a file in HEAD (0 when it is not committed)."""
        data = self._blob(self._rel(path)) if self.repo.head.is_valid() else None
        return 0 if data is None else data.count(b"\n")

    def _rel(self, path: Path) -> str:
        return path.resolve().relative_to(self.top).as_posix()

    def _blob(self, rel: str) -> bytes | None:
        """The file's content in HEAD, or None."""
        try:
            return bytes((self.repo.head.commit.tree / rel).data_stream.read())
        except KeyError:
            return None


def _work_tree(folder: Path) -> git.Repo | None:
    """The non-bare repository whose work tree holds `folder`, or None."""
    try:
        repo = git.Repo(folder, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    if repo.bare or repo.working_tree_dir is None:
        repo.close()
        return None
    return repo


def _identity(repo: git.Repo | None) -> dict[str, str | None]:
    """user.name and user.email as git config resolves them for `repo` (global included)."""
    found: dict[str, str | None] = {"name": None, "email": None}
    regexp = r"^user\.(name|email)$"
    out = repo.git.config("--get-regexp", regexp, with_exceptions=False) if repo else ""
    for line in str(out).splitlines():
        key, _, value = line.partition(" ")
        found[key.removeprefix("user.")] = value or None
    return found


def _contended(error: git.GitCommandError) -> bool:
    """Whether git failed only because another process held a lock (worth retrying)."""
    text = str(error.stderr)
    return "cannot lock ref" in text or (".lock" in text and "File exists" in text)


def _read(path: Path) -> str | None:
    data = _read_bytes(path)
    return None if data is None else data.decode(errors="replace").strip()


def _read_bytes(path: Path, size: int = -1) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            return handle.read(size)
    except OSError:
        return None
