"""The `workbench` command: a thin click layer over the Python API."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from workbench.errors import InvalidOption, InvalidPrompt, WorkbenchError
from workbench.magics import reasoning_value

F = TypeVar("F", bound=Callable[..., Any])

MAX_SEED = 2**31 - 1
"""The largest seed every provider uses as given (Gemini's is 32-bit signed; the local
model's 32-bit unsigned, where -1 means "random" and larger seeds wrap)."""


def friendly(command: F) -> F:
    """Turn a WorkbenchError, or an OSError on a file, into one line and exit status 1."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except WorkbenchError as e:
            raise click.ClickException(str(e)) from None
        except OSError as e:
            if e.filename is None:  # not about a file: a bug, or the terminal went away
                raise
            raise click.ClickException(file_problem(e)) from None

    return wrapper  # type: ignore[return-value]


def file_problem(error: OSError) -> str:
    """One line for an OSError on a path: which path, what went wrong, what to do."""
    path = Path(str(error.filename))
    what = error.strerror or type(error).__name__
    line = f"cannot use {path}: {what}"
    if _in_lab_notebook(path):
        line += (
            "; the lab notebook's folder must be a writable folder: free the path or choose "
            "another with [labbook] path in workbench.toml or $WORKBENCH_LABBOOK"
        )
    return line


def _in_lab_notebook(path: Path) -> bool:
    from workbench.config import Config
    from workbench.labbook import locate

    try:
        root = locate(Config.load())
    except WorkbenchError:
        return False
    path = path.absolute()
    return path == root or root in path.parents or path in root.parents


def file_text(raw: str) -> str:
    """A prompt read from a file, stdin or a notebook cell: trailing line breaks removed.

    The shell's `$(cat file)` rule, applied everywhere text comes from a file, so
    `workbench compare "$(cat p.txt)"`, `workbench compare - < p.txt` and a `%%compare`
    cell holding the same text send the same request (and get the same request hash).
    """
    return raw.rstrip("\r\n")


def read_stdin_prompt() -> str:
    """The prompt piped to stdin, as UTF-8 text (a leading byte order mark dropped)."""
    data = sys.stdin.buffer.read()
    try:
        return file_text(data.decode("utf-8-sig"))
    except UnicodeDecodeError as e:
        raise InvalidPrompt(
            f"the prompt must be UTF-8 text: byte {e.start} of stdin is not "
            "(convert it, e.g. iconv -f latin1 -t utf-8)"
        ) from None


def _utf8(value: str, what: str) -> str:
    """`value` unchanged, or an error: text the shell passed that is not UTF-8."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidPrompt(f"{what} must be UTF-8 text: {value!r} is not") from None
    return value


def _at_least_1(value: int, option: str) -> int:
    if value < 1:
        raise InvalidOption(f"{option} must be a whole number of at least 1, not {value}")
    return value


@click.group()
@click.version_option(package_name="research-workbench")
def main() -> None:
    """Several language models side by side, every prompt recorded."""


@main.command()
@click.argument("prompt", required=False)
@click.option("-p", "--prompt", "prompt_name", help="A prompt file by name: prompts/NAME.md.")
@click.option(
    "--field", "fields", multiple=True, help="NAME=VALUE for its {NAME} (@FILE reads one)."
)
@click.option("-m", "--model", "models", multiple=True, help="Model or alias; repeat for more.")
@click.option("-s", "--system", help="System prompt (overrides an alias's own).")
@click.option("-t", "--temperature", type=float, help="Sampling temperature, 0 to 2.")
@click.option("--max-tokens", type=int, help="Most tokens each answer may have.")
@click.option("--seed", type=int, help="Seed, for providers that take one.")
@click.option("-n", "--samples", type=int, default=1, show_default=True, help="Answers per model.")
@click.option("--budget", type=float, help="Cap in USD for this command (a number >= 0).")
@click.option(
    "--max-calls",
    type=int,
    help="Allow this many calls (models x samples); default [run] max_calls, 5000.",
)
@click.option("-f", "--file", "files", multiple=True, help="A file to send; repeat for more.")
@click.option("--schema", "schema_path", help="A JSON Schema file the answers must follow.")
@click.option("-r", "--reasoning", help="Reasoning effort: low, medium, high, or N tokens.")
@click.option(
    "--follow-up", is_flag=True, help="Continue the latest comparison, each model its own."
)
@click.option("--after", multiple=True, help="Continue this recorded call (its id); repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print only the replies, as JSON lines.")
@click.option("--no-stream", is_flag=True, help="Wait for whole answers instead of streaming.")
@friendly
def compare(
    prompt: str | None,
    prompt_name: str | None,
    fields: tuple[str, ...],
    models: tuple[str, ...],
    system: str | None,
    temperature: float | None,
    max_tokens: int | None,
    seed: int | None,
    samples: int,
    budget: float | None,
    max_calls: int | None,
    files: tuple[str, ...],
    schema_path: str | None,
    reasoning: str | None,
    follow_up: bool,
    after: tuple[str, ...],
    as_json: bool,
    no_stream: bool,
) -> None:
    """Send PROMPT to every model at once and show the answers side by side.

    With no -m, uses gpt, claude and gemini where their keys are set, or else
    variants of the embedded local model. Use "-" as PROMPT to read it from stdin
    (UTF-8; trailing line breaks are dropped, as "$(cat file)" drops them).
    With --json, stdout holds one JSON object per reply and nothing else.
    With --follow-up (or --after ID), each model of the latest comparison (or of the calls
    named) continues its own conversation with PROMPT, from the lab notebook.
    With --prompt NAME, the prompt file prompts/NAME.md is sent instead, its {fields} given
    with --field (its model used when no -m is given).
    """
    from workbench.terminal import run_compare

    # Every option is checked before stdin is read and before anything is sent.
    if budget is not None and not (math.isfinite(budget) and budget >= 0):
        raise InvalidOption(
            f"--budget must be a number of USD >= 0, not {budget}: leave it out for no cap"
        )
    _at_least_1(samples, "-n/--samples")
    if max_calls is not None:
        _at_least_1(max_calls, "--max-calls")
    # " local" from a sloppy script names the model "local", as the Python API reads it
    models = tuple(_utf8(model, "a model name").strip() for model in models)
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise InvalidOption(
            f"--seed must be a whole number from 0 to {MAX_SEED} (a seed every provider "
            f"takes as it is), not {seed}"
        )
    if system is not None:
        _utf8(system, "the system prompt")
    if prompt_name is not None or fields:  # the prompt file carries its own settings
        from workbench.cli_flow import prompt_file_options

        asked_of = {"-s": system, "-t": temperature, "--max-tokens": max_tokens, "--seed": seed,
                    "-r": reasoning, "--schema": schema_path, "--follow-up": follow_up or None,
                    "--after": after or None}  # fmt: skip
        built, models = prompt_file_options(prompt, prompt_name, fields, files, models, asked_of)
        prompt, files = cast(str, built), ()  # a Prompt: run_compare passes it on as it is
    elif prompt is None:
        raise InvalidOption("give a PROMPT (- reads it from stdin), or --prompt NAME")
    else:
        prompt = read_stdin_prompt() if prompt == "-" else _utf8(prompt, "the prompt")
    asked = {
        "temperature": temperature,
        "max_tokens": max_tokens,
        "seed": seed,
        "reasoning": None if reasoning is None else reasoning_value(reasoning),
        "files": list(files) or None,
        "schema": None if schema_path is None else read_schema(schema_path),
    }
    params = {k: v for k, v in asked.items() if v is not None}
    earlier = None
    if follow_up or after:
        earlier = _earlier(models, system, samples, schema_path, params, after)
        params = {k: v for k, v in params.items() if k == "files"}
        system, samples = None, 1
    comparison = run_compare(
        prompt,
        list(models) or None,
        after=earlier,
        system=system,
        samples=samples,
        budget_usd=budget,
        max_calls=max_calls,
        stream=not no_stream,
        live=not (as_json or no_stream) and sys.stdout.isatty(),
        show=not as_json,
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
        where = "the error field of the JSON lines" if as_json else "above"
        click.echo(
            f"{len(failed)} of {len(comparison)} calls failed ({names}); see {where}", err=True
        )
        sys.exit(1)


def _earlier(
    models: tuple[str, ...],
    system: str | None,
    samples: int,
    schema_path: str | None,
    params: dict[str, Any],
    after: tuple[str, ...],
) -> Any:
    """The recorded comparison a follow-up continues; what it cannot change is refused."""
    from workbench.recorded import recorded_comparison
    from workbench.sessions import session

    fixed = [k for k, v in {"-m": models, "-s": system, "--schema": schema_path}.items() if v]
    fixed += [f"--{k.replace('_', '-')}" for k in params if k not in ("files", "schema")]
    fixed += ["-n"] if samples != 1 else []
    if fixed:
        raise InvalidOption(
            f"{', '.join(fixed)} cannot change in a follow-up: the conversation keeps its own "
            "models and settings (only -f adds files)"
        )
    return recorded_comparison(session(), after)


def read_schema(path: str) -> dict[str, Any]:
    """A JSON Schema from a file, or a one-line error naming the file."""
    try:
        value = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise InvalidOption(f"--schema {path}: cannot read it ({e.strerror or e})") from None
    except ValueError as e:
        raise InvalidOption(f"--schema {path}: not JSON ({e})") from None
    if not isinstance(value, dict):
        raise InvalidOption(
            f"--schema {path}: a JSON Schema is an object, not {type(value).__name__}"
        )
    return value


@main.command()
@friendly
def quickstart() -> None:
    """Compare variants of the embedded local model: no key, no network needed."""
    ctx = click.get_current_context()
    ctx.invoke(
        compare,
        prompt="In one sentence: why is the sky blue?",
        prompt_name=None,
        fields=(),
        models=("local", "terse", "teacher"),
        system=None,
        temperature=None,
        max_tokens=None,
        seed=None,
        samples=1,
        budget=None,
        max_calls=None,
        files=(),
        schema_path=None,
        reasoning=None,
        follow_up=False,
        after=(),
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
    from workbench.providers.registry import describe
    from workbench.terminal import models_table

    rows = describe(Config.load())
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
        return
    models_table(rows)


# The lab notebook's commands live in their own module; importing it registers them.
import workbench.cli_audit  # noqa: E402, F401  (audit commands)
from workbench import cli_desk, cli_flow, cli_log  # noqa: E402, F401
