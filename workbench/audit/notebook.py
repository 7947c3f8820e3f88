"""Executing a run folder: the audit notebook by papermill (or in this process), watched.

The kernel does the calls (see `runner`); this side shows a progress bar fed from
`results.jsonl`, turns Ctrl-C into a stop request (items in flight finish and are saved; a
second Ctrl-C abandons them), reads the results back from the folder's files, and records
an `audit` record with a commit of the run's files.

Papermill writes the executed notebook as it goes, outside the lab notebook (a commit
during the run must not take it unredacted); once it ends, the notebook is copied into the
run folder redacted, cell sources, outputs and parameters alike (see `secrets`).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench.audit import report, secrets
from workbench.audit.result import AuditRun
from workbench.audit.store import NOTEBOOK, RESULTS, RunFolder, one_off_book
from workbench.config import Config
from workbench.errors import AuditError, InvalidOption, WorkbenchError
from workbench.notices import notice

TEMPLATE = Path(__file__).resolve().parent.parent.parent / "templates" / "audit.ipynb"
REPORT_MODULES = (
    "pandas.io.formats.style",
    "scipy.stats",
    "statsmodels.stats.proportion",
    "statsmodels.stats.contingency_tables",
    "statsmodels.stats.multitest",
    "statsmodels.stats.inter_rater",
    "matplotlib.figure",
    "matplotlib.backends.backend_agg",
    "workbench.audit.result",
    "workbench.audit.significance",
    "ipywidgets",  # the review panel
    "markdown_it",  # the answers compared side by side
)
"""What the audit notebook's report cells import (about 1.5 s of CPU in a fresh kernel)."""


def warm_report(wait_s: float = 60.0) -> threading.Thread:
    """Import the report cells' libraries in a background thread while the calls run.

    The thread first waits until the execution's models are ready to call
    (`runner.PREPARED`, at most `wait_s`): before that, the cores are busy starting the
    models' worker processes and importing their SDKs, which the first calls wait for. The
    calls are made in those workers (`[run] processes`), so the kernel mostly waits on pipes
    and the network meanwhile; the report cells then find their libraries loaded. Join the
    thread before the report cells run (imports racing on one module are safe, but a failure
    is better seen there, once, than in the middle of a table).

    Once they are loaded, every object made so far is frozen (`gc.freeze`): those libraries
    make millions of objects that live as long as the kernel, and the cyclic collector would
    walk them all again in each full collection, the ones at the kernel's exit included
    (about 0.5 s of an audit's end). Frozen objects are still freed as usual; only cycles
    among them wait for the process to end.
    """
    import gc
    import importlib

    from workbench.audit.runner import PREPARED

    def load() -> None:
        PREPARED.wait(wait_s)
        for name in REPORT_MODULES:
            try:
                importlib.import_module(name)
            except ImportError:  # the report cell that needs it says so itself
                continue
        gc.freeze()

    thread = threading.Thread(target=load, name="workbench-warm-report", daemon=True)
    thread.start()
    return thread


def default_template() -> Path:
    """templates/audit.ipynb, or (in an installed package) the same notebook built from code."""
    if TEMPLATE.is_file():
        return TEMPLATE
    import tempfile

    import nbformat

    from workbench.audit.template import audit_template

    built = Path(tempfile.gettempdir()) / f"workbench-audit-{os.getuid()}.ipynb"
    write: Callable[..., None] = nbformat.write
    write(audit_template(), built)
    return built


def check_template(path: Path) -> dict[str, Any]:
    """The template as a valid nbformat 4 notebook (cell ids added), or an InvalidOption.

    Read here rather than by papermill, whose reader prints nbformat's warnings with a
    source line and logs a validation failure over many lines: a damaged or hand-made
    template is one line (an error, or a notice when it could be repaired).
    """
    import nbformat
    from nbformat.validator import normalize
    from nbformat.warnings import MissingIDFieldWarning

    where = f"the audit template {path}"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise InvalidOption(f"{where} cannot be read: {e.strerror}") from None
    except ValueError as e:
        raise InvalidOption(f"{where} is not a notebook (not JSON: {e})") from None
    if not isinstance(data, dict) or data.get("nbformat") != 4:
        raise InvalidOption(f"{where} is not an nbformat 4 notebook: open and save it in Jupyter")
    with warnings.catch_warnings():  # said below in one line, not with a source line
        warnings.simplefilter("ignore", MissingIDFieldWarning)
        changes, fixed = normalize(data)
    try:
        nbformat.validate(fixed)
    except nbformat.ValidationError as e:
        raise InvalidOption(f"{where} is a damaged notebook: {e.message}") from None
    if not (fixed.get("metadata") or {}).get("kernelspec"):
        raise InvalidOption(f"{where} names no kernel: open it in Jupyter, pick one, save it")
    cells = fixed.get("cells") or []
    if not any("parameters" in (c.get("metadata") or {}).get("tags", []) for c in cells):
        raise InvalidOption(
            f"{where} has no cell tagged 'parameters': papermill puts run_dir after that cell"
        )
    if changes:
        notice(
            f"{where} had {changes} cell(s) without an id: ran with ids added",
            once=str(path.resolve()),
        )
    return dict(fixed)


def execute_run(folder: RunFolder, config: Config, *, progress: bool) -> AuditRun:
    """Execute a prepared run folder (papermill, or in this process), watched; read it back."""
    manifest = folder.manifest()
    scratch = Path(tempfile.mkdtemp(prefix="workbench-audit-"))
    out = scratch / NOTEBOOK
    template = scratch / "template.ipynb"
    if manifest.get("notebook", True):  # papermill reads the checked copy
        checked = check_template(folder.resolve(manifest.get("template")) or default_template())
        template.write_text(json.dumps(checked), encoding="utf-8")
    # the manifest's params were redacted when the run was made: the kernel gets those
    parameters = {**manifest.get("params", {}), "run_dir": str(folder.path)}
    failure: list[BaseException] = []
    done = threading.Event()  # not Thread.join: Ctrl-C during a join can mark it finished
    handoff = None
    if manifest.get("notebook", True):  # the workers start with the kernel, not after it
        from workbench.worker_handoff import Handoff

        handoff = Handoff.start(folder.path, config)

    def execute() -> None:
        try:
            if not manifest.get("notebook", True):
                from workbench.audit.runner import execute as in_process

                in_process(folder.path, config=config)
                return
            import papermill

            papermill.execute_notebook(
                str(template),
                str(out),
                parameters=parameters,
                cwd=str(Path.cwd()),
                progress_bar=False,
                # the kernel's own log warns that loopback TCP is unencrypted: noise here
                extra_arguments=["--IPKernelApp.log_level=ERROR"],
            )
        except BaseException as e:
            failure.append(e)
        finally:  # nbclient made an event loop for this thread: close it
            from jupyter_core.utils import ensure_event_loop

            ensure_event_loop().close()
            done.set()

    thread = threading.Thread(target=execute, name="workbench-audit-notebook", daemon=True)
    bar = _Progress(folder, enabled=progress)
    thread.start()
    try:
        _wait(done, bar)
    except KeyboardInterrupt:
        folder.request_stop()
        print(
            "\nstopping: items in flight finish and are saved (Ctrl-C again to abandon them)",
            file=sys.stderr,
        )
        try:
            _wait(done, bar)
        except KeyboardInterrupt:
            folder.update(status="interrupted")
            raise
    finally:
        bar.close()
        if handoff is not None:  # abandoned (a second Ctrl-C): its workers are stopped now
            handoff.close(wait_s=5.0 if done.is_set() else 0.0)
        folder.clear_stop()
        _keep_notebook(out, folder, config, scratch)
        shutil.rmtree(scratch, ignore_errors=True)
    run = AuditRun(folder)
    _record(run, config)
    if failure:
        error = failure[0]
        if hasattr(error, "ename"):
            raise AuditError(
                f"the audit notebook failed in cell {getattr(error, 'cell_index', '?')}: "
                f"{error.ename}: {getattr(error, 'evalue', '')}; see {folder.path / NOTEBOOK}",
                run=folder.name,
            ) from None
        if manifest.get("notebook", True) and isinstance(error, Exception):
            if isinstance(error, WorkbenchError):
                raise error
            raise AuditError(  # papermill or the kernel failed (a kernel that died, say)
                f"the audit notebook could not run: {type(error).__name__}: {error}",
                run=folder.name,
            ) from None
        raise error
    return run


def _keep_notebook(out: Path, folder: RunFolder, config: Config, scratch: Path) -> None:
    """Copy the executed notebook into the run folder: redacted, with its provenance.

    The provenance goes in its metadata, and no machine path stays in it (see
    `provenance`); a half-written notebook is left where it is.
    """
    if not out.exists():
        return
    from workbench.audit.provenance import KEY, places, portable_notebook, provenance

    try:
        made = provenance(folder, config)
        where = places(folder, scratch, folder.manifest().get("template"))
    except (OSError, ValueError, WorkbenchError) as e:
        notice(f"the provenance of {folder.name} could not be read: {e}")
        made, where = {}, {}

    def change(data: dict[str, Any]) -> dict[str, Any]:
        data.setdefault("metadata", {})[KEY] = made
        return portable_notebook(data, where)

    try:
        secrets.notebook(out, folder.path / NOTEBOOK, folder.redactor(), change)
    except (OSError, ValueError) as e:  # a second Ctrl-C may stop papermill mid-write
        notice(f"the executed notebook of {folder.name} was not kept: {e}")


def _wait(done: threading.Event, bar: _Progress) -> None:
    while not done.wait(0.2):
        bar.refresh()
    bar.refresh()


def _record(run: AuditRun, config: Config) -> None:
    """An `audit` record in the lab notebook, and a commit with the run's files."""
    manifest = run.manifest
    data = {
        "run": run.name,
        "status": manifest.get("status"),
        "counts": report.counts(run.rows),
        "spent_usd": manifest.get("spent_usd"),
        "models": manifest.get("models"),
        "digest": manifest.get("digest"),
    }
    source = f"workbench audit {run.name}"
    with one_off_book(run.folder.labbook_root, config, source) as book:
        book.append("audit", tags=["audit", f"audit:{run.name}"], data=data)
        book.commit(f"audit {run.name}: {manifest.get('status')}")


class _Progress:
    """A tqdm bar fed from results.jsonl as the kernel appends to it: items, spend, budget."""

    def __init__(self, folder: RunFolder, *, enabled: bool) -> None:
        self.folder = folder
        self.bar: Any = None
        self.offset = 0
        self.spent = 0.0
        if not enabled:
            return
        from tqdm import tqdm

        manifest = folder.manifest()
        self.budget = manifest.get("budget_usd")
        done = len(folder.rows())
        self.offset = self._size()
        self.bar = tqdm(
            total=int(manifest.get("total_items", 0)), initial=done, desc=manifest["name"],
            unit="item", file=sys.stderr,
        )  # fmt: skip

    def _size(self) -> int:
        path = self.folder.path / RESULTS
        return path.stat().st_size if path.exists() else 0

    def refresh(self) -> None:
        if self.bar is None or self._size() <= self.offset:
            return
        with (self.folder.path / RESULTS).open("rb") as f:
            f.seek(self.offset)
            chunk = f.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        self.offset += len(complete)
        rows = [json.loads(line) for line in complete.splitlines()]
        self.spent += sum(report.live_cost(row) for row in rows)
        budget = f" of ${self.budget:.4f}" if self.budget is not None else ""
        self.bar.set_postfix_str(f"spent ${self.spent:.4f}{budget}", refresh=False)
        self.bar.update(len(rows))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
