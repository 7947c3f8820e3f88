"""Earlier comparisons from the lab notebook, newest first, brought back whole into the panel.

`earlier_comparisons` groups the recent call records into the comparisons that made them;
`recall` rebuilds one (its requests with their files through `workbench.recorded`, each
answer with its figures from its record) with the decisions that stand on it. Nothing is
sent: the answers are the recorded ones.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.providers.base import Reply, ReplyError, Usage
from workbench.render import clip

if TYPE_CHECKING:
    from workbench.comparison import Comparison
    from workbench.config import Config
    from workbench.sessions import Session

LIMIT = 50
LOOK_BACK = 2000
"""How many recent records are searched (the newest session files first)."""


@dataclass(frozen=True)
class Earlier:
    """One comparison made before: its prompt, the models, when, and its call records."""

    prompt: str
    system: str | None
    models: tuple[str, ...]
    ts: str
    ids: tuple[str, ...] = ()
    """The call records, in model then sample order."""
    turns: int = 1
    """How many user turns the conversation had (2 and more: a follow-up)."""

    @property
    def label(self) -> str:
        """A one-line name for a picker."""
        when = self.ts[:16].replace("T", " ")
        turn = f" · turn {self.turns}" if self.turns > 1 else ""
        return f"{when} · {', '.join(self.models)}{turn} · {clip(self.prompt, 60)}"


def earlier_comparisons(
    root: Path, config: Config | None = None, limit: int = LIMIT
) -> list[Earlier]:
    """The latest `limit` comparisons recorded under `root`, newest first.

    One comparison is the calls of one session that asked the same thing (the same
    messages), until a model and sample repeat (the same prompt run again). A system
    prompt that an alias adds on its own (as `terse` does) is not the user's: with `config`,
    such calls count as sent without one, so rerunning them does not pin it.
    """
    from workbench.labbook import book

    if not root.is_dir():
        return []
    calls = book.recent(root, LOOK_BACK, keep=lambda r: r.get("kind") == "call")
    groups: list[list[dict[str, Any]]] = []
    open_: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for record in calls:
        messages = (record.get("prompt") or {}).get("messages") or []
        key = (str(record.get("session")), json.dumps(messages, sort_keys=True))
        group = open_.get(key)
        if group is None or any(_answer(r) == _answer(record) for r in group):
            group = open_[key] = []
            groups.append(group)
        group.append(record)
    return [_earlier(g, config) for g in reversed(groups) if _asked(g)][:limit]


def _answer(record: dict[str, Any]) -> tuple[str, int]:
    return str(record.get("model")), int((record.get("prompt") or {}).get("sample") or 0)


def _asked(group: list[dict[str, Any]]) -> bool:
    messages = (group[0].get("prompt") or {}).get("messages") or []
    return any(m.get("role") == "user" for m in messages)


def _earlier(group: list[dict[str, Any]], config: Config | None) -> Earlier:
    messages = (group[0].get("prompt") or {}).get("messages") or []
    users = [m for m in messages if m.get("role") == "user"]
    models = tuple(dict.fromkeys(str(r["model"]) for r in group))
    ordered = sorted(group, key=lambda r: (models.index(str(r["model"])), _answer(r)[1]))
    system = next((m["content"] for m in messages[:1] if m.get("role") == "system"), None)
    if (
        system is not None
        and config is not None
        and all(_alias_system(m, config) == system for m in models)
    ):
        system = None
    return Earlier(
        str(users[-1].get("content") or ""),
        system or None,
        models,
        max(str(r["ts"]) for r in group),
        tuple(str(r["id"]) for r in ordered),
        len(users),
    )


def _alias_system(model: str, config: Config) -> str:
    from workbench.errors import ConfigError
    from workbench.providers.registry import resolve

    try:
        return resolve(model, config).system or ""
    except ConfigError:
        return ""


# -- bringing one back -------------------------------------------------------------------------


@dataclass(frozen=True)
class Recalled:
    """An earlier comparison as recorded: answers with figures, and the decisions on it."""

    earlier: Earlier
    comparison: Comparison
    decisions: tuple[dict[str, Any], ...]
    """Decision records on its answers, oldest first (the `Ballot` keeps those that stand)."""


def recall(session: Session, earlier: Earlier) -> Recalled:
    """Rebuild an earlier comparison from the lab notebook; nothing is sent."""
    from workbench.labbook import book
    from workbench.recorded import recorded_comparison

    comparison = recorded_comparison(session, earlier.ids)
    assert session.labbook is not None  # recorded_comparison refused a session without one
    wanted = set(earlier.ids)
    kinds = ("call", "decision")
    found = book.recent(session.labbook.root, LOOK_BACK, keep=lambda r: r.get("kind") in kinds)
    calls = {str(r["id"]): r for r in found if r["kind"] == "call" and r["id"] in wanted}
    replies = tuple(
        full_reply(calls[str(rid)], reply) if rid in calls else reply
        for rid, reply in zip(comparison.record_ids, comparison.replies, strict=True)
    )
    decisions = tuple(
        r for r in found if r["kind"] == "decision" and r.get("links") and set(r["links"]) <= wanted
    )
    return Recalled(earlier, replace(comparison, replies=replies), decisions)


def full_reply(record: dict[str, Any], reply: Reply) -> Reply:
    """`reply` with every figure its call record holds (usage, cost, times, thinking...)."""
    said = record.get("reply") or {}
    error = said.get("error")
    started = said.get("started_at")
    return replace(
        reply,
        usage=Usage.from_dict(said.get("usage")),
        cost_usd=said.get("cost_usd"),
        price_source=said.get("price_source"),
        latency_s=said.get("latency_s"),
        first_token_s=said.get("first_token_s"),
        finish_reason=said.get("finish_reason"),
        model_version=said.get("model_version"),
        error=None
        if error is None
        else ReplyError(error["type"], error["message"], error.get("status")),
        attempts=int(said.get("attempts") or 0),
        started_at=datetime.fromisoformat(started) if started else None,
        queued_s=said.get("queued_s"),
        wall_s=said.get("wall_s"),
        data=said.get("data"),
        thinking=said.get("thinking"),
    )


class HistoryView:
    """A picker of earlier comparisons and a button that brings the chosen one back."""

    def __init__(
        self,
        root: Callable[[], Path | None],
        load: Callable[[Earlier], None],
        config: Config | None = None,
    ) -> None:
        import ipywidgets as w

        self._root = root
        self._config = config
        self._load = load
        self.items: list[Earlier] = []
        self.picker = w.Dropdown(description="earlier", options=[])
        self.picker.add_class("wb-history")
        self.button = w.Button(
            description="show", tooltip="bring back its answers (nothing is sent)"
        )
        self.button.add_class("wb-load")
        self.button.on_click(lambda _b: self.load_chosen())
        self.refresh_button = w.Button(description="refresh", tooltip="read the lab notebook again")
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.box: Any = w.HBox([self.picker, self.button, self.refresh_button])
        self.box.add_class("wb-history-box")

    def refresh(self) -> None:
        """Read the lab notebook again."""
        root = self._root()
        self.items = earlier_comparisons(root, self._config) if root is not None else []
        self.picker.options = [(item.label, i) for i, item in enumerate(self.items)]
        self.button.disabled = not self.items

    def load_chosen(self) -> Earlier | None:
        """Bring the chosen comparison back into the panel (and return it)."""
        index: int | None = self.picker.value
        if index is None or index >= len(self.items):
            return None
        item = self.items[index]
        self._load(item)
        return item


def thread_html(messages: Sequence[Any], answer_html: Callable[[str], str]) -> str:
    """The turns before a follow-up's question, collapsed ("" for a first question)."""
    turns = [m for m in messages if m.role in ("user", "assistant")][:-1]
    if not turns:
        return ""
    said = "".join(
        f'<div class="wb-turn wb-turn-{m.role}"><b>{"you" if m.role == "user" else "answer"}'
        f"</b>{answer_html(m.content)}</div>"
        for m in turns
    )
    count = sum(1 for m in turns if m.role == "user")
    return (
        f'<details class="wb-thread"><summary>conversation so far: {count} earlier '
        f"turn{'s' if count != 1 else ''}</summary>{said}</details>"
    )
