"""The `workbench` command: a thin click layer over the Python API."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from workbench.errors import WorkbenchError

F = TypeVar("F", bound=Callable[..., Any])


def friendly(command: F) -> F:
    """Turn a WorkbenchError into a one-line message and exit status 1, with no traceback."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except WorkbenchError as e:
            raise click.ClickException(str(e)) from None

    return wrapper  # type: ignore[return-value]


@click.group()
@click.version_option(package_name="research-workbench")
def main() -> None:
    """Several language models side by side, every prompt recorded."""


@main.command()
@click.argument("prompt")
@click.option("-m", "--model", "models", multiple=True, help="Model or alias; repeat for more.")
@click.option("-s", "--system", help="System prompt (overrides an alias's own).")
@click.option("-t", "--temperature", type=float, help="Sampling temperature, 0 to 2.")
@click.option("--max-tokens", type=int, help="Most tokens each answer may have.")
@click.option("--seed", type=int, help="Seed, for providers that take one.")
@click.option("-n", "--samples", type=int, default=1, show_default=True, help="Answers per model.")
@click.option("--budget", type=float, help="Cap in USD for this command.")
@click.option("--json", "as_json", is_flag=True, help="Print the replies as JSON lines.")
@click.option("--no-stream", is_flag=True, help="Wait for whole answers instead of streaming.")
@friendly
def compare(
    prompt: str,
    models: tuple[str, ...],
    system: str | None,
    temperature: float | None,
    max_tokens: int | None,
    seed: int | None,
    samples: int,
    budget: float | None,
    as_json: bool,
    no_stream: bool,
) -> None:
    """Send PROMPT to every model at once and show the answers side by side.

    With no -m, uses gpt, claude and gemini where their keys are set, or else
    variants of the embedded local model. Use "-" as PROMPT to read it from stdin.
    """
    from workbench.terminal import run_compare

    if prompt == "-":
        prompt = sys.stdin.read()
    params = {
        k: v
        for k, v in {"temperature": temperature, "max_tokens": max_tokens, "seed": seed}.items()
        if v is not None
    }
    comparison = run_compare(
        prompt,
        list(models) or None,
        system=system,
        samples=samples,
        budget_usd=budget,
        live=not (as_json or no_stream) and sys.stdout.isatty(),
        **params,
    )
    if as_json:
        for reply in comparison:
            click.echo(json.dumps(reply.to_dict(), default=str))
    book = comparison.labbook
    recorded = sum(1 for i in comparison.record_ids if i)
    if book is not None and recorded:
        click.echo(
            f"recorded {recorded} call{'s' * (recorded != 1)} in {book.path} "
            "(`workbench log` lists them)",
            err=True,
        )
    failed = comparison.errors
    if failed:
        names = ", ".join(sorted({r.model for r in failed}))
        click.echo(
            f"{len(failed)} of {len(comparison)} calls failed ({names}); see above", err=True
        )
        sys.exit(1)


@main.command()
def quickstart() -> None:
    """Compare variants of the embedded local model: no key, no network needed."""
    ctx = click.get_current_context()
    ctx.invoke(
        compare,
        prompt="In one sentence: why is the sky blue?",
        models=("local", "terse", "teacher"),
        system=None,
        temperature=None,
        max_tokens=None,
        seed=None,
        samples=1,
        budget=None,
        as_json=False,
        no_stream=False,
    )
    click.echo(
        "Next: jupyter lab notebooks/quickstart.ipynb, or "
        'workbench compare "your question" -m local -m gpt (with OPENAI_API_KEY set).'
    )


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print as JSON lines.")
@friendly
def models(as_json: bool) -> None:
    """List aliases and providers, and which API keys are missing."""
    from workbench.config import Config
    from workbench.models.registry import describe
    from workbench.terminal import models_table

    rows = describe(Config.load())
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
        return
    models_table(rows)


# The lab notebook's commands live in their own module; importing it registers them.
import workbench.cli_audit  # noqa: E402, F401  (audit commands)
from workbench import cli_log  # noqa: E402, F401
