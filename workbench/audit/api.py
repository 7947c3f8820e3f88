"""Audit runs from Python: start, resume, rerun (replayed), open, diff and combine.

Each start creates a run folder, then executes the audit notebook with papermill (see
`notebook`) and reads the results back from the folder's files. Starting a new run from an
exercise is `start`'s (`run_audit`, `demo`, re-exported here); this module works on runs
that exist: open, list, resume, rerun, combine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from workbench.audit import files, secrets
from workbench.audit.notebook import check_template, default_template, execute_run
from workbench.audit.result import AuditRun
from workbench.audit.start import check_budget, check_keys, demo, now, run_audit
from workbench.audit.store import EXERCISE, ResultWriter, RunFolder, find_run, list_runs
from workbench.config import Config
from workbench.errors import AuditError
from workbench.notices import notice

__all__ = [
    "AuditRun", "combine", "default_template", "demo", "open_run", "rerun", "resume",
    "run_audit", "runs",
]  # fmt: skip


def open_run(ref: str | Path, config: Config | None = None) -> AuditRun:
    """A run by folder, name, run id or unique part of its name."""
    from workbench.labbook import locate

    return AuditRun(find_run(ref, locate(config or Config.load())))


def runs(config: Config | None = None) -> list[AuditRun]:
    """Every run in the lab notebook, oldest first."""
    from workbench.labbook import locate

    return [AuditRun(f) for f in list_runs(locate(config or Config.load()))]


def resume(
    ref: str | Path,
    *,
    budget_usd: float | None = None,
    progress: bool = True,
    notebook: bool | None = None,
    wait: bool = False,
    poll_s: float | None = None,
    config: Config | None = None,
) -> AuditRun:
    """Continue a stopped run: items without a result; calls already answered are not sent.

    `notebook` overrides how the run was made (papermill, or this process). A batch run's
    batches are polled first: until all have ended the run stays "batch-submitted" (with
    `wait`, poll every `poll_s` seconds until they end); then their results are recorded
    and the run executes. Its items that ended in an error go in a new batch.
    """
    check_budget(budget_usd)
    config = config or Config.load()
    run = open_run(ref, config)
    manifest = run.manifest
    if manifest.get("replay_of") or manifest.get("report_only"):
        raise AuditError(f"{run.name} is a replay or a combination: resume the original run")
    changes: dict[str, Any] = {"redact": _patterns(manifest, config)}
    if budget_usd is not None:
        changes["budget_usd"] = float(budget_usd)
    if notebook is not None:
        changes["notebook"] = notebook
    if not run.folder.pending():  # every item answered: no kernel, no session for nothing
        notice(f"nothing left to do in {run.name}: every item has a result")
        run.folder.update(**changes, status="complete")
        return run
    check_keys(manifest["models"], config)
    run.folder.update(**changes)
    run.folder.clear_stop()
    if manifest.get("batch"):
        waiting = _batches(run, config, wait=wait, poll_s=poll_s, progress=progress)
        if waiting is not None:
            return waiting
    return _executed(run.folder, config, progress=progress)


def _batches(
    run: AuditRun, config: Config, *, wait: bool, poll_s: float | None, progress: bool
) -> AuditRun | None:
    """A batch run's batches: collected, or resubmitted; the run while they are not done."""
    from workbench.audit import batch as batches

    folder = run.folder
    poll = batches.POLL_S if poll_s is None else poll_s
    if not batches.has_fresh(folder):
        # what no batch holds yet: a submission cut short, or failed calls asked again
        calls = batches.submit(folder, config, progress=progress)
        if calls:
            folder.update(status="batch-submitted")
            notice(
                f"{folder.name}: {calls} calls submitted in batches; continue with "
                f"`workbench audit resume {folder.name}`"
            )
            if not wait:
                return AuditRun(folder)
    if not batches.collect(folder, config, wait=wait, poll_s=poll, progress=progress):
        folder.update(status="batch-submitted")
        notice(
            f"{folder.name}: the batches are still running; continue later with "
            f"`workbench audit resume {folder.name}` (--wait to wait for them)"
        )
        return AuditRun(folder)
    return None


def _executed(folder: RunFolder, config: Config, *, progress: bool) -> AuditRun:
    """Execute the run; a batch run's fresh answers are used up once it ran."""
    run = execute_run(folder, config, progress=progress)
    if folder.manifest().get("batch"):
        from workbench.audit import batch as batches

        batches.mark_used(folder)
    return run


def rerun(
    ref: str | Path,
    *,
    replay: bool = True,
    progress: bool = True,
    template: str | Path | None = None,
    config: Config | None = None,
) -> AuditRun:
    """Run a finished run's items again in a new run.

    By default (`replay=True`) every answer comes from the original run's records: no
    network, no cost, the same table. `replay=False` asks the models again (paid).
    `workbench audit rerun` has the same default (`--live` to ask again).
    """
    config = config or Config.load()
    original = open_run(ref, config)
    old = original.manifest
    if template is not None:
        check_template(Path(template))
    done = {row["item"] for row in original.rows}
    items = [item for item in original.folder.items() if item.id in done]
    if not items:
        raise AuditError(f"{original.name} has no finished item to rerun", run=original.name)
    redact = _patterns(old, config)
    folder = RunFolder.create(original.folder.labbook_root, str(old["name"]))
    folder.write_exercise((original.path / EXERCISE).read_text(encoding="utf-8"))
    folder.write_items(items, secrets.redactor(redact))
    files.copy_kept(original.path, folder.path, items)
    manifest = {
        **old,
        "run": folder.name,
        "created": now(),
        "total_items": len(items),
        "replay_of": original.name if replay else None,
        "replay_sessions": old.get("sessions", []) if replay else None,
        "rerun_of": original.name,
        "batch": False,  # a rerun executes at once (replayed, or live)
        "status": "ready",
        "sessions": [],
        "spent_usd": 0.0,
        "template": folder.portable(template) if template else old.get("template"),
        "redact": redact,
    }
    for key in ("counts", "finished", "report_only", "combined_from", "missing_shards"):
        manifest.pop(key, None)
    folder.write_manifest(manifest)
    return execute_run(folder, config, progress=progress)


def combine(
    refs: Sequence[str | Path], *, progress: bool = False, config: Config | None = None
) -> AuditRun:
    """One run from several (shards from several clones, after a git merge)."""
    config = config or Config.load()
    parts = [open_run(ref, config) for ref in refs]
    if len(parts) < 2:
        raise AuditError("combine needs two runs or more (e.g. the shards of one sweep)")
    first = parts[0].manifest
    for part in parts[1:]:
        m = part.manifest
        for key in ("digest", "models", "samples"):
            if m.get(key) != first.get(key):
                raise AuditError(
                    f"{part.name} and {parts[0].name} differ in {key}: only runs of the same "
                    "exercise, models and samples combine",
                    run=part.name,
                )
    redact = secrets.patterns(*(_patterns(p.manifest, config) for p in parts))
    folder = RunFolder.create(parts[0].folder.labbook_root, str(first["name"]))
    folder.write_exercise((parts[0].path / EXERCISE).read_text(encoding="utf-8"))
    items: dict[str, Any] = {}
    rows: dict[str, dict[str, Any]] = {}
    for part in parts:
        for item in part.folder.items():
            items.setdefault(item.id, item)
        for row in part.rows:
            if row["item"] not in rows or rows[row["item"]]["outcome"] == "error":
                rows[row["item"]] = row
    ordered = sorted(items.values(), key=lambda i: i.index)
    folder.write_items(ordered, secrets.redactor(redact))
    for part in parts:
        files.copy_kept(part.path, folder.path, ordered)
    writer = ResultWriter(folder, secrets.redactor(redact))
    try:
        for row in sorted(rows.values(), key=lambda r: r["index"]):
            writer.write(row)
    finally:
        writer.close()
    manifests = [p.manifest for p in parts]
    shards = sorted({str(m.get("shard")) for m in manifests if m.get("shard")})
    missing = _missing_shards(shards)
    complete = len(rows) == len(ordered) and not missing
    folder.write_manifest(
        {
            **first,
            "run": folder.name,
            "created": now(),
            "shard": None,
            "combined_from": [p.name for p in parts],
            "shards": shards,
            "missing_shards": missing,
            "total_items": len(ordered),
            "sessions": sorted({s for m in manifests for s in m.get("sessions", [])}),
            "spent_usd": sum(float(m.get("spent_usd", 0.0)) for m in manifests),
            "status": "complete" if complete else "partial",
            "report_only": True,
            "replay_of": None,
            "redact": redact,
        }
    )
    return execute_run(folder, config, progress=progress)


def _patterns(manifest: Mapping[str, Any], config: Config) -> list[str]:
    """The run's redaction patterns and this config's, checked (a bad one fails now)."""
    found = secrets.patterns(manifest.get("redact") or (), config.labbook.redact)
    secrets.redactor(found)
    return found


def _missing_shards(shards: Sequence[str]) -> list[str]:
    if not shards:
        return []
    n = int(shards[0].split("/")[1])
    return [f"{k}/{n}" for k in range(1, n + 1) if f"{k}/{n}" not in shards]
