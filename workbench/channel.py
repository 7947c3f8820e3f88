"""The repository as the channel: commits of named paths only, shared through the upstream.

Workflows and the desk write plain files and commit them, so that the next participant
(another model's step, another clone, the human) reads them with `ls`, `cat` and `git log`.
Their commits follow the lab notebook's discipline (`workbench.labbook.git`): a commit names
its paths (`git commit --only`), so the user's staged work is never swept in and stays
staged; hooks are off; a missing identity gets a stand-in, said once. Where the lab notebook
skips a commit in an odd git state and keeps its records for later, these refuse before
anything is written (a workflow before anything is sent): `RepoNotReady`, one line, on a
detached HEAD, while a merge (rebase, cherry-pick, revert, bisect) is in progress, or
outside a repository.

`publish` is how a desk change is shared. Without an upstream branch it is a local commit.
With one, it is made on top of the upstream's tip (fetched just before, in a scratch index:
the work tree is not touched) and pushed; the push succeeds only if nobody pushed in
between, else it is fetched, checked and made again. So the upstream orders concurrent
changes, and a claim stands only once it is there (two clones cannot both hold one). The
current branch then takes the change (a fast-forward, or a merge as `git pull` makes).
"""

from __future__ import annotations

import os
import random
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import git

from workbench.errors import ConfigError, WorkbenchError
from workbench.labbook.git import BUSY, FALLBACK_EMAIL, FALLBACK_NAME
from workbench.notices import notice

ATTEMPTS = 60
"""Tries of a local commit while another git process (the lab notebook's) holds a lock."""
PUSHES = 8
"""Tries of a publish whose push lost a race (fetched, checked and made again each time)."""
NETWORK_TIMEOUT_S = 60
_COMMITTED = re.compile(r"^\[.*? ([0-9a-f]{4,64})\] ")
_NOTHING = re.compile(r"(^|')(nothing (added )?to commit|no changes added to commit)", re.M)


class RepoNotReady(ConfigError):
    """The repository cannot take the commit now: nothing was written or sent."""


class ClaimConflict(WorkbenchError):
    """Someone else holds the claim on a desk item; `holder` names them."""

    def __init__(self, message: str, *, holder: str | None = None) -> None:
        self.holder = holder
        super().__init__(message)


@dataclass(frozen=True)
class Upstream:
    """The branch the current one tracks: where desk changes are shared."""

    remote: str
    branch: str
    """Its name on the remote ("main")."""
    ref: str
    """The remote-tracking ref here ("refs/remotes/origin/main")."""

    def __str__(self) -> str:
        return f"{self.remote}/{self.branch}"


class Channel:
    """One repository's work tree, committed to and shared as the module docstring says."""

    def __init__(self, repo: git.Repo) -> None:
        self.repo = repo
        self.top = Path(repo.working_tree_dir or ".").resolve()
        self._options: list[str] | None = None

    @classmethod
    def at(cls, folder: Path | None = None, *, what: str = "this") -> Channel:
        """The repository whose work tree holds `folder` (default: the working directory)."""
        where = (folder or Path.cwd()).resolve()
        try:
            repo = git.Repo(where, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise RepoNotReady(
                f"{what} lives in a git repository, and {where} is not in one: `git init` it "
                "(or work in a clone)"
            ) from None
        if repo.bare or repo.working_tree_dir is None:
            repo.close()
            raise RepoNotReady(f"{where} is in a bare repository: work in a clone of it")
        return cls(repo)

    def close(self) -> None:
        """Stop the git helper processes gitpython keeps."""
        self.repo.close()

    def __enter__(self) -> Channel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- state ----------------------------------------------------------------------------

    def ready(self, what: str) -> None:
        """Raise RepoNotReady, saying what to do, unless a commit here would land on a branch."""
        busy = [name for name in BUSY if (Path(self.repo.git_dir) / name).exists()]
        if busy:
            raise RepoNotReady(
                f"{what}: a git operation is in progress in {self.top} ({', '.join(busy)}); "
                "finish it (or abort it, e.g. `git merge --abort`) and try again"
            )
        if self.repo.head.is_detached:
            raise RepoNotReady(
                f"{what}: HEAD is detached in {self.top}, and a commit there would belong to no "
                "branch; `git switch main` (or `git switch -c NAME`) and try again"
            )

    def relative(self, path: Path) -> str:
        """`path` relative to the work tree's root (a RepoNotReady when it is outside)."""
        try:
            return path.resolve().relative_to(self.top).as_posix()
        except ValueError:
            raise RepoNotReady(f"{path} is outside the repository {self.top}") from None

    def head_blob(self, rel: str) -> str | None:
        """The blob hash of `rel` in HEAD (None: not committed, or no commit yet)."""
        if not self.repo.head.is_valid():
            return None
        try:
            return str((self.repo.head.commit.tree / rel).hexsha)
        except KeyError:
            return None

    def files_at(self, rev: str, folder: str) -> dict[str, bytes]:
        """Every file under `folder` in commit `rev`: path (from the root) -> bytes."""
        try:
            tree = self.repo.commit(rev).tree / folder
        except (KeyError, ValueError, git.BadName):
            return {}
        return {
            str(item.path): bytes(item.data_stream.read())
            for item in tree.traverse()
            if isinstance(item, git.Blob)
        }

    def upstream(self) -> Upstream | None:
        """The branch the current one tracks, if any."""
        if self.repo.head.is_detached:
            return None
        tracking = self.repo.active_branch.tracking_branch()
        if tracking is None or not tracking.remote_name or tracking.remote_name == ".":
            return None
        return Upstream(tracking.remote_name, tracking.remote_head, tracking.path)

    def fetch(self, upstream: Upstream) -> str | None:
        """Fetch the upstream branch; its tip (None: the remote has no such branch yet).

        Raises RepoNotReady when the remote cannot be reached.
        """
        try:
            with self.repo.git.custom_environment(GIT_TERMINAL_PROMPT="0"):
                self.repo.git.fetch(
                    "--quiet",
                    upstream.remote,
                    f"+refs/heads/{upstream.branch}:{upstream.ref}",
                    kill_after_timeout=NETWORK_TIMEOUT_S,
                )
        except git.GitCommandError as e:
            if "couldn't find remote ref" in str(e.stderr):
                return None
            raise RepoNotReady(f"cannot reach {upstream.remote} ({_why(e)})") from None
        return self._tip(upstream.ref)

    def _tip(self, ref: str) -> str | None:
        found = self.repo.git.rev_parse(
            "-q", "--verify", f"{ref}^{{commit}}", with_exceptions=False
        )
        return str(found) or None

    # -- committing -----------------------------------------------------------------------

    def commit(self, message: str, paths: Iterable[str], *, what: str) -> str | None:
        """Commit the work tree's state of `paths` (relative to the root) alone; None: no change.

        Added, changed and removed files alike; nothing else, staged or not, is taken.
        """
        self.ready(what)
        spec = [f":(literal){p}" for p in sorted(set(paths))]
        if not spec:
            return None
        for attempt in range(ATTEMPTS):
            try:
                return self._commit_once(message, spec)
            except git.GitCommandError as e:
                if attempt == ATTEMPTS - 1 or not _contended(e):
                    raise RepoNotReady(f"{what}: git could not commit ({_why(e)})") from None
            time.sleep(random.uniform(0.05, 0.25) * min(1.0, (attempt + 1) / 5))
        return None  # pragma: no cover (the loop returns or raises)

    def _commit_once(self, message: str, spec: list[str]) -> str | None:
        self.repo.git.add("--all", "--ignore-errors", "--", *spec, with_exceptions=False)
        try:
            out = self.repo.git(c=self.options()).commit(
                "--only", "--no-verify", "-m", message, "--", *spec
            )
        except git.GitCommandError as e:
            if e.status == 1 and _NOTHING.search(str(e.stdout)):
                return None
            raise
        match = _COMMITTED.match(str(out))
        if match is None:
            raise RepoNotReady(f"cannot read the commit made from git's output: {out!r}")
        return str(self.repo.git.rev_parse("--verify", f"{match[1]}^{{commit}}"))

    def options(self) -> list[str]:
        """`-c` options of every commit and push: no hooks; an identity where git has none."""
        if self._options is None:
            self._options = ["core.hooksPath=/dev/null"]
            missing = []
            for key, fallback in (("name", FALLBACK_NAME), ("email", FALLBACK_EMAIL)):
                found = self.repo.git.config("--get", f"user.{key}", with_exceptions=False)
                if not str(found).strip():
                    self._options.append(f"user.{key}={fallback}")
                    missing.append(f"user.{key}")
            if missing:
                notice(
                    f"git has no {' and '.join(missing)} here: workflow and desk commits are "
                    f"signed {FALLBACK_NAME} <{FALLBACK_EMAIL}>; set yours with "
                    "`git config --global user.email you@example.org` (and user.name)",
                    once=f"channel identity {self.top}",
                )
        return self._options

    def author(self) -> str:
        """Who commits here: user.name (or the stand-in)."""
        name = str(self.repo.git.config("--get", "user.name", with_exceptions=False)).strip()
        return name or FALLBACK_NAME

    # -- sharing --------------------------------------------------------------------------

    def publish(
        self,
        message: str,
        changes: Mapping[str, bytes | None],
        *,
        what: str,
        check: Callable[[str | None], None] | None = None,
        required: bool = False,
    ) -> str | None:
        """Commit `changes` (path -> bytes, None to remove) and share them through the upstream.

        `check(base)` runs before each attempt with the upstream's tip that the change will
        sit on (None: no upstream, or an empty one) and raises to refuse it (a claim already
        taken). `required`: the change means nothing unless the upstream has it (a claim), so
        an unreachable remote is an error; otherwise the change is committed here alone, with
        a notice. Returns the commit (None: nothing changed).
        """
        self.ready(what)
        upstream = self.upstream()
        if upstream is not None:
            try:
                return self._publish(upstream, message, changes, what, check)
            except RepoNotReady as e:
                if required:
                    raise RepoNotReady(f"{what}: {e}; nothing was changed") from None
                notice(
                    f"{what} committed here only: {e}; `git push` shares it later",
                    once=f"offline {self.top} {e}",
                )
        if check is not None:
            check(None)
        self._write(changes)
        return self.commit(message, changes, what=what)

    def _publish(
        self,
        upstream: Upstream,
        message: str,
        changes: Mapping[str, bytes | None],
        what: str,
        check: Callable[[str | None], None] | None,
    ) -> str:
        for _ in range(PUSHES):
            base = self.fetch(upstream)
            if check is not None:
                check(base)
            made = self._commit_on(base, changes, message)
            if self._push(upstream, made):
                self._take(made, upstream, what)
                return made
            if self.fetch(upstream) == base:  # not a lost race: the remote refused
                raise RepoNotReady(f"{upstream.remote} refused the push")
            time.sleep(random.uniform(0.05, 0.3))
        raise RepoNotReady(f"{upstream} kept moving: {PUSHES} tries lost the race")

    def _commit_on(
        self, base: str | None, changes: Mapping[str, bytes | None], message: str
    ) -> str:
        """A commit of `changes` on `base`, in a scratch index: the work tree is untouched."""
        with tempfile.TemporaryDirectory(prefix="workbench-index-") as scratch:
            g = self.repo.git
            with g.custom_environment(GIT_INDEX_FILE=os.path.join(scratch, "index")):
                if base is not None:
                    g.read_tree(base)
                else:
                    g.read_tree("--empty")
                for path, data in sorted(changes.items()):
                    if data is None:
                        g.update_index("--force-remove", "--", path)
                        continue
                    staged = Path(scratch) / "blob"
                    staged.write_bytes(data)
                    blob = g.hash_object("-w", "--", str(staged))
                    g.update_index("--add", "--cacheinfo", f"100644,{blob},{path}")
                tree = g.write_tree()
                parents = ["-p", base] if base is not None else []
                return str(g(c=self.options()).commit_tree(tree, *parents, "-m", message))

    def _push(self, upstream: Upstream, commit: str) -> bool:
        try:
            with self.repo.git.custom_environment(GIT_TERMINAL_PROMPT="0"):
                self.repo.git(c=self.options()).push(
                    "--quiet",
                    upstream.remote,
                    f"{commit}:refs/heads/{upstream.branch}",
                    kill_after_timeout=NETWORK_TIMEOUT_S,
                )
        except git.GitCommandError:
            return False
        self.repo.git.update_ref(upstream.ref, commit, with_exceptions=False)
        return True

    def _take(self, commit: str, upstream: Upstream, what: str) -> None:
        """Bring the shared commit into the current branch: fast-forward, else merge."""
        g = self.repo.git(c=self.options())
        try:  # an unborn branch (no commit yet) starts at the commit
            head = self.repo.head.commit.hexsha if self.repo.head.is_valid() else None
            if head is None or self.repo.is_ancestor(
                self.repo.commit(head), self.repo.commit(commit)
            ):
                g.merge("--ff-only", "--quiet", commit)
            else:
                g.merge("--no-edit", "--quiet", "-m", f"Merge {upstream} ({what})", commit)
        except git.GitCommandError as e:
            if (Path(self.repo.git_dir) / "MERGE_HEAD").exists():
                self.repo.git.merge("--abort", with_exceptions=False)
            notice(
                f"{what} is shared in {upstream}, but this branch could not take it "
                f"({_why(e)}); `git pull` brings it here"
            )

    def _write(self, changes: Mapping[str, bytes | None]) -> None:
        for rel, data in changes.items():
            path = self.top / rel
            if data is None:
                path.unlink(missing_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)


def _why(error: git.GitCommandError) -> str:
    text = str(error.stderr).strip().removeprefix("stderr: ").strip("'").strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else f"git exited with {error.status}"


def _contended(error: git.GitCommandError) -> bool:
    """Whether git failed only because another process held a lock (worth retrying)."""
    text = str(error.stderr)
    return "cannot lock ref" in text or (".lock" in text and "File exists" in text)
