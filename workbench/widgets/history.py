"""Earlier prompts from the lab notebook, newest first, to load back into the panel."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.render import clip

if TYPE_CHECKING:
    from workbench.config import Config

LIMIT = 50
FILES = 40
"""Only the newest session files are read, so a years-long lab notebook opens fast."""


@dataclass(frozen=True)
class Earlier:
    """One prompt sent before: its text, system prompt, the models it went to, and when."""

    prompt: str
    system: str | None
    models: tuple[str, ...]
    ts: str

    @property
    def label(self) -> str:
        """A one-line name for a picker."""
        when = self.ts[:16].replace("T", " ")
        return f"{when} · {', '.join(self.models)} · {clip(self.prompt, 60)}"


def earlier_prompts(root: Path, config: Config | None = None, limit: int = LIMIT) -> list[Earlier]:
    """The latest `limit` distinct prompts recorded under `root`, newest first.

    A system prompt that an alias adds on its own (as `terse` does) is not the user's: with
    `config`, such calls count as sent without one, so loading them back does not pin it.
    """
    from workbench.labbook.book import files
    from workbench.labbook.query import read_frame

    paths = files(root)[-FILES:] if root.is_dir() else []
    if not paths:
        return []
    calls = read_frame(paths, kind="call")
    calls = calls[calls["prompt"].notna()]
    if calls.empty:
        return []
    calls = calls.assign(system=calls["system"].fillna(""), model=calls["model"].astype(str))
    if config is not None:
        own = {m: _alias_system(m, config) for m in calls["model"].unique()}
        calls = calls.assign(
            system=[
                "" if s == own[m] else s
                for s, m in zip(calls["system"], calls["model"], strict=True)
            ]
        )
    out = []
    newest_first = calls.sort_values("ts", ascending=False)
    for (prompt, system), group in newest_first.groupby(["prompt", "system"], sort=False):
        models = tuple(dict.fromkeys(group.sort_values("ts")["model"]))
        ts = group["ts"].max()
        out.append(Earlier(str(prompt), str(system) or None, models, ts.isoformat()))
        if len(out) == limit:
            break
    return out


def _alias_system(model: str, config: Config) -> str:
    from workbench.errors import ConfigError
    from workbench.providers.registry import resolve

    try:
        return resolve(model, config).system or ""
    except ConfigError:
        return ""


class HistoryView:
    """A picker of earlier prompts and a button that loads the chosen one into the panel."""

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
        self.picker = w.Dropdown(description="history", options=[], layout=w.Layout(width="100%"))
        self.picker.add_class("wb-history")
        self.button = w.Button(description="load", tooltip="put this prompt back in the box")
        self.button.add_class("wb-load")
        self.button.on_click(lambda _b: self.load_chosen())
        self.refresh_button = w.Button(description="refresh", tooltip="read the lab notebook again")
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.box: Any = w.HBox(
            [self.picker, self.button, self.refresh_button], layout=w.Layout(width="100%")
        )

    def refresh(self) -> None:
        """Read the lab notebook again."""
        root = self._root()
        self.items = earlier_prompts(root, self._config) if root is not None else []
        self.picker.options = [(item.label, i) for i, item in enumerate(self.items)]
        self.button.disabled = not self.items

    def load_chosen(self) -> Earlier | None:
        """Load the chosen prompt into the panel (and return it)."""
        index: int | None = self.picker.value
        if index is None or index >= len(self.items):
            return None
        item = self.items[index]
        self._load(item)
        return item
