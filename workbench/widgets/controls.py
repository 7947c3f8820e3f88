"""The panel's inputs: prompt, system prompt, model picker and parameters, read as one request."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from workbench.errors import InvalidPrompt
from workbench.magics import reasoning_value
from workbench.providers.base import REASONING_EFFORTS
from workbench.providers.content import File, files_of, sniff

if TYPE_CHECKING:
    from workbench.config import Config


def model_choices(config: Config, first: Sequence[str] = ()) -> list[tuple[str, str]]:
    """(label, name) for the picker: `first`, then aliases and their models; no key marked."""
    from workbench.providers import registry
    from workbench.providers.registry import resolve

    rows = {r["name"]: r for r in registry.describe(config)}
    names: list[str] = list(dict.fromkeys(first))
    for alias in sorted(config.aliases):
        names += [alias, resolve(alias, config).full_name]
    choices = []
    for name in dict.fromkeys(names):
        choices.append((_label(name, rows, config), name))
    return choices


def _label(name: str, rows: dict[str, dict[str, Any]], config: Config) -> str:
    from workbench.errors import ConfigError
    from workbench.providers.registry import resolve

    row = rows.get(name)
    if row is not None:
        text = f"{name} ({row['model']})"
        return text if row["status"] in ("ready", "not checked") else f"{text} — {row['status']}"
    try:
        spec = resolve(name, config)
    except ConfigError:
        return f"{name} — unknown"
    settings = config.providers.get(spec.provider)
    if settings is not None and settings.api_key_env and settings.api_key() is None:
        return f"{name} — no key: set {settings.api_key_env}"
    return name


def _number(text: str, name: str, kind: type[float] | type[int]) -> float | int | None:
    text = text.strip()
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        message = f"{name} must be {what} (or empty for the default), not {text!r}"
        raise InvalidPrompt(message) from None


class Controls:
    """Prompt box, optional system prompt, model picker, temperature, max tokens, samples."""

    def __init__(self, config: Config, models: Sequence[str], params: dict[str, Any]) -> None:
        import ipywidgets as w

        from workbench.widgets.picker import ModelPicker

        self.prompt = w.Textarea(placeholder="Ask several models at once…", rows=4)
        self.prompt.add_class("wb-prompt")
        self.system = w.Textarea(
            placeholder="system prompt (optional; it replaces an alias's own)", rows=2
        )
        self.system.add_class("wb-system")
        self.models = ModelPicker(model_choices(config, models), models)
        temperature, max_tokens = params.pop("temperature", None), params.pop("max_tokens", None)
        self.temperature = _optional_number("temperature", temperature)
        self.max_tokens = _optional_number("max tokens", max_tokens)
        self.samples = w.BoundedIntText(
            value=int(params.pop("samples", 1)),
            min=1,
            max=20,
            description="samples",
            style={"description_width": "7.5em"},
        )
        self.samples.add_class("wb-param")
        reasoning = params.pop("reasoning", None)
        self.reasoning = w.Combobox(
            value="" if reasoning is None else str(reasoning),
            options=list(REASONING_EFFORTS),
            placeholder="default",
            description="reasoning",
            ensure_option=False,
            style={"description_width": "7.5em"},
        )
        self.reasoning.add_class("wb-reasoning")
        self.reasoning.add_class("wb-param")
        self.attach = w.FileUpload(
            accept="image/*,application/pdf,text/*,.md,.csv,.json",
            multiple=True,
            description="attach files",
            layout=w.Layout(width="auto"),
        )
        self.attach.add_class("wb-attach")
        self.system.value = params.pop("system", None) or ""
        self.extra = params
        """Other parameters given to `wb.panel` (top_p, seed, stop, files, schema...), as given."""
        self.params_box: Any = w.VBox(
            [self.temperature, self.max_tokens, self.samples, self.reasoning, self.attach]
        )
        self.params_box.add_class("wb-params")

    def request(self) -> tuple[str, list[str], dict[str, Any]]:
        """The prompt, the chosen models and the options for `acompare`; bad input raises."""
        prompt = self.prompt.value
        if not prompt.strip():
            raise InvalidPrompt("the prompt is empty: type something to send")
        models = list(self.models.value)
        if not models:
            raise InvalidPrompt("no model chosen: click one or more in the list")
        options: dict[str, Any] = {**self.extra, "samples": int(self.samples.value)}
        temperature = _number(self.temperature.value, "temperature", float)
        max_tokens = _number(self.max_tokens.value, "max tokens", int)
        if temperature is not None:
            options["temperature"] = temperature
        if max_tokens is not None:
            options["max_tokens"] = max_tokens
        if self.system.value.strip():
            options["system"] = self.system.value
        if self.reasoning.value.strip():
            options["reasoning"] = reasoning_value(self.reasoning.value)
        attached = self.attached()
        if attached:
            options["files"] = [*files_of(options.get("files")), *attached]
        return prompt, models, options

    def attached(self) -> list[File]:
        """The files attached with the upload button, as Files (their type from their bytes)."""
        return [
            File.of(
                bytes(item["content"]),
                item["name"],
                sniff(bytes(item["content"]), item["name"]) or item.get("type") or None,
            )
            for item in self.attach.value
        ]

    def load(self, prompt: str, system: str | None, models: Sequence[str]) -> None:
        """Put an earlier prompt back (from the history) to rerun or to send elsewhere."""
        self.prompt.value = prompt
        self.system.value = system or ""
        if models:
            known = [name for _, name in self.models.options]
            missing = [m for m in models if m not in known]
            if missing:
                self.models.options = [*self.models.options, *((m, m) for m in missing)]
            self.models.value = tuple(models)

    def choose(self, models: Sequence[str]) -> None:
        """Select these models (adding any the picker does not list)."""
        self.load(self.prompt.value, self.system.value or None, models)


def _optional_number(description: str, value: float | None) -> Any:
    """A text box for a parameter that may be left empty (the model's default)."""
    import ipywidgets as w

    box = w.Text(
        value="" if value is None else str(value),
        placeholder="default",
        description=description,
        style={"description_width": "7.5em"},
    )
    box.add_class("wb-param")
    return box
