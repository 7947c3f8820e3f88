"""One-line notices to the researcher: what happened and what to do, on stderr.

Not `warnings.warn`: a warning prints the source line that raised it, which tells a
researcher nothing. A notice is one line starting with "workbench: ". Notices given with
`once=` are said once per process (a missing git identity, say, not once per commit).
"""

from __future__ import annotations

import sys
import threading

_said: set[str] = set()
_lock = threading.Lock()


def notice(message: str, *, once: str | None = None) -> bool:
    """Print `workbench: message` on stderr; with `once`, only the first time; True if printed."""
    if once is not None:
        with _lock:
            if once in _said:
                return False
            _said.add(once)
    line = " ".join(message.split())
    print(f"workbench: {line}", file=sys.stderr, flush=True)
    return True


def forget() -> None:
    """Let every `once` notice be said again (tests, a new session)."""
    with _lock:
        _said.clear()
