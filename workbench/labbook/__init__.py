"""The lab notebook: a git-tracked, append-only, hash-chained record of every call and decision.

`book` writes a session's records (`LabBook`); `sessionfiles` finds the session files and reads
their records back; `sessioninfo` says who and where a session runs; `verdicts` gives a
decision's shapes.
"""

from __future__ import annotations

import os
import subprocess
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.labbook.book import COMMIT_EVERY_S, LabBook
from workbench.labbook.redact import Redactor
from workbench.labbook.store import make_folder

if TYPE_CHECKING:
    from workbench.config import Config

__all__ = ["LabBook", "locate", "open_labbook", "replaying_from"]


def locate(config: Config) -> Path:
    """The lab notebook's folder: $WORKBENCH_LABBOOK, [labbook] path, the repo's, or the user's."""
    return _located(config)[0]


def _located(config: Config) -> tuple[Path, bool]:
    """`locate`, and whether it fell back to the user's data folder (no repo, nothing set)."""
    if os.environ.get("WORKBENCH_LABBOOK"):
        return Path(os.environ["WORKBENCH_LABBOOK"]).expanduser().resolve(), False
    top = git_toplevel(Path.cwd())
    if config.labbook.path:
        path = Path(config.labbook.path).expanduser()
        return (path if path.is_absolute() else (top or Path.cwd()) / path).resolve(), False
    if top is not None:
        return top / "labbook", False
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "workbench" / "labbook", True


def git_toplevel(folder: Path) -> Path | None:
    """The root of the git work tree holding `folder`, or None."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=folder,
            capture_output=True,
            text=True,
            check=False,
        )
    except (FileNotFoundError, NotADirectoryError):
        return None
    return Path(done.stdout.strip()).resolve() if done.returncode == 0 else None


def open_labbook(
    config: Config,
    session: str,
    *,
    root: Path | None = None,
    source: str | None = None,
    commit_every_s: float = COMMIT_EVERY_S,
) -> LabBook:
    """The lab notebook (at `root`, default: `locate`) for a session, with git when configured.

    Everything that can be checked before a call is sent is checked here: the redact
    patterns (a ConfigError), and that the folder can be written (LabBookUnwritable).
    """
    announce = None
    if root is None:
        root, fallback = _located(config)
        if fallback:
            announce = (
                f"not in a git repository: the lab notebook is {root} (to keep it elsewhere, "
                "set [labbook] path in workbench.toml or $WORKBENCH_LABBOOK)"
            )
    redactor = Redactor(config.labbook.redact, where=_pattern_sources(config))
    make_folder(root)
    git = None
    if config.labbook.git:
        from workbench.labbook.git import GitSync

        git = GitSync.open(root, research_repo=git_toplevel(Path.cwd()), push=config.labbook.push)
    return LabBook(
        root,
        session,
        source=source,
        redactor=redactor,
        git=git,
        commit_every_s=commit_every_s,
        announce=announce,
    )


def _pattern_sources(config: Config) -> dict[str, str]:
    """Each configured redact pattern -> the configuration file that set it (the last one)."""
    found: dict[str, str] = {}
    for path in config.sources:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
            continue
        patterns = data.get("labbook", {}).get("redact", [])
        for pattern in patterns if isinstance(patterns, list) else [patterns]:
            if isinstance(pattern, str):
                found[pattern] = str(path)
    return found


def replaying_from(config: Config, root: Path) -> Config:
    """`config` with its replay providers answering from the lab notebook in `root`.

    A session's replays read its own lab notebook, wherever its config put it; a replay
    provider configured with `options.labbook` keeps that.
    """
    from dataclasses import replace

    providers = dict(config.providers)
    for name, settings in config.providers.items():
        if settings.type == "replay" and "labbook" not in settings.options:
            options = {**settings.options, "labbook": str(root)}
            providers[name] = replace(settings, options=options)
    return replace(config, providers=providers)
