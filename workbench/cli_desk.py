"""`workbench desk ...`: what is waiting for whom, and the commits that change it."""

from __future__ import annotations

from pathlib import Path

import click

from workbench.cli import file_text, friendly, main, read_stdin_prompt
from workbench.errors import InvalidOption


@main.group(invoke_without_command=True)
@click.option("--for", "who", help="Only what waits for, or is held by, this role or model.")
@click.option("-a", "--all", "everything", is_flag=True, help="List what is done too.")
@click.option("--no-fetch", is_flag=True, help="Do not ask the upstream for its news first.")
@click.pass_context
@friendly
def desk(ctx: click.Context, who: str | None, everything: bool, no_fetch: bool) -> None:
    """The desk (desk/ in the repository): what is waiting for whom, what is in progress."""
    if ctx.invoked_subcommand is not None:
        return
    from workbench.desk import Board, board

    shown = board(fetch=not no_fetch)
    if who is not None:
        kept = [
            e for e in shown.entries
            if e.item.to == who or (e.holder is not None and e.holder.by == who)
        ]  # fmt: skip
        shown = Board(kept, shown.problems, shown.where)
    click.echo(shown.text(everything=everything))


def _body(body: str | None, body_file: str | None) -> str:
    if body is not None and body_file is not None:
        raise InvalidOption("give --body or --body-file, not both")
    if body_file == "-":
        return read_stdin_prompt()
    if body_file is not None:
        try:
            return file_text(Path(body_file).read_text(encoding="utf-8"))
        except OSError as e:
            raise InvalidOption(f"--body-file {body_file}: cannot read it ({e.strerror})") from None
    return body or ""


@desk.command()
@click.argument("title")
@click.option("--for", "to", required=True, help="For whom: a role, a model or a person.")
@click.option("--why", help="The reason behind it, so whoever takes it can judge.")
@click.option("--body", help="What to do, in full.")
@click.option("--body-file", help="Read the body from a file (- for stdin).")
@click.option("--about", multiple=True, help="A file it is about (repeatable).")
@click.option("--as", "by", help="Who adds it (default: git's user.name).")
@friendly
def add(
    title: str,
    to: str,
    why: str | None,
    body: str | None,
    body_file: str | None,
    about: tuple[str, ...],
    by: str | None,
) -> None:
    """Put a task TITLE on the desk for a role, a model or a person (one commit)."""
    from workbench import desk as channel

    item = channel.add(title, to=to, why=why, body=_body(body, body_file), about=list(about), by=by)
    click.echo(f"added {item.id} for {item.to} ({item.path})")


@desk.command()
@click.argument("title")
@click.option("--for", "to", required=True, help="For whom: a role, a model or a person.")
@click.option("--flag", "flags", multiple=True, help="FILE:LINE: note (repeatable).")
@click.option("--body", help="The review, in full.")
@click.option("--body-file", help="Read the body from a file (- for stdin).")
@click.option("--on", help="The desk item it answers.")
@click.option("--about", multiple=True, help="A file it is about (repeatable).")
@click.option("--as", "by", help="Who leaves it (default: git's user.name).")
@friendly
def memo(
    title: str,
    to: str,
    flags: tuple[str, ...],
    body: str | None,
    body_file: str | None,
    on: str | None,
    about: tuple[str, ...],
    by: str | None,
) -> None:
    """Leave a memo TITLE for a role: a review, its flagged lines grouped by file."""
    from workbench import desk as channel

    item = channel.memo(
        title, to=to, flags=flags, body=_body(body, body_file), on=on, about=list(about), by=by
    )
    click.echo(f"left {item.id} for {item.to} ({item.path})")


@desk.command()
@click.argument("item")
@click.option("--as", "by", help="Who takes it (default: git's user.name).")
@friendly
def claim(item: str, by: str | None) -> None:
    """Take ITEM: a commit, pushed to the upstream before it counts."""
    from workbench import desk as channel

    made = channel.claim(item, by=by, via="workbench desk claim")
    click.echo(f"{made.by} holds {made.item}")


@desk.command()
@click.argument("item")
@click.option("--as", "by", help="Who did it (default: git's user.name).")
@click.option("--output", "outputs", multiple=True, help="A file it produced (repeatable).")
@click.option("--note", default="", help="What to know about how it was done.")
@friendly
def done(item: str, by: str | None, outputs: tuple[str, ...], note: str) -> None:
    """Mark ITEM done (by whoever holds it), naming what it produced."""
    from workbench import desk as channel

    made = channel.done(item, by=by, outputs=list(outputs), note=note)
    click.echo(f"{made.item} done by {made.by}")


@desk.command()
@click.argument("item")
@click.option("--as", "by", help="Whose claim (default: git's user.name).")
@friendly
def release(item: str, by: str | None) -> None:
    """Give ITEM back: the claim is removed by a commit; the item is open again."""
    from workbench import desk as channel

    channel.release(item, by=by)
    click.echo(f"released {item}")


@desk.command()
@click.argument("item")
@friendly
def show(item: str) -> None:
    """Print ITEM's file, its claims and whether it is done."""
    from workbench import desk as channel

    entry = channel.board(fetch=False).get(item)
    click.echo(entry.item.file().decode())
    for one in entry.claims:
        standing = "" if one is entry.holder else " (does not stand)"
        click.echo(f"claimed by {one.by} at {one.at}{standing}")
    if entry.done is not None:
        made = f" -> {', '.join(entry.done.outputs)}" if entry.done.outputs else ""
        click.echo(f"done by {entry.done.by} at {entry.done.at}{made}")


@desk.command()
@click.argument("model")
@click.option("--since", help="From this day (YYYY-MM-DD) or time on.")
@click.option("--role", "roles", multiple=True, help="A role it plays (repeatable).")
@friendly
def brief(model: str, since: str | None, roles: tuple[str, ...]) -> None:
    """What MODEL did in this repository: a memo to paste into its next prompt."""
    from workbench import log

    click.echo(log.brief(model, since, roles=roles))
