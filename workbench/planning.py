"""A comparison planned: every input checked and every job built before anything is sent."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from workbench.errors import InvalidOption, InvalidPrompt, RunTooLarge
from workbench.providers import registry
from workbench.providers.base import Prompt
from workbench.providers.content import files_of
from workbench.run import Job

if TYPE_CHECKING:
    from workbench.comparison import Comparison
    from workbench.config import Config
    from workbench.labbook import LabBook

DEFAULT_MAX_CALLS = 5000
"""The bound on prompts x models x samples when config sets none (`[run] max_calls`)."""

Planned = tuple[list[Prompt], list[str], list[Job]]
"""The prompts built, the model names (column labels) and every job, in order."""


def plan(
    config: Config,
    labbook: LabBook | None,
    defaults: Callable[[], list[str]],
    prompts: str | Prompt | Sequence[str | Prompt],
    models: str | Sequence[str] | None,
    *,
    system: str | None = None,
    samples: int = 1,
    replay: bool = False,
    max_calls: int | None = None,
    **params: Any,
) -> Planned:
    """Resolve names and build every job (`defaults()` names the models when none are given)."""
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise InvalidOption(f"samples must be a whole number of at least 1, not {samples!r}")
    items = prompt_list(prompts)
    names = defaults() if models is None else model_names(models)
    limit = call_limit(config, max_calls)
    calls = len(items) * len(names) * samples
    if calls > limit:  # before building anything: a million jobs would fill the memory
        raise RunTooLarge(calls, limit)
    given = sorted(k for k, v in {"system": system, **params}.items() if v is not None)
    if given and any(isinstance(p, Prompt) for p in items):
        raise InvalidOption(
            f"{', '.join(given)} given with Prompt objects, which carry their own: build "
            "them with Prompt.of(text, system=..., temperature=...) instead"
        )
    if params.get("files") is not None:  # read once, whatever the number of prompts
        params["files"] = files_of(params["files"])
    built = [p if isinstance(p, Prompt) else Prompt.of(p, system=system, **params) for p in items]
    specs = [registry.resolve(name, config) for name in names]
    if replay:
        specs = [registry.replaying(spec) for spec in specs]
    jobs = [
        Job.plan(spec, prompt, i, s)
        for i, prompt in enumerate(built)
        for spec in specs
        for s in range(samples)
    ]
    admit(labbook, jobs)
    return built, names, jobs


def follow_up(labbook: LabBook | None, earlier: Comparison, text: str, **plan: Any) -> Planned:
    """The follow-up's jobs: each answered job one turn longer, naming its record."""
    extra = sorted(set(plan) - {"files"})
    if extra:
        raise InvalidOption(
            f"{extra[0]} cannot change in a follow-up: the conversation keeps its own; "
            "start a new comparison to change it"
        )
    if not isinstance(text, str) or not text.strip():
        raise InvalidPrompt(f"the follow-up needs some text, not {text!r}")
    files = files_of(plan.get("files"))
    answered = zip(earlier.jobs, earlier.replies, earlier.record_ids, strict=True)
    # Each job as it was (alias, params, the sample's own seed), one turn longer.
    jobs = [
        Job(j.spec, j.prompt.followed_by(r.text, text, files), j.prompt_index, j.sample, rid)
        for j, r, rid in answered
        if r.ok
    ]
    if not jobs:
        raise InvalidOption("no answer to follow up: every call of that comparison failed")
    names = [m for m in earlier.models if any(j.spec.label == m for j in jobs)]
    firsts = {job.prompt_index: job.prompt for job in reversed(jobs)}
    built = [firsts[i] for i in sorted(firsts)]
    place = {index: n for n, index in enumerate(sorted(firsts))}
    jobs = [Job(j.spec, j.prompt, place[j.prompt_index], j.sample, j.parent) for j in jobs]
    admit(labbook, jobs)
    return built, names, jobs


def admit(labbook: LabBook | None, jobs: Sequence[Job]) -> None:
    """Refuse, before anything is sent, a text file the lab notebook could not keep."""
    if labbook is not None:  # a text file holding a key: it cannot be redacted
        labbook.admit(job.prompt for job in jobs)


def model_names(models: str | Sequence[str]) -> list[str]:
    """The models named, checked: a name or a list of distinct names."""
    if isinstance(models, str):
        return [models]
    if not isinstance(models, Sequence) or not all(isinstance(m, str) for m in models):
        raise InvalidOption(
            f"models must be a model name or a list of names, not {models!r}: "
            "e.g. models=['local', 'gpt']"
        )
    names = [m.strip() for m in models]  # labels are the names as resolved: stripped
    if not names:
        raise InvalidOption(
            "models=[] names no model: pass models=['local', 'gpt', ...], "
            "or leave models out for the defaults"
        )
    if len(set(names)) != len(names):
        raise InvalidOption(f"a model is named twice in {names}: use samples=N for repeats")
    return names


def call_limit(config: Config, max_calls: int | None) -> int:
    """The most calls one comparison may make: `max_calls`, else `[run] max_calls`."""
    if max_calls is None:
        return int(getattr(config.run, "max_calls", DEFAULT_MAX_CALLS))
    if isinstance(max_calls, bool) or not isinstance(max_calls, int) or max_calls < 1:
        raise InvalidOption(f"max_calls must be a whole number of at least 1, not {max_calls!r}")
    return max_calls


def prompt_list(prompts: object) -> list[str | Prompt]:
    """The prompts as a list, or a one-line InvalidPrompt saying what a prompt can be."""
    if isinstance(prompts, str | Prompt):
        return [prompts]
    if prompts is None:
        raise InvalidPrompt("no prompt given: pass a string, a Prompt, or a list of them")
    if not isinstance(prompts, Sequence):
        raise InvalidPrompt(
            f"the prompt must be text (a str), a Prompt, or a list of them, "
            f"not {type(prompts).__name__}"
        )
    items = list(prompts)
    if not items:
        raise InvalidPrompt("no prompts given: pass a string or a list of strings")
    for item in items:
        if not isinstance(item, str | Prompt):
            raise InvalidPrompt(
                f"each prompt must be text (a str) or a Prompt, not {type(item).__name__}"
            )
    return items
