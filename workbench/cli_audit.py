"""`workbench audit ...`: run an exercise on every model, resume, replay, diff, combine, review."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from workbench.cli import friendly, main

if TYPE_CHECKING:
    from workbench.audit.result import AuditRun

EXIT_STOPPED = 3
"""Exit status of a run stopped by its budget or by Ctrl-C (resume it to finish)."""


@main.group()
def audit() -> None:
    """Audit runs: an exercise every model completes independently, run by papermill."""


def _parse_value(text: str) -> Any:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _report(run: AuditRun) -> None:
    click.echo(run.summary())
    pairs = run.paired()
    for sentence in pairs["sentence"]:
        click.echo(f"  {sentence}")
    click.echo(f"run folder: {run.path}")
    status = run.status
    if status == "batch-submitted":  # said in one line with the command to continue
        return
    if status in ("stopped-budget", "interrupted"):
        why = "the budget was reached" if status == "stopped-budget" else "it was interrupted"
        click.echo(
            f"stopped because {why}: finished items are saved; continue with "
            f"`workbench audit resume {run.name}` (add --budget USD to raise the cap)",
            err=True,
        )
        sys.exit(EXIT_STOPPED)
    needing = run.needing_human()
    if len(needing):
        click.echo(f"{len(needing)} item(s) need a human: `workbench audit review {run.name}`")


@audit.command("run")
@click.argument("exercise", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-m", "--model", "models", multiple=True, help="Model or alias; repeat for more.")
@click.option(
    "-p", "--param", "params", nargs=2, multiple=True, metavar="KEY VALUE",
    help="A parameter for the notebook template (repeatable).",
)  # fmt: skip
# Plain numbers: the API checks them (nan, inf and -1 included) and says what is wrong in
# one line, like every other error; click's range types print a usage block.
@click.option("--sample", type=int, help="Run on this many items picked at random.")
@click.option("--shard", help="Run one slice K/N of the items (several machines share a sweep).")
@click.option("--budget", type=float, help="Cap in USD for this run (0 or more).")
@click.option(
    "--template", type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Your own papermill template (it must call workbench.audit.execute(run_dir)).",
)  # fmt: skip
@click.option(
    "--batch", is_flag=True,
    help="Send OpenAI, Anthropic and Gemini calls through their batch APIs (batch rates); "
    "exits once submitted: `workbench audit resume RUN` records the results.",
)  # fmt: skip
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@friendly
def run_command(
    exercise: Path,
    models: tuple[str, ...],
    params: tuple[tuple[str, str], ...],
    sample: int | None,
    shard: str | None,
    budget: float | None,
    template: Path | None,
    batch: bool,
    no_progress: bool,
) -> None:
    """Run EXERCISE (a YAML file) on every model, save it under the lab notebook, summarise."""
    from workbench.audit import run_audit

    run = run_audit(
        exercise,
        list(models) or None,
        params={k: _parse_value(v) for k, v in params},
        sample=sample,
        shard=shard,
        budget_usd=budget,
        template=template,
        progress=not no_progress,
        batch=batch,
    )
    _report(run)


@audit.command()
@click.argument("run")
@click.option(
    "--budget", type=float, help="A new cap in USD for the whole run (what it spent so far counts)."
)
@click.option(
    "--wait", is_flag=True, help="A batch run: poll its batches until they end (else check once)."
)
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@friendly
def resume(run: str, budget: float | None, wait: bool, no_progress: bool) -> None:
    """Continue RUN where it stopped; calls already answered are not paid again.

    A batch run (`audit run --batch`): poll its batches, record their results, finish it.
    """
    from workbench.audit import resume as resume_run

    _report(resume_run(run, budget_usd=budget, wait=wait, progress=not no_progress))


@audit.command()
@click.argument("run")
@click.option(
    "--replay/--live",
    default=True,
    help="--replay (the default): answer from the lab notebook, no network, no cost; "
    "--live: ask the models again (paid).",
)
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@friendly
def rerun(run: str, replay: bool, no_progress: bool) -> None:
    """Run RUN's finished items again as a new run: replayed from its records, or --live."""
    from workbench.audit import rerun as rerun_run

    _report(rerun_run(run, replay=replay, progress=not no_progress))


@audit.command()
@click.argument("run_a")
@click.argument("run_b")
@click.option("--all", "show_all", is_flag=True, help="Show unchanged items too.")
@friendly
def diff(run_a: str, run_b: str, show_all: bool) -> None:
    """What changed between two runs, per item, and per model whether it is beyond noise."""
    import pandas as pd

    from workbench.audit import changes
    from workbench.audit import diff as diff_runs

    table = diff_runs(run_a, run_b)
    changed = table[table["changed"]]
    click.echo(f"{len(changed)} of {len(table)} items changed")
    shown = table if show_all else changed
    if len(shown):
        with pd.option_context("display.width", 200, "display.max_columns", 50):
            click.echo(shown.drop(columns=["changed"]).to_string())
    models = changes(run_a, run_b)
    click.echo("\nper model (B against A, paired by item):")
    for sentence in models["sentence"]:
        click.echo(f"  {sentence}")


@audit.command()
@click.argument("run", required=False)
@click.option(
    "--difference", type=float,
    help="The accuracy difference to detect, as a share (0.05 is 5 points); default: the pilot's.",
)  # fmt: skip
@click.option(
    "--discordance", type=float,
    help="Without a pilot RUN: the share of items on which the two models differ.",
)  # fmt: skip
@click.option("--power", type=float, default=0.8, show_default=True, help="The power wanted.")
@click.option("--alpha", type=float, default=0.05, show_default=True, help="The test's level.")
@friendly
def plan(
    run: str | None,
    difference: float | None,
    discordance: float | None,
    power: float,
    alpha: float,
) -> None:
    """How many items a sweep needs to detect a difference between two models (exact McNemar).

    From a pilot RUN (its discordance, per pair of its models), or from --discordance and
    --difference. Put the answer in the exercise's `sample:` field.
    """
    from workbench.audit import plan as plan_sweep

    table = plan_sweep(
        run, difference=difference, discordance=discordance, power=power, alpha=alpha
    )
    for sentence in table["sentence"]:
        click.echo(sentence)


@audit.command()
@click.argument("run")
@click.option("--low", type=float, default=0.6, show_default=True, help="Flag a kappa below this.")
@friendly
def judges(run: str, low: float) -> None:
    """Each judge (and the panel) against the humans' reviews of RUN: Cohen's kappa."""
    from workbench.audit import open_run

    found = open_run(run)
    table = found.judges(low=low)
    for sentence in table["sentence"]:
        click.echo(sentence)
    flagged = [str(name) for name in table.index[table["flagged"]]]
    if flagged:
        click.echo(f"low agreement with the humans: {', '.join(flagged)}", err=True)


@audit.command()
@click.argument("runs", nargs=-1, required=True)
@friendly
def combine(runs: tuple[str, ...]) -> None:
    """Combine RUNS (shards recorded in several clones, after a git merge) into one run."""
    from workbench.audit import combine as combine_runs

    run = combine_runs(list(runs))
    missing = run.manifest.get("missing_shards") or []
    if missing:
        click.echo(f"shards not found: {', '.join(missing)}", err=True)
    _report(run)


@audit.command("list")
@friendly
def list_command() -> None:
    """The audit runs in the lab notebook, oldest first."""
    from workbench.audit import runs

    found = runs()
    if not found:
        click.echo("no audit runs yet: `workbench audit run EXERCISE.yaml -m ...`")
    for run in found:
        click.echo(f"{run.name}  {run.summary()}")


@audit.command()
@click.argument("run")
@friendly
def review(run: str) -> None:
    """Walk RUN's items that need a human; each verdict is a decision record."""
    from workbench.audit import open_run
    from workbench.render import clip

    found = open_run(run)
    source = f"workbench audit review {found.name}"
    rows = {row["item"]: row for row in found.rows}
    todo = list(found.needing_human().index)
    if not todo:
        click.echo(f"nothing to review in {found.name}")
        click.echo(found.summary())
        return
    items = {item.id: item for item in found.folder.items()}
    for number, item_id in enumerate(todo, 1):
        row = rows[str(item_id)]
        item = items.get(str(item_id))
        click.echo(f"\n[{number}/{len(todo)}] item {item_id} ({row['outcome']})")
        if item is not None:
            for key, value in item.fields.items():
                click.echo(f"  {key}: {clip(str(value), 160)}")
        click.echo(f"  expected: {row['expected']!r}")
        models = []
        for answer in row["answers"]:
            models.append(answer["model"])
            label = f"{len(models)}. {answer['model']}"
            click.echo(f"  {label} -> {clip(answer['text'] or answer['error'] or '', 160)!r}")
        choice = click.prompt(
            "  right answer: number, r = reject all, s = skip, q = quit",
            default="s",
            show_default=False,
        ).strip()
        if choice == "q":
            break
        if choice == "s":
            continue
        reason = click.prompt("  why", default="", show_default=False).strip() or None
        if choice == "r":
            found.decide(str(item_id), None, reason, source=source)
        elif choice.isdigit() and 1 <= int(choice) <= len(models):
            found.decide(str(item_id), models[int(choice) - 1], reason, source=source)
        else:
            click.echo("  not understood; skipped")
    click.echo(found.summary())
