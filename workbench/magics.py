"""IPython magics: `%load_ext workbench`, then `%%compare` and `%workbench`.

    %%compare local terse -t 0 --max-tokens 64 --out cmp
    Explain {topic} in one sentence.

    %%compare claude --prompt referee       (prompts/referee.md; the cell fills its {paper})
    {draft}

The cell body is the prompt, its trailing line breaks dropped (the rule for text from files
and stdin everywhere: the same text, the same request hash); `{name}` is replaced by that
variable of the notebook (write `{{name}}` for the braces themselves). Answers stream into
the cell's output, which ends as the side-by-side view; `--out` binds the Comparison to a
variable. `%workbench log` shows the latest lab notebook entries as a DataFrame;
`%workbench models` the models.
"""

from __future__ import annotations

import argparse
import keyword
import re
import shlex
import sys
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NoReturn

from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    import pandas as pd

    from workbench.comparison import Comparison

REDRAW_S = 0.1
"""How often the cell's output is redrawn while answers stream in."""

LOG_COLUMNS = [
    "id",
    "ts",
    "kind",
    "model",
    "prompt",
    "text",
    "verdict",
    "reason",
    "note",
    "cost_usd",
]

_NAME = re.compile(r"\{\{([A-Za-z_]\w*)\}\}|\{([A-Za-z_]\w*)\}")


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad options as one line instead of exiting the kernel."""

    def error(self, message: str) -> NoReturn:
        from IPython.core.error import UsageError

        raise UsageError(f"{self.prog}: {message} (see {self.prog} -h)")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        from IPython.core.error import UsageError

        raise UsageError(message or self.format_usage())


def _split(line: str, prog: str) -> list[str]:
    """The words of a magic's line, as a shell splits them; bad quoting is a UsageError."""
    try:
        return shlex.split(line)
    except ValueError as e:  # "No closing quotation"
        from IPython.core.error import UsageError

        raise UsageError(f"{prog}: {str(e).lower()} in {line!r}") from None


def _variable(name: str) -> str:
    """A name `--out` can bind: a Python identifier that is not a keyword."""
    if not name.isidentifier() or keyword.iskeyword(name):
        raise argparse.ArgumentTypeError(f"{name!r} is not a variable name")
    return name


def _count(text: str) -> int:
    """A whole number >= 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number >= 0")
    return value


def compare_parser() -> argparse.ArgumentParser:
    """The options of `%%compare`."""
    p = _Parser(prog="%%compare", description="Send the cell to several models side by side.")
    p.add_argument("models", nargs="*", help="aliases or provider:model names")
    p.add_argument("-s", "--system", help="system prompt (quote it)")
    p.add_argument("-t", "--temperature", type=float)
    p.add_argument("-m", "--max-tokens", type=int, dest="max_tokens")
    p.add_argument("-n", "--samples", type=int, default=1, help="answers per model")
    p.add_argument(
        "-f", "--file", action="append", dest="files", help="a file to send (repeat for more)"
    )
    p.add_argument("-r", "--reasoning", help="low, medium, high, or a budget of tokens")
    p.add_argument(
        "--schema", type=_variable, help="a notebook variable: a JSON Schema dict or pydantic model"
    )
    p.add_argument(
        "-u",
        "--follow-up",
        type=_variable,
        dest="follow_up",
        help="a notebook variable holding a Comparison: continue each model's conversation",
    )
    p.add_argument("-o", "--out", type=_variable, help="bind the Comparison to this variable")
    p.add_argument(
        "-p",
        "--prompt",
        help="a prompt file (prompts/NAME.md): the cell fills a {field}, variables the others",
    )
    p.add_argument("--field", help="with --prompt: the {field} the cell fills")
    return p


def log_parser() -> argparse.ArgumentParser:
    """The options of `%workbench log`."""
    p = _Parser(prog="%workbench log", description="The latest lab notebook entries.")
    p.add_argument("-n", "--last", type=_count, default=20, help="how many entries (default 20)")
    p.add_argument("-k", "--kind", action="append", help="call, decision, note, ...")
    p.add_argument("--model", action="append")
    p.add_argument("--since", help="a date or ISO time")
    return p


def interpolate(text: str, namespace: Mapping[str, Any]) -> tuple[str, list[str]]:
    """`{name}` replaced by `namespace[name]`; unknown names kept as written and returned."""
    missing: list[str] = []

    def replace(match: re.Match[str]) -> str:
        if match.group(1) is not None:
            return "{" + match.group(1) + "}"
        name = match.group(2)
        if name in namespace:
            return str(namespace[name])
        missing.append(name)
        return match.group(0)

    return _NAME.sub(replace, text), missing


def cell_prompt(cell: str, namespace: Mapping[str, Any]) -> tuple[str, list[str]]:
    """The prompt a `%%compare` cell holds, and the `{names}` the notebook does not define."""
    from workbench.cli import file_text

    return interpolate(file_text(cell), namespace)


def compare_cell(line: str, cell: str, namespace: dict[str, Any]) -> Comparison:
    """Run `%%compare`: stream into the cell's output, show the view, bind `--out`."""
    from IPython.display import display

    from workbench.sessions import session
    from workbench.widgets.live import LiveRun
    from workbench.widgets.static import panel_html

    args = compare_parser().parse_args(_split(line, "%%compare"))
    sent: Any
    if args.prompt is not None:  # a prompt file: the cell fills one of its fields
        sent, models, prompt = _prompt_file(args, cell, namespace)
    else:
        prompt, missing = cell_prompt(cell, namespace)
        if missing:
            names = ", ".join("{" + m + "}" for m in missing)
            print(f"not defined in the notebook, sent as written: {names}", file=sys.stderr)
        sent, models = prompt, args.models
    options = _options(args, namespace)
    wb = session()
    try:
        after = _earlier(args.follow_up, namespace)
        models = models or ([] if after else wb.default_models())
        live = LiveRun(wb, sent, models, after=after, **options)
    except WorkbenchError as e:
        from IPython.core.error import UsageError

        raise UsageError(str(e)) from None

    def snapshot(status: str) -> Any:
        from IPython.display import HTML

        page = panel_html(
            prompt=prompt,
            system=args.system,
            models=live.labels,
            columns=live.snapshot(),
            status=status,
            spend="",
        )
        return HTML(page)  # type: ignore[no-untyped-call]

    handle: Any = display(snapshot("running…"), display_id=True)  # type: ignore[no-untyped-call]
    live.start()
    try:
        while live.running:
            time.sleep(REDRAW_S)
            handle.update(snapshot("running…"))
    except KeyboardInterrupt:
        live.stop()
    comparison = live.wait()
    handle.update(comparison)
    if args.out:
        namespace[args.out] = comparison
    return comparison


def _prompt_file(
    args: argparse.Namespace, cell: str, namespace: Mapping[str, Any]
) -> tuple[Any, list[str], str]:
    """`--prompt NAME`: (the Prompt, the models, its text).

    The cell's text (its `{names}` filled from the notebook) fills the field `--field` names,
    by default the file's first; every other field is the notebook variable of its name.
    """
    from IPython.core.error import UsageError

    from workbench import prompts

    given = [f"--{k.replace('_', '-')}" for k in ("system", "temperature", "max_tokens",
             "reasoning", "schema", "follow_up") if getattr(args, k) is not None]  # fmt: skip
    if given:
        raise UsageError(
            f"%%compare --prompt {args.prompt}: {', '.join(given)} cannot be used with a prompt "
            "file (it sets its own system prompt and parameters)"
        )
    try:
        file = prompts.load(args.prompt)
        into = args.field or (file.fields[0] if file.fields else None)
        if into is None or into not in file.fields:
            has = ", ".join("{" + f + "}" for f in file.fields) or "no field"
            raise UsageError(f"{file.origin.path} has {has}: name the one the cell fills")
        text, missing = cell_prompt(cell, namespace)
        missing += [f for f in file.fields if f != into and f not in namespace]
        if missing:
            names = ", ".join("{" + m + "}" for m in missing)
            raise UsageError(f"{file.origin.path} needs {names}: define them in the notebook")
        values = {f: namespace[f] for f in file.fields if f != into} | {into: text}
        built = file.render(values, files=args.files)
    except WorkbenchError as e:
        raise UsageError(str(e)) from None
    args.files = None  # sent with the prompt
    models = list(args.models) or ([file.model] if file.model else [])
    return built, models, built.text


def _options(args: argparse.Namespace, namespace: Mapping[str, Any]) -> dict[str, Any]:
    """The comparison's options from the magic's line (a follow-up takes files only)."""
    from workbench.errors import InvalidOption

    options: dict[str, Any] = {}
    if args.follow_up is None:
        options["samples"] = args.samples
        for key in ("system", "temperature", "max_tokens"):
            if getattr(args, key) is not None:
                options[key] = getattr(args, key)
        if args.reasoning is not None:
            options["reasoning"] = (
                int(args.reasoning) if args.reasoning.isdigit() else args.reasoning
            )
        if args.schema is not None:
            if args.schema not in namespace:
                raise InvalidOption(f"--schema {args.schema}: no such variable in the notebook")
            options["schema"] = namespace[args.schema]
    if args.files:
        options["files"] = args.files
    return options


def reasoning_value(text: str) -> str | int:
    """A reasoning option as typed: a budget of tokens when it is a whole number."""
    return int(text) if text.strip().isdigit() else text.strip()


def _earlier(name: str | None, namespace: Mapping[str, Any]) -> Comparison | None:
    """The Comparison a `--follow-up` names."""
    if name is None:
        return None
    from workbench.comparison import Comparison
    from workbench.errors import InvalidOption

    value = namespace.get(name)
    if not isinstance(value, Comparison):
        raise InvalidOption(
            f"--follow-up {name}: not a Comparison in the notebook (bind one with --out {name})"
        )
    return value


def workbench_line(line: str) -> Any:
    """Run `%workbench log|models`."""
    from IPython.core.error import UsageError

    words = _split(line, "%workbench")
    if not words or words[0] not in ("log", "models"):
        raise UsageError("use %workbench log [-n 20] [-k call] [--model M] or %workbench models")
    if words[0] == "models":
        import workbench

        return workbench.models()
    return recent_log(words[1:])


def recent_log(argv: list[str]) -> pd.DataFrame:
    """The last entries of the lab notebook, newest last, with the columns worth reading."""
    from workbench import log

    args = log_parser().parse_args(argv)
    filters = {k: v for k, v in vars(args).items() if k != "last" and v is not None}
    frame = log.to_frame(**filters)
    frame = frame[[c for c in LOG_COLUMNS if c in frame.columns]]
    return frame.tail(args.last).reset_index(drop=True)


def load_ipython_extension(ipython: Any) -> None:
    """Register `%%compare` and `%workbench` in an IPython shell."""

    def compare(line: str, cell: str) -> None:
        compare_cell(line, cell, ipython.user_ns)

    def workbench(line: str) -> Any:
        return workbench_line(line)

    compare.__doc__ = compare_parser().format_help()
    workbench.__doc__ = "%workbench log [-n N] [-k KIND] [--model M] [--since DAY] | models"
    ipython.register_magic_function(compare, magic_kind="cell", magic_name="compare")
    ipython.register_magic_function(workbench, magic_kind="line", magic_name="workbench")
