"""A headless Jupyter server for browser tests: isolated state, a token, a free port.

The server runs as a subprocess of this Python (`sys.executable -m jupyter lab`), with its
own HOME, Jupyter and IPython folders under a tmp folder, and a kernelspec that starts
kernels on this same interpreter with this checkout first on `PYTHONPATH`, so a notebook's
`import workbench` finds the code under test. One server serves both UIs: JupyterLab 4 at
`/lab/tree/<path>` and Notebook 7 (the `notebook` server extension) at `/notebooks/<path>`.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from tests.conftest import PROVIDER_KEYS, VENDOR_ENV, WORKBENCH_ENV

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
PORT_ATTEMPTS = 3

SETTINGS = {
    # No "news" or update pop-up covering the page, and no network look-ups.
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    # Every cell in the DOM, so cells below the fold can be found and read.
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}

CLEARED_ENV = (
    *("JUPYTER_TOKEN", "JUPYTER_PATH", "JUPYTER_CONFIG_PATH", "VIRTUAL_ENV_PROMPT"),
    # the server may outlive one test's isolation: never let it see keys or workbench env
    *PROVIDER_KEYS,
    *VENDOR_ENV,
    *WORKBENCH_ENV,
)
# Where each UI opens a notebook (a path relative to the server's root follows).
UI_PATHS = {"lab": "/lab/tree/", "notebook": "/notebooks/"}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_env(state: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the server and its kernels: everything user-level under `state`."""
    env = {k: v for k, v in os.environ.items() if k not in CLEARED_ENV}
    home = state / "home"
    dirs = {
        "HOME": home,
        "XDG_CONFIG_HOME": home / ".config",
        "XDG_DATA_HOME": home / ".local" / "share",
        "XDG_CACHE_HOME": home / ".cache",
        "JUPYTER_CONFIG_DIR": state / "jupyter" / "config",
        "JUPYTER_DATA_DIR": state / "jupyter" / "data",
        "JUPYTER_RUNTIME_DIR": state / "jupyter" / "runtime",
        "IPYTHONDIR": state / "ipython",
    }
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    env.update({k: str(v) for k, v in dirs.items()})
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    env["JUPYTER_PREFER_ENV_PATH"] = "0"  # our kernelspec before the one in sys.prefix
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    env.update(extra or {})
    return env


def write_kernelspec(data_dir: Path) -> None:
    """A `python3` kernelspec (it shadows the installed one) that runs on sys.executable."""
    spec = data_dir / "kernels" / "python3"
    spec.mkdir(parents=True, exist_ok=True)
    kernel = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    (spec / "kernel.json").write_text(json.dumps(kernel), encoding="utf-8")


def write_settings(settings_dir: Path) -> None:
    """JupyterLab user settings for a quiet, fully rendered page."""
    for name, value in SETTINGS.items():
        path = settings_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value), encoding="utf-8")


@dataclass
class Lab:
    """A running Jupyter server (JupyterLab and Notebook 7): its address, token, root and log."""

    root: Path
    state: Path
    port: int = field(default_factory=free_port)
    token: str = field(default_factory=lambda: secrets.token_hex(16))
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    started_in_s: float = 0.0

    @property
    def url(self) -> str:
        """The server's base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        """Where the server (and its kernels) write stdout and stderr."""
        return self.state / "jupyter.log"

    def relative(self, notebook: Path) -> str:
        """`notebook`'s path inside the server's root, as the server names it."""
        return notebook.resolve().relative_to(self.root.resolve()).as_posix()

    def notebook_url(self, notebook: Path, ui: str = "lab") -> str:
        """The URL opening `notebook` (inside the root) in `ui` ("lab" or "notebook")."""
        return f"{self.url}{UI_PATHS[ui]}{quote(self.relative(notebook))}?token={self.token}"

    def log_tail(self, chars: int = 6000) -> str:
        """The end of the server log."""
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
        except FileNotFoundError:
            return "(no server log)"

    def start(self) -> Lab:
        """Start the server and wait until its API answers."""
        settings, workspaces = self.state / "lab-settings", self.state / "lab-workspaces"
        write_settings(settings)
        workspaces.mkdir(parents=True, exist_ok=True)
        env = server_env(self.state, self.env)
        write_kernelspec(Path(env["JUPYTER_DATA_DIR"]))

        def command() -> list[str]:
            return [
                sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
                "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
                "--ServerApp.port_retries=0", f"--IdentityProvider.token={self.token}",
                f"--ServerApp.root_dir={self.root}", f"--LabApp.workspaces_dir={workspaces}",
                f"--LabApp.user_settings_dir={settings}",
                f"--JupyterNotebookApp.workspaces_dir={workspaces}",
                f"--JupyterNotebookApp.user_settings_dir={settings}",
            ]  # fmt: skip

        began = time.monotonic()
        for _attempt in range(PORT_ATTEMPTS):
            if self._launch(command(), env, began):
                self.started_in_s = time.monotonic() - began
                return self
            self.port = free_port()  # another process took the port first: try another
        raise RuntimeError(f"jupyter lab found no free port in {PORT_ATTEMPTS} tries")

    def _launch(self, command: list[str], env: dict[str, str], began: float) -> bool:
        """Start the server once; True when it answers, False when its port was taken."""
        with self.log_path.open("wb") as log:
            proc = self.proc = subprocess.Popen(
                command,
                cwd=self.root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its kernels share its process group
            )
        while not self._answers():
            if proc.poll() is not None:
                self.proc = None
                if "is not available" in self.log_tail() or "already in use" in self.log_tail():
                    return False
                raise RuntimeError(
                    f"jupyter lab exited with {proc.returncode} before answering; "
                    f"its log:\n{self.log_tail()}"
                )
            if time.monotonic() - began > START_TIMEOUT_S:
                self.stop()
                raise RuntimeError(
                    f"jupyter lab did not answer on {self.url} within {START_TIMEOUT_S:.0f} s; "
                    f"its log:\n{self.log_tail()}"
                )
            time.sleep(0.1)
        return True

    def api(self, path: str, method: str = "GET") -> object:
        """Call the server's REST API; return the decoded JSON (None when empty)."""
        request = urllib.request.Request(
            f"{self.url}/api/{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            body = response.read()
        return json.loads(body) if body else None

    def sessions(self, notebook: Path) -> list[dict[str, Any]]:
        """The server's sessions (each with its kernel) for `notebook`."""
        sessions = self.api("sessions")
        assert isinstance(sessions, list)
        return [s for s in sessions if s.get("path") == self.relative(notebook)]

    def shut_down_kernels(self, notebook: Path) -> None:
        """End `notebook`'s sessions and their kernels (the server keeps running)."""
        for session in self.sessions(notebook):
            self.api(f"sessions/{session['id']}", method="DELETE")

    def _answers(self) -> bool:
        try:
            self.api("status")
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return False
        return True

    def stop(self) -> None:
        """Shut down the server (and so its kernels); kill what is left of its group."""
        proc = self.proc
        if proc is None:
            return
        self.proc = None
        if proc.poll() is None:
            try:
                self.api("shutdown", method="POST")
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                proc.terminate()
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(STOP_TIMEOUT_S)
        # kernels left behind by a server that did not shut down cleanly
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
