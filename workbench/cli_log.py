"""`workbench log ...`, `workbench note` and `workbench init`: the lab notebook from the shell."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from workbench.cli import friendly, main
from workbench.config import Config
from workbench.errors import ConfigError, InvalidOption, NotRecorded
from workbench.labbook.chain import KINDS
from workbench.render import clip


def _root() -> Path:
    from workbench.labbook import locate

    return locate(Config.load())


def _records() -> list[dict[str, object]]:
    from workbench.labbook.book import records

    return records(_root())


@main.group(invoke_without_command=True)
@click.option(
    "-n", "--limit", default=20, show_default=True, type=click.IntRange(min=1),
    help="How many recent entries.",
)  # fmt: skip
@click.option("--model", help="Only calls to this model (the name asked for, or the full one).")
@click.option("--kind", type=click.Choice(KINDS), help="Only records of this kind.")
@click.option("--tag", help="Only records with this tag.")
@click.option("--prompt", help="Only calls made from this prompt file (prompts/NAME.md).")
@click.pass_context
@friendly
def log(
    ctx: click.Context,
    limit: int,
    model: str | None,
    kind: str | None,
    tag: str | None,
    prompt: str | None,
) -> None:
    """The lab notebook: recent entries, one line each (or a subcommand).

    With --prompt NAME, every call made from prompts/NAME.md (or the last -n), with the
    version of the file each used.
    """
    if ctx.invoked_subcommand is not None:
        return
    from workbench.labbook import lookup
    from workbench.labbook.book import recent
    from workbench.labbook.sessionfiles import in_time_order, recent_within

    def keep(record: dict[str, Any]) -> bool:
        return (
            (model is None or model in (record.get("model"), record.get("resolved")))
            and (kind is None or record.get("kind") == kind)
            and (tag is None or tag in (record.get("tags") or ()))
            and (prompt is None or _origin(record).get("name") == prompt)
        )

    filtered = model is not None or kind is not None or tag is not None or prompt is not None
    if prompt is not None and ctx.get_parameter_source("limit") is ParameterSource.DEFAULT:
        limit = sys.maxsize  # every use of the prompt file, unless -n says otherwise
    root = _root()
    if not filtered:
        rows = recent(root, limit)
    else:  # the newest files first; past BIG_BYTES of them, through the frame
        found = recent_within(root, limit, keep, budget=lookup.BIG_BYTES)
        if found is None:
            table = lookup.frame(root)
            filters = {"model": model, "kind": kind, "tag": tag, "prompt": prompt}
            found = lookup.newest(table, limit, keep, **filters)
            found.sort(key=in_time_order)
        rows = found
    if not rows:
        what = "no entry matches" if filtered else "is empty: run `workbench compare ...` first"
        click.echo(f"the lab notebook at {root} {what}")
        return
    for record in rows:
        click.echo(one_line(record))


def one_line(record: dict[str, object]) -> str:
    """A record as one terminal line: time, id, kind, model and the gist."""
    ts = str(record["ts"])[:19].replace("T", " ")
    kind = str(record["kind"])
    gist = ""
    data = record.get("data") if isinstance(record.get("data"), dict) else {}
    assert isinstance(data, dict)
    if kind == "call":
        prompt = record.get("prompt") or {}
        reply = record.get("reply") or {}
        assert isinstance(prompt, dict) and isinstance(reply, dict)
        text = prompt["messages"][-1]["content"] if prompt.get("messages") else ""
        answer = reply.get("text") or (reply.get("error") or {}).get("type", "")
        gist = f"{record.get('model')}: {clip(text, 40)!r} -> {clip(str(answer), 50)!r}"
        if record.get("parent"):  # a follow-up: the turn it continues
            gist += f" (follows {str(record['parent'])[-8:]})"
        origin = _origin(record)
        if origin.get("name"):  # made from a prompt file: which version of it
            dirty = "-dirty" if origin.get("dirty") else ""
            gist += f" [{origin['name']}@{str(origin.get('blob'))[:12]}{dirty}]"
    elif kind == "decision":
        choice = str(data.get("choice") or "")[-8:]
        gist = f"{data.get('verdict')} {choice} {data.get('reason') or ''}".strip()
    elif kind == "note":
        gist = clip(str(data.get("text", "")), 90)
    elif kind in ("pause", "resume"):
        gist = str(data.get("reason") or "")
    elif kind == "session":
        gist = str(record.get("source") or "")
    elif kind == "audit":
        counts = data.get("counts") if isinstance(data.get("counts"), dict) else {}
        assert isinstance(counts, dict)
        tally = ", ".join(f"{n} {outcome}" for outcome, n in counts.items() if n)
        gist = f"{data.get('run')} {data.get('status')}: {tally or 'no items'}"
    return f"{ts}  {str(record['id'])[-8:]}  {kind:<8}  {gist}"


def _origin(record: dict[str, Any]) -> dict[str, Any]:
    """The prompt file a call was made from (empty when none)."""
    origin = (record.get("prompt") or {}).get("origin")
    return origin if isinstance(origin, dict) else {}


@log.command()
@click.argument("record_id")
@friendly
def show(record_id: str) -> None:
    """Print one record in full (an id, or its last 8 characters)."""
    from workbench.labbook import lookup

    suffix, root = record_id.upper(), _root()
    if lookup.is_big(root):  # found through the frame, not record by record
        rows = lookup.ending_with(lookup.frame(root), suffix)
        count = len(rows)
        found = lookup.records_at(rows) if count == 1 else []  # read only when it is one
    else:
        found = [r for r in _records() if str(r["id"]).endswith(suffix)]
        count = len(found)
    if not count:
        raise NotRecorded(f"no record {record_id!r} in {root}: `workbench log` lists ids")
    if count > 1:
        raise InvalidOption(f"{record_id!r} matches {count} records: give more characters")
    click.echo(json.dumps(found[0], indent=2, ensure_ascii=False))


@log.command()
@friendly
def verify() -> None:
    """Re-check every hash chain; exit 1 naming the first broken record of each file."""
    from workbench import log as labbook_log

    report = labbook_log.verify(_root())
    click.echo(report.summary())
    if not report.ok:
        sys.exit(1)


@log.command()
@click.option("--since", help="First day (YYYY-MM-DD), inclusive.")
@click.option("--until", help="Last day (YYYY-MM-DD), inclusive.")
@click.option("--model", "models", multiple=True, help="Only this model (repeatable).")
@click.option("--tag", "tags", multiple=True, help="Only records with this tag (repeatable).")
@click.option(
    "--format", "fmt", type=click.Choice(["md", "html", "jsonl", "csv"]), default="md",
    show_default=True,
)  # fmt: skip
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path))
@friendly
def export(
    since: str | None,
    until: str | None,
    models: tuple[str, ...],
    tags: tuple[str, ...],
    fmt: str,
    output: Path | None,
) -> None:
    """Export the lab notebook as a dated record (Markdown, HTML, JSON Lines or CSV)."""
    from workbench import log as labbook_log

    for value, name in ((since, "--since"), (until, "--until")):
        if value is not None:
            try:
                date.fromisoformat(value)
            except ValueError:
                raise InvalidOption(f"{name} {value!r} is not a date: use YYYY-MM-DD") from None
    text = labbook_log.export(
        fmt,
        output,  # written there, its links to stored files relative to it
        since=since,
        until=until,
        model=list(models),
        tag=list(tags),
        folder=_root(),
    )
    if output is None:
        click.echo(text, nl=False)
    else:
        click.echo(f"wrote {output}", err=True)


@main.command()
@click.argument("text")
@click.option("--tag", "tags", multiple=True, help="A tag (repeatable).")
@click.option("--on", "links", multiple=True, help="Id of a record the note is about.")
@friendly
def note(text: str, tags: tuple[str, ...], links: tuple[str, ...]) -> None:
    """Write a free note into the lab notebook, and commit it."""
    from workbench.sessions import session

    book = session().labbook
    if book is None:
        raise ConfigError("no lab notebook is open")
    record = book.note(text, on=list(links), tags=tags)
    book.commit("note")
    click.echo(f"noted {record['id']} in {book.path}")


@main.command()
@click.argument("folder", required=False, type=click.Path(file_okay=False, path_type=Path))
@friendly
def init(folder: Path | None) -> None:
    """Make FOLDER (default: the configured lab notebook) a lab notebook repository."""
    from workbench.labbook import git_toplevel
    from workbench.labbook.git import GitSync

    root = (folder or _root()).resolve()
    GitSync.open(root, research_repo=git_toplevel(Path.cwd()))
    click.echo(f"lab notebook ready at {root}")
    if folder is not None and root != _root():
        # A TOML basic string takes JSON's escapes; the snippet pastes as it is.
        path = json.dumps(str(root), ensure_ascii=False)
        click.echo(f"to record there, add to workbench.toml:\n\n[labbook]\npath = {path}")
