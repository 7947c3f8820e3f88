"""Who and where a session runs: its source, its author without git, its file's first record."""

from __future__ import annotations

import getpass
import os
import platform
import socket
import sys
from pathlib import Path
from typing import Any


def detect_source() -> str:
    """The notebook path when run in Jupyter (or papermill), else the command line."""
    for var in ("WORKBENCH_SOURCE", "JPY_SESSION_NAME"):
        if os.environ.get(var):
            return os.environ[var]
    argv = [Path(sys.argv[0]).name, *sys.argv[1:]] if sys.argv and sys.argv[0] else ["python"]
    return " ".join(argv)[:500]


def session_facts() -> dict[str, Any]:
    """Where and with what a session ran: the first record of its file."""
    from workbench._version import __version__

    return {
        "workbench": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "cwd": os.getcwd(),
    }


def fallback_author() -> dict[str, str | None]:
    """A record's author when git is off: the user's login name, no email."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = None
    return {"name": name, "email": None}
