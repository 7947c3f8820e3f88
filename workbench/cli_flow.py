"""`workbench flow run|status|pick|prompts`, and prompt files by name for `workbench compare`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from workbench.cli import file_text, friendly, main
from workbench.errors import InvalidOption, InvalidPrompt

if TYPE_CHECKING:
    from workbench.providers.base import Prompt


def prompt_file_options(
    text: str | None,
    name: str | None,
    fields: tuple[str, ...],
    files: tuple[str, ...],
    models: tuple[str, ...],
    asked: dict[str, Any],
) -> tuple[Prompt, tuple[str, ...]]:
    """`workbench compare --prompt NAME --field k=v`: the Prompt, and the models to ask.

    Without -m, the prompt file's own model. The file sets the system prompt and the
    parameters: options that would set them too are refused, naming them.
    """
    from workbench import prompts

    if name is None:
        raise InvalidOption("--field fills a prompt file's {fields}: give --prompt NAME too")
    if text is not None:
        raise InvalidOption(
            f"give PROMPT or --prompt {name}, not both (--field NAME=VALUE fills its fields)"
        )
    clashing = [option for option, value in asked.items() if value is not None]
    if clashing:
        raise InvalidOption(
            f"{', '.join(clashing)} cannot be used with --prompt {name}: the prompt file sets "
            "its own system prompt and parameters (edit it, or name an alias with -m)"
        )
    prompt_file = prompts.load(name)
    values = field_values(fields)
    missing = [f for f in prompt_file.fields if f not in values]
    if missing:  # said in the CLI's words (the Python API's error names keyword arguments)
        given = " ".join(f"--field {f}=VALUE" for f in missing)
        raise InvalidPrompt(f"{prompt_file.origin.path} needs {{{'}, {'.join(missing)}}}: {given}")
    built = prompt_file.render(values, files=list(files) or None)
    if not models and prompt_file.model:
        models = (prompt_file.model,)
    return built, models


def field_values(fields: tuple[str, ...]) -> dict[str, str]:
    """NAME=VALUE pairs; a VALUE of @PATH is that file's text (trailing line breaks dropped)."""
    values: dict[str, str] = {}
    for pair in fields:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidOption(f"--field {pair!r}: write NAME=VALUE (or NAME=@FILE)")
        if value.startswith("@"):
            try:
                value = file_text(Path(value[1:]).read_text(encoding="utf-8"))
            except OSError as e:
                raise InvalidOption(
                    f"--field {key}: cannot read {value[1:]} ({e.strerror})"
                ) from None
            except UnicodeDecodeError:
                raise InvalidOption(f"--field {key}: {value[1:]} is not UTF-8 text") from None
        values[key.strip()] = value
    return values


@main.group()
def flow() -> None:
    """Workflows: steps given to models by role, outputs committed (see `flow run --help`)."""


@flow.command()
@click.argument("workflow", type=click.Path(dir_okay=False, path_type=Path))
@friendly
def status(workflow: Path) -> None:
    """Where each step of WORKFLOW stands: up to date, stale (what changed), waiting, ..."""
    import workbench as wb

    click.echo(str(wb.workflow(workflow).status()))


@flow.command()
@click.argument("workflow", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--step", "steps", multiple=True, help="Only this step (repeatable).")
@click.option("--budget", type=float, help="Cap in USD for this run (default: the file's).")
@click.option("--fresh", is_flag=True, help="Ask again what the lab notebook already answered.")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines on stderr.")
@friendly
def run(
    workflow: Path, steps: tuple[str, ...], budget: float | None, fresh: bool, quiet: bool
) -> None:
    """Make every step of WORKFLOW that is stale or never made, in order; commit each output.

    A step whose calls fail stops the run (exit 1); run again to resume: what was answered
    is taken from the lab notebook, not paid for again.
    """
    import math

    import workbench as wb

    if budget is not None and not (math.isfinite(budget) and budget >= 0):
        raise InvalidOption(f"--budget must be a number of USD >= 0, not {budget}")
    try:
        result = wb.workflow(workflow).run(
            only=steps, budget_usd=budget, fresh=fresh, progress=not quiet
        )
    except KeyboardInterrupt:
        click.echo(
            "interrupted: the steps finished are committed, the answers that came are in the "
            "lab notebook; run again to resume",
            err=True,
        )
        sys.exit(130)
    click.echo(str(result))
    if not result.ok:
        sys.exit(1)


@flow.command()
@click.argument("workflow", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("step")
@click.argument("number", type=int)
@click.option("--reason", help="Why this one (kept with the decision).")
@friendly
def pick(workflow: Path, step: str, number: int, reason: str | None) -> None:
    """Make alternative NUMBER of STEP its output (a decision in the lab notebook, a commit)."""
    import workbench as wb

    result = wb.workflow(workflow).pick(step, number, reason=reason)
    click.echo(f"{result.step}: {result.message}")


@flow.command()
@friendly
def prompts() -> None:
    """The prompt files (prompts/NAME.md): name, role, model, fields, version."""
    from workbench import prompts as files
    from workbench.errors import WorkbenchError

    names = files.names()
    if not names:
        click.echo(f"no prompt files in {files.folder()}: write prompts/NAME.md")
        return
    for name in names:
        try:
            one = files.load(name)
        except WorkbenchError as e:
            click.echo(f"{name}: {e}")
            continue
        version = one.origin.blob[:12] + ("-dirty" if one.origin.dirty else "")
        fields = ", ".join("{" + f + "}" for f in one.fields) or "no fields"
        click.echo(
            f"{name:<16} {(one.role or '-'):<10} {(one.model or '-'):<10} {version}  {fields}"
        )
