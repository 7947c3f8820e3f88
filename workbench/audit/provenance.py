"""What made a run, kept in its executed notebook's metadata (`metadata.workbench`).

models      per label: the model it resolved to, the versions the provider reported, the
            parameters sent, how many calls (judges included)
exercise    its name, file (relative to the research repository) and hash; scorer, samples
prices      per model: USD per million input and output tokens (a batch run's: the batch rate),
            and where the figure came from
sessions    the lab notebook sessions that made (or replayed) the calls
repo        the research repository's commit(s) the calls were made at (their `repo_head`)
workbench   the workbench version, Python's and papermill's

No path in it, or in the rest of the notebook, is a machine's: `portable_notebook` makes the
run folder, the template and papermill's scratch paths relative to the research repository.
"""

from __future__ import annotations

import platform
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.audit.store import RunFolder
    from workbench.config import Config

KEY = "workbench"
"""The notebook metadata key that holds the provenance."""


def provenance(folder: RunFolder, config: Config | None = None) -> dict[str, Any]:
    """The provenance of the run in `folder`, from its manifest and its call records."""
    from workbench._version import __version__
    from workbench.audit.records import session_records
    from workbench.config import Config

    manifest = folder.manifest()
    sessions = list(manifest.get("sessions") or [])
    replayed = list(manifest.get("replay_sessions") or [])
    records = [
        r
        for r in session_records(folder.labbook_root, [*sessions, *replayed])
        if r.get("kind") == "call"
    ]
    models = _models(records, manifest)
    # HEAD as each call was recorded, in time order: the first is the code the run began
    # from; lab notebook commits into the same repository add the later ones
    heads = list(dict.fromkeys(str(r["repo_head"]) for r in records if r.get("repo_head")))
    return {
        "run": manifest.get("run"),
        "status": manifest.get("status"),
        "exercise": {
            "name": manifest.get("name"),
            "file": manifest.get("exercise"),
            "digest": manifest.get("digest"),
            "scorer": manifest.get("scorer"),
            "samples": manifest.get("samples"),
            "items": manifest.get("total_items"),
        },
        "models": models,
        "params": manifest.get("params") or {},
        "prices": _prices(models, config or Config.load(), batch=bool(manifest.get("batch"))),
        "sessions": sessions,
        "replayed_sessions": replayed,
        "replay_of": manifest.get("replay_of"),
        "repo_commit": heads[0] if heads else None,
        "repo_commits": heads,
        "workbench_version": __version__,
        "python": platform.python_version(),
        "papermill": _version("papermill"),
    }


def _models(records: list[dict[str, Any]], manifest: dict[str, Any]) -> dict[str, Any]:
    """Label -> resolved name, reported versions, params sent, calls (run's models first)."""
    found: dict[str, dict[str, Any]] = {
        str(m): {"resolved": None, "versions": [], "params": [], "calls": 0}
        for m in manifest.get("models") or []
    }
    for record in records:
        entry = found.setdefault(
            str(record.get("model")), {"resolved": None, "versions": [], "params": [], "calls": 0}
        )
        entry["resolved"] = entry["resolved"] or record.get("resolved")
        entry["calls"] += 1
        version = (record.get("reply") or {}).get("model_version")
        if version and version not in entry["versions"]:
            entry["versions"].append(version)
        params = (record.get("prompt") or {}).get("params") or {}
        if params not in entry["params"]:
            entry["params"].append(params)
    return found


def _prices(models: dict[str, Any], config: Config, *, batch: bool = False) -> dict[str, Any]:
    """Resolved name -> the price per million tokens the workbench uses for it (None: unknown).

    In a batch run, models whose provider has a batch mode are priced at the batch rate.
    """
    from workbench.batch import has_batch_mode
    from workbench.prices import batch_quote, quote

    out: dict[str, Any] = {}
    for entry in models.values():
        name = entry["resolved"]
        if not name or name in out:
            continue
        provider, _, model_id = str(name).partition(":")
        settings = config.providers.get(provider)
        batched = batch and settings is not None and has_batch_mode(settings.type)
        found = (batch_quote if batched else quote)(provider, model_id, config)
        out[name] = None if found is None else {
            "input_per_mtok": found.input_per_mtok,
            "output_per_mtok": found.output_per_mtok,
            "cache_read_per_mtok": found.cache_read_per_mtok,
            "cache_write_per_mtok": found.cache_write_per_mtok,
            "source": found.source,
        }  # fmt: skip
    return out


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def portable_notebook(data: dict[str, Any], places: dict[str, str]) -> dict[str, Any]:
    """The notebook with each absolute path of `places` replaced by its relative form.

    `places` maps a machine path to what stands for it (longest paths are replaced first,
    so a run folder inside the repository becomes its relative path, not a half).
    """
    order = sorted(places, key=len, reverse=True)

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            for path in order:
                value = value.replace(path, places[path])
            return value
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        return value

    return dict(clean(data))


def places(folder: RunFolder, scratch: Path, template: str | None) -> dict[str, str]:
    """The machine paths an executed notebook holds, and their relative forms."""
    notebook = folder.portable(folder.path / "audit.ipynb") or "audit.ipynb"
    found = {
        str(scratch / "audit.ipynb"): notebook,
        str(scratch / "template.ipynb"): template or "templates/audit.ipynb",
        str(scratch): ".",
        str(folder.path): folder.portable(folder.path) or ".",
        str(folder.repo): ".",
    }
    home = str(Path.home())
    if home not in ("/", ""):
        found[home] = "~"
    return found
