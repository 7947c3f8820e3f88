"""Audit runs from Python: start, resume, rerun (replayed), open, diff and combine.

Each start creates a run folder, then executes the audit notebook with papermill (see
`notebook`) and reads the results back from the folder's files.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from workbench.audit import files, secrets
from workbench.audit.exercise import Exercise, load
from workbench.audit.items import Item, select
from workbench.audit.notebook import check_template, default_template, execute_run
from workbench.audit.result import AuditRun
from workbench.audit.store import EXERCISE, ResultWriter, RunFolder, find_run, list_runs
from workbench.budget import check_cap
from workbench.config import Config
from workbench.errors import AuditError, InvalidOption
from workbench.labbook.redact import REDACTED
from workbench.notices import notice

if TYPE_CHECKING:
    from workbench.labbook.redact import Redactor

__all__ = [
    "AuditRun", "combine", "default_template", "demo", "open_run", "rerun", "resume",
    "run_audit", "runs",
]  # fmt: skip

MANIFEST_VERSION = 1


def demo(config: Config | None = None) -> AuditRun:
    """A small audit on the embedded local model (no key, no network), run in this process."""
    from importlib import resources

    path = Path(str(resources.files("workbench.audit").joinpath("demo.yaml")))
    return run_audit(path, notebook=False, progress=False, config=config)


def open_run(ref: str | Path, config: Config | None = None) -> AuditRun:
    """A run by folder, name, run id or unique part of its name."""
    from workbench.labbook import locate

    return AuditRun(find_run(ref, locate(config or Config.load())))


def runs(config: Config | None = None) -> list[AuditRun]:
    """Every run in the lab notebook, oldest first."""
    from workbench.labbook import locate

    return [AuditRun(f) for f in list_runs(locate(config or Config.load()))]


def run_audit(
    exercise: str | Path,
    models: Sequence[str] | None = None,
    *,
    params: Mapping[str, Any] | None = None,
    sample: int | None = None,
    shard: str | None = None,
    budget_usd: float | None = None,
    template: str | Path | None = None,
    progress: bool = True,
    notebook: bool = True,
    batch: bool = False,
    config: Config | None = None,
) -> AuditRun:
    """Run an exercise on every model with papermill; save it under the lab notebook.

    With `notebook=False` the run executes in this process instead (no executed notebook).
    With `batch=True` the calls of OpenAI, Anthropic and Gemini models are submitted to
    their batch APIs (batch rates, answered within 24 h) and this returns at once, the run
    "batch-submitted": `resume` (from any process) records the results and finishes it
    (see `workbench.audit.batch`).
    Key-like strings in the exercise, its schema or `params` are replaced by [REDACTED]
    before anything is sent or saved (see `workbench.audit.secrets`), and a notice says
    where; a text file that an item sends and that holds one is refused (files are sent as
    they are). The run keeps a copy of every file its items send.
    """
    from workbench.labbook import locate

    config = config or Config.load()
    redact = secrets.redactor(config.labbook.redact)  # a bad pattern fails before anything
    ex = load(exercise, config)
    names = list(models or ex.models) or _default_models(config)
    if len(set(names)) != len(names):
        raise InvalidOption(f"a model is named twice in {names}: use samples: N for repeats")
    if sample is not None and sample < 1:
        raise InvalidOption(f"sample must be at least 1 item, not {sample}")
    check_budget(budget_usd)
    check_keys(names, config)
    if notebook:
        check_template(Path(template) if template else default_template())
    sample = sample if sample is not None else ex.sample
    items = select(ex.items, sample=sample, seed=ex.seed, shard=shard)
    if not items:
        raise AuditError(f"shard {shard} of {ex.name} holds no items: use fewer shards")
    clean = _redacted(ex, items, dict(params or {}), redact)
    base = ex.path.resolve().parent
    files.check_secrets(items, base, redact)
    folder = RunFolder.create(locate(config), ex.name)
    folder.write_exercise(clean.text)
    folder.write_items(clean.items, redact)
    try:
        files.keep(folder.path, items, base)
    except InvalidOption:
        shutil.rmtree(folder.path)  # nothing of this run was sent or recorded yet
        raise
    budget = budget_usd if budget_usd is not None else ex.budget_usd
    folder.write_manifest(
        {
            "v": MANIFEST_VERSION,
            "name": ex.name,
            "run": folder.name,
            "created": _now(),
            "exercise": folder.portable(exercise),
            "base": folder.portable(base),
            "digest": ex.digest,
            "models": names,
            "samples": ex.samples,
            "scorer": ex.scorer.name,
            "sample": sample,
            "seed": ex.seed,
            "shard": shard,
            "budget_usd": None if budget is None else float(budget),
            "template": folder.portable(template) if template else None,
            "params": clean.params,
            "schema": clean.schema,
            "notebook": notebook,
            "total_items": len(items),
            "all_items": len(ex.items),
            "replay_of": None,
            "status": "ready",
            "sessions": [],
            "spent_usd": 0.0,
            "redact": list(config.labbook.redact),
            "batch": batch,
        }
    )
    if batch:
        return _submit(folder, config, progress=progress)
    return execute_run(folder, config, progress=progress)


def _submit(folder: RunFolder, config: Config, *, progress: bool) -> AuditRun:
    """Submit a new run's batches; nothing of it is kept when nothing could be submitted."""
    from workbench.audit import batch as batches

    try:
        calls = batches.submit(folder, config, progress=progress)
    except BaseException:
        if batches.load_state(folder) is None:  # nothing sent, nothing recorded
            shutil.rmtree(folder.path)
            raise
        folder.update(status="batch-submitted")
        notice(
            f"{folder.name}: some batches were submitted before this error; once it is fixed, "
            f"`workbench audit resume {folder.name}` submits the rest and continues"
        )
        raise
    if not calls:  # every batchable call refused before sending: nothing to wait for
        return execute_run(folder, config, progress=progress)
    folder.update(status="batch-submitted")
    notice(
        f"{folder.name}: {calls} calls submitted in batches; when they are done (up to 24 h), "
        f"continue with `workbench audit resume {folder.name}`"
    )
    return AuditRun(folder)


class _Clean(NamedTuple):
    text: str
    items: list[Item]
    params: dict[str, Any]
    schema: dict[str, Any] | None


def _redacted(ex: Exercise, items: list[Item], params: dict[str, Any], redact: Redactor) -> _Clean:
    """The exercise's text, items and notebook parameters as the run will send and keep them."""
    if redact.text(ex.name) != ex.name:
        raise InvalidOption(f"the exercise name {redact.text(ex.name)!r} holds a key: rename it")
    schema = dict(ex.schema.json_schema) if ex.schema is not None else None
    clean = _Clean(
        secrets.exercise_text(ex.text, redact, str(ex.path)),
        secrets.items(items, redact),
        secrets.params(params, redact),
        redact(schema),
    )
    ids = [item.id for item in clean.items]
    if len(set(ids)) != len(ids):
        raise InvalidOption(
            f"two item ids of {ex.path} differ only in a key they hold: give them plain ids"
        )
    where = [f"item {i}" for i in secrets.changed(items, clean.items)]
    where += ["the exercise text"] if clean.text != ex.text else []
    where += ["the schema"] if clean.schema != schema else []
    where += [f"-p {k}" for k in params if clean.params.get(k) != params[k]]
    if where:
        shown = ", ".join(where[:5]) + (f" and {len(where) - 5} more" if len(where) > 5 else "")
        notice(
            f"{ex.path} holds key-like strings or key values ({shown}): the run sends and "
            f"keeps them as {REDACTED}, as the lab notebook records them"
        )
    return clean


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
        "created": _now(),
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
            "created": _now(),
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


def _now() -> str:
    """When a run is made, to the microsecond: runs are listed in this order."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def check_budget(budget_usd: float | None) -> None:
    """Refuse a budget that is not a number of USD from 0 up (nan, inf, -1): one line."""
    check_cap(budget_usd, "the audit budget")


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


def check_keys(names: Sequence[str], config: Config) -> None:
    """Fail before anything is sent on an unknown model, or an API key not in the environment."""
    from workbench.errors import MissingKey
    from workbench.providers import registry

    specs = [registry.resolve(name, config) for name in names]  # every name first
    for spec in specs:
        settings = registry.provider_settings(spec, config)
        if settings.api_key_env and not settings.api_key():
            raise MissingKey(settings.name, settings.api_key_env)


def _default_models(config: Config) -> list[str]:
    from workbench.sessions import Session

    session = Session(config, labbook=False)
    try:
        return session.default_models()
    finally:
        session.close()
