"""A new audit run: the exercise checked and redacted, its folder written, then run or submitted."""

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
from workbench.audit.store import RunFolder
from workbench.budget import check_cap
from workbench.config import Config
from workbench.errors import AuditError, InvalidOption
from workbench.labbook.redact import REDACTED
from workbench.notices import notice

if TYPE_CHECKING:
    from workbench.labbook.redact import Redactor

MANIFEST_VERSION = 1


def demo(config: Config | None = None) -> AuditRun:
    """A small audit on the embedded local model (no key, no network), run in this process."""
    from importlib import resources

    path = Path(str(resources.files("workbench.audit").joinpath("demo.yaml")))
    return run_audit(path, notebook=False, progress=False, config=config)


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
            "created": now(),
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


def now() -> str:
    """When a run is made, to the microsecond: runs are listed in this order."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def check_budget(budget_usd: float | None) -> None:
    """Refuse a budget that is not a number of USD from 0 up (nan, inf, -1): one line."""
    check_cap(budget_usd, "the audit budget")


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
