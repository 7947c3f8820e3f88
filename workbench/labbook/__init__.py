"""The lab notebook: a git-tracked, append-only, hash-chained record of every call and decision."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from workbench.labbook.book import LabBook
from workbench.labbook.redact import Redactor

if TYPE_CHECKING:
    from workbench.config import Config

__all__ = ["LabBook", "locate", "open_labbook", "replaying_from"]


def locate(config: Config) -> Path:
    """The lab notebook's folder: $WORKBENCH_LABBOOK, [labbook] path, the repo's, or the user's."""
    if os.environ.get("WORKBENCH_LABBOOK"):
        return Path(os.environ["WORKBENCH_LABBOOK"]).expanduser().resolve()
    top = git_toplevel(Path.cwd())
    if config.labbook.path:
        path = Path(config.labbook.path).expanduser()
        return (path if path.is_absolute() else (top or Path.cwd()) / path).resolve()
    if top is not None:
        return top / "labbook"
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "workbench" / "labbook"


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
    config: Config, session: str, *, root: Path | None = None, source: str | None = None
) -> LabBook:
    """The lab notebook (at `root`, default: `locate`) for a session, with git when configured."""
    root = root or locate(config)
    git = None
    if config.labbook.git:
        from workbench.labbook.git import GitSync

        git = GitSync.open(root, research_repo=git_toplevel(Path.cwd()), push=config.labbook.push)
    redactor = Redactor(config.labbook.redact)
    return LabBook(root, session, source=source, redactor=redactor, git=git)


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
