"""Export the lab notebook as a dated record: Markdown, one self-contained HTML file, JSONL or CSV.

Markdown and HTML read as a diary: a header summarising the period (dates, counts by kind,
models, total spend) and how to verify it, then every record in time order, grouped by day,
each with its time, author, model, prompt, answer, cost, hash and the git commit that first
held it; decisions and notes sit in the flow with the records they judged. A follow-up names
the turn it follows (a link to it) and each file sent links to its stored copy (relative
links into the lab notebook's `files/` folder). JSON Lines gives
the records verbatim, each session's together in chain order (so they re-verify: hashes and
`prev` links are untouched), CSV the tidy frame of `workbench.labbook.query.to_frame`.
`commit_index(load_records(files), git)` gives the `first_commits` mapping from the git layer.
"""

from __future__ import annotations

import html
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from workbench.errors import InvalidOption
from workbench.labbook.chain import dumps
from workbench.labbook.parse import gc_paused
from workbench.labbook.query import Choice, RecordList, to_frame
from workbench.labbook.store import Line
from workbench.labbook.verify import CommitHistory
from workbench.labbook.when import When
from workbench.render import clip

FORMATS = ("md", "html", "jsonl", "csv")
HOW_TO_VERIFY = (
    "Run `workbench log verify` where the lab notebook lives: it re-checks every session file "
    "and names the first record that was edited, removed, reordered or inserted.",
    "Each record's `hash` is the SHA-256 (hex) of the canonical JSON of the record without its "
    "`hash` field (keys sorted, no spaces, UTF-8), and its `prev` is the `hash` of the record "
    "before it in the same session file (none for the first), so the records form a chain: "
    "changing any line breaks it from that line on.",
    "The commit shown with each entry is the first git commit that held it; `git log` on the "
    "lab notebook repository shows when each was recorded.",
)


@dataclass
class Entry:
    """One record, ready to render: every value is display text (not yet escaped)."""

    day: str
    time: str
    kind: str
    title: str
    hash: str
    commit: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    blocks: list[tuple[str, str]] = field(default_factory=list)
    """(heading, multi-line text): prompt, answer, reason, note."""
    id: str = ""
    refs: list[tuple[str, str, str]] = field(default_factory=list)
    """(name, text, relative link): the turn a follow-up follows, the files sent."""


def export(
    records: Iterable[dict[str, Any] | Line],
    fmt: str,
    *,
    since: When | None = None,
    until: When | None = None,
    model: Choice | None = None,
    tag: Choice | None = None,
    first_commits: dict[str, tuple[str, str]] | None = None,
    files_href: str = "files",
) -> str:
    """The records (filtered as `to_frame` filters) as one document in `fmt` (see FORMATS).

    `files_href` is where the lab notebook's `files/` folder is, seen from the document
    (Markdown and HTML link each file sent to `<files_href>/ab/abcdef...`).
    """
    if fmt not in FORMATS:
        raise InvalidOption(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    items = records if isinstance(records, list) else list(records)
    frame = to_frame(items, since=since, until=until, model=model, tag=tag)
    if fmt == "jsonl":  # each session's records together, in chain order
        first_seen = pd.factorize(frame["session"])[0]
        order = np.lexsort((frame["seq"].to_numpy(dtype="int64", na_value=-1), first_seen))
        return "".join(dumps(_raw(items[i])).decode() for i in frame.index[order])
    if fmt == "csv":
        return _csv(frame)
    with gc_paused():  # an entry per record, none of them garbage: no collection needed
        entries = _entries(frame, _lookup(frame, items), first_commits or {}, files_href)
        head = _header(frame, since, until, model, tag)
        return _markdown(head, entries) if fmt == "md" else _html(head, entries)


def commit_index(records: RecordList, git: CommitHistory) -> dict[str, tuple[str, str]]:
    """Each record's hash -> the first commit (id, date) that held its line: for `export`."""
    held: dict[str, list[tuple[str, str]]] = {}
    out: dict[str, tuple[str, str]] = {}
    for record, path, number in zip(records, records.paths, records.numbers, strict=True):
        if path not in held:
            held[path] = git.first_commits(Path(path))
        if number <= len(held[path]):
            out[str(record.get("hash"))] = held[path][number - 1]
    return out


def _raw(item: dict[str, Any] | Line) -> dict[str, Any]:
    return item.record if isinstance(item, Line) else item


def _csv(frame: pd.DataFrame) -> str:
    def encode(values: pd.Series[Any]) -> list[str]:
        return ["" if v is None else json.dumps(v, ensure_ascii=False) for v in values]

    flat = frame.assign(params=encode(frame["params"]), links=encode(frame["links"]))
    flat = flat.assign(files=encode(frame["files"]), data=encode(frame["data"]))
    return str(flat.assign(tags=encode(frame["tags"])).to_csv(index=False))


def _lookup(frame: pd.DataFrame, items: Sequence[dict[str, Any] | Line]) -> dict[str, str]:
    """A short description of every record a decision or note is about, or a call follows."""
    wanted = {i for links in frame["links"] for i in links}
    wanted |= {p for p in frame["parent"].dropna()}
    found: dict[str, str] = {}
    for record in (_raw(item) for item in items) if wanted else ():
        if record.get("id") in wanted:
            prompt = (record.get("prompt") or {}).get("messages") or [{}]
            gist = f"{record.get('model')}: {clip(str(prompt[-1].get('content', '')), 60)}"
            found[record["id"]] = gist if record.get("kind") == "call" else str(record.get("kind"))
    return found


def _header(
    frame: pd.DataFrame, since: Any, until: Any, model: Any, tag: Any
) -> list[tuple[str, str]]:
    ts = frame["ts"]
    first = str(since) if since is not None else (_stamp(ts.min()) if len(ts) else "-")
    last = str(until) if until is not None else (_stamp(ts.max()) if len(ts) else "-")
    counts = frame["kind"].value_counts(sort=False)
    kinds = ", ".join(f"{n} {k}{'s' * (n != 1)}" for k, n in counts.items() if n)
    calls = frame[frame["kind"] == "call"]
    used = Counter(zip(calls["model"].astype(str), calls["resolved"].astype(str), strict=True))
    models = ", ".join(f"{m} ({r}) × {n}" for (m, r), n in sorted(used.items())) or "none"
    unpriced = int(calls["cost_usd"].isna().sum())
    spend = f"${float(calls['cost_usd'].sum()):.4f}" + (
        f" ({unpriced} call{'s' * (unpriced != 1)} without a known price)" if unpriced else ""
    )
    head = [("From", first), ("To", last), ("Records", f"{len(frame)} ({kinds or 'none'})")]
    head += [("Models", models), ("Total spend", spend)]
    for name, value in (("Model", model), ("Tag", tag)):
        if value is not None:
            head.append((f"{name} filter", value if isinstance(value, str) else ", ".join(value)))
    return head


def _entries(
    frame: pd.DataFrame,
    about: dict[str, str],
    commits: dict[str, tuple[str, str]],
    files_href: str,
) -> list[Entry]:
    entries = []
    shown = set(frame["id"])
    times = frame["ts"].dt.strftime("%H:%M:%S UTC").tolist()  # NaN: a time not readable
    for r, at in zip(_rows(frame.drop(columns="ts")), times, strict=True):
        commit = commits.get(r["hash"])
        entry = Entry(
            day=_text(r["day"]) or "date unknown",
            time=at if isinstance(at, str) else "time unknown",
            kind=str(r["kind"]),
            title=str(r["kind"]),
            hash=str(r["hash"]),
            commit=f"{commit[0]} ({commit[1]})" if commit else "not yet committed",
            id=str(r["id"]),
            facts=[
                ("Author", _text(r["author"])),
                ("Record", f"{r['id']} (session {r['session']})"),
            ],
        )
        kind = entry.kind
        if kind == "call":
            entry.title = f"{_text(r['model'])} ({_text(r['resolved'])})"
            tokens = f"{_text(r['input_tokens'])} in, {_text(r['output_tokens'])} out"
            cost = "unknown" if pd.isna(r["cost_usd"]) else f"${r['cost_usd']:.4f}"
            entry.facts += [("Cost", f"{cost} ({tokens} tokens)")]
            entry.refs += _call_refs(r, about, shown, files_href)
            if _text(r["system"]):
                entry.blocks.append(("System", r["system"]))
            entry.blocks.append(("Prompt", _text(r["prompt"])))
            if _text(r["thinking"]):
                entry.blocks.append(("Thinking", r["thinking"]))
            if r["ok"] is True:
                entry.blocks.append(("Answer", _text(r["text"])))
                if r["data"] is not None:
                    value = json.dumps(r["data"], indent=2, ensure_ascii=False)
                    entry.blocks.append(("Data", value))
            else:
                entry.blocks.append(("Error", f"{_text(r['error_type'])}: {_text(r['error'])}"))
        elif kind == "decision":
            entry.title = f"decision: {_text(r['verdict'])}"
        elif kind == "session":
            entry.title = f"session {r['session']} started"
            entry.facts.append(("Source", _text(r["source"])))
        elif kind in ("pause", "resume"):
            entry.title = "recording paused" if kind == "pause" else "recording resumed"
        for linked in r["links"]:
            star = " (chosen)" if linked == r["choice"] else ""
            entry.facts.append(
                ("About", f"{linked}{star}: {about.get(linked, 'not among these records')}")
            )
        if r["tags"]:
            entry.facts.append(("Tags", ", ".join(r["tags"])))
        for name, key in (("Reason", "reason"), ("Note", "note")):
            if _text(r[key]):
                entry.blocks.append((name, r[key]))
        entries.append(entry)
    return entries


class _Row:
    """One row of the frame: `row[column]`, from columns converted to lists once each."""

    __slots__ = ("_at", "_columns")

    def __init__(self, columns: dict[str, list[Any]], at: int) -> None:
        self._columns, self._at = columns, at

    def __getitem__(self, name: str) -> Any:
        return self._columns[name][self._at]


def _rows(frame: pd.DataFrame) -> list[_Row]:
    """The frame's rows, with the values `to_dict("records")` gives, made a column at a time.

    pandas' `to_dict` goes cell by cell (12 s for 290k records), and a dict of every column per
    row cost 3 s: a row here is a position in lists made once per column.
    """
    columns = {name: frame[name].tolist() for name in frame.columns}
    return [_Row(columns, at) for at in range(len(frame))]


def _call_refs(
    r: _Row, about: dict[str, str], shown: set[str], files_href: str
) -> list[tuple[str, str, str]]:
    """A call's links: the turn it follows (when exported too), then each file sent."""
    refs = []
    parent = r["parent"]
    if _text(parent):
        gist = about.get(parent, "not among these records")
        refs.append(("Follows", f"{parent}: {gist}", f"#{parent}" if parent in shown else ""))
    for f in r["files"]:
        sha = str(f.get("sha256", ""))
        size = f.get("size")
        facts = [str(f.get("media_type", "")), f"{size:,} bytes" if isinstance(size, int) else ""]
        text = f"{f.get('name')} ({', '.join(x for x in facts if x)}; sha256 {sha[:12]})"
        stored = f.get("stored", True) is not False and len(sha) == 64 and sha.isalnum()
        refs.append(("File", text, f"{files_href}/{sha[:2]}/{sha}" if stored else ""))
    return refs


def _stamp(ts: pd.Timestamp) -> str:
    return "unknown" if pd.isna(ts) else ts.strftime("%Y-%m-%d %H:%M:%S UTC")


def _text(value: Any) -> str:
    """Display text for a cell: missing values are empty."""
    if type(value) is str:  # most cells: no pandas call
        return value
    return (
        ""
        if value is None or (not isinstance(value, list | dict) and pd.isna(value))
        else str(value)
    )


# -- Markdown ----------------------------------------------------------------------------------


def _markdown(head: list[tuple[str, str]], entries: list[Entry]) -> str:
    out = [f"# Lab notebook: {_md(head[0][1])} to {_md(head[1][1])}", ""]
    out += [f"- **{name}:** {_md(value)}" for name, value in head]
    out += ["", "## How to verify", ""]
    out += [f"{paragraph}\n" for paragraph in HOW_TO_VERIFY]
    linked = {href[1:] for e in entries for _, _, href in e.refs if href.startswith("#")}
    day = None
    for e in entries:
        if e.day != day:
            day = e.day
            out += [f"## {day}", ""]
        out += [f'<a id="{e.id}"></a>', ""] if e.id in linked else []  # ids: [0-9A-Z]
        out += [f"### {e.time} · {_md(e.kind)} · {_md(e.title)}", ""]
        out += [f"- **{name}:** {_md(value)}" for name, value in e.facts]
        out += [f"- **{name}:** {_md_link(text, href)}" for name, text, href in e.refs]
        out += [f"- **Hash:** `{e.hash}`", f"- **Commit:** {_md(e.commit)}", ""]
        for name, text in e.blocks:
            ticks = _TICKS.findall(text) if "`" in text else ()
            fence = "`" * max(3, max(map(len, ticks), default=0) + 1)
            out += [f"**{name}**", "", f"{fence}text", text, fence, ""]
    return "\n".join(out)


def _md_link(text: str, href: str) -> str:
    """Escaped text, as a link when there is somewhere to go (`<...>`: any path is taken)."""
    return f"[{_md(text)}](<{href}>)" if href else _md(text)


def _md(text: str) -> str:
    """Inline text with Markdown's special characters escaped, on one line."""
    return _SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")
_TICKS = re.compile(r"`+")


# -- HTML ------------------------------------------------------------------------------------


_CSS = """
body { font: 15px/1.45 Georgia, serif; color: #111; max-width: 52rem; margin: 2rem auto; }
h1 { font-size: 1.6rem; } h2 { border-bottom: 2px solid #333; margin-top: 2rem; }
h3 { font-size: 1rem; margin: 0 0 .3rem; } h4 { font-size: .85rem; margin: .6rem 0 .2rem; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .1rem .8rem; margin: .3rem 0; }
dt { font-weight: bold; } dd { margin: 0; overflow-wrap: anywhere; }
code, pre { font: 12.5px/1.4 Menlo, Consolas, monospace; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f5f5f2; padding: .5rem; }
.entry { border-top: 1px solid #ccc; padding: .7rem 0; }
.entry, pre { break-inside: avoid; page-break-inside: avoid; }
.kind { text-transform: uppercase; font-size: .75rem; letter-spacing: .05em; color: #555; }
.verify p { margin: .3rem 0; }
@media print {
  body { margin: 0; max-width: none; font-size: 11pt; }
  .day { break-before: page; page-break-before: always; }
  h2, h3 { break-after: avoid; page-break-after: avoid; }
  pre { background: none; border-left: 2px solid #999; }
}
"""


def _html(head: list[tuple[str, str]], entries: list[Entry]) -> str:
    e = html.escape
    title = f"Lab notebook: {head[0][1]} to {head[1][1]}"
    out = [
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">',
        f"<title>{e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>",
        f"<header>\n<h1>{e(title)}</h1>\n{_dl(_unlinked(head))}",
        '<section class="verify">\n<h2>How to verify</h2>',
        *(f"<p>{_code(p)}</p>" for p in HOW_TO_VERIFY),
        "</section>\n</header>",
    ]
    day = None
    for entry in entries:
        if entry.day != day:
            out.append("</section>" if day is not None else "")
            day = entry.day
            out.append(f'<section class="day">\n<h2>{e(day)}</h2>')
        facts = [*_unlinked(entry.facts), *entry.refs]
        facts += _unlinked([("Hash", entry.hash), ("Commit", entry.commit)])
        anchor = f' id="{e(entry.id)}"' if entry.id else ""
        out += [
            f'<article{anchor} class="entry {e(entry.kind)}">',
            f'<h3><time>{e(entry.time)}</time> <span class="kind">{e(entry.kind)}</span> '
            f"{e(entry.title)}</h3>",
            _dl(facts),
            *(f"<h4>{e(name)}</h4>\n<pre>{e(text)}</pre>" for name, text in entry.blocks),
            "</article>",
        ]
    out.append("</section>\n</body>\n</html>\n" if day is not None else "</body>\n</html>\n")
    return "\n".join(line for line in out if line)


def _unlinked(pairs: list[tuple[str, str]]) -> list[tuple[str, str, str]]:
    return [(name, text, "") for name, text in pairs]


def _dl(rows: list[tuple[str, str, str]]) -> str:
    """(name, text, link) rows as a definition list; the text a link where there is one."""
    e = html.escape
    cells = "".join(
        f'<dt>{e(k)}</dt><dd><a href="{e(href)}">{e(v)}</a></dd>' if href else
        f"<dt>{e(k)}</dt><dd>{e(v)}</dd>"
        for k, v, href in rows
    )  # fmt: skip
    return f"<dl>{cells}</dl>"


def _code(text: str) -> str:
    """Escaped text with `backticked` spans as <code>."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))
