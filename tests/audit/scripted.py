"""A scripted provider for audit runs with files, schemas and reasoning: a real `Model`.

It fakes the boundary (a provider), not the project's code: the run, the Runner, the lab
notebook and the scorers are the real ones. Each model answers from a script by its own
name and the prompt's text, and records every prompt it received (files, schema, params
included). `scripted` reads images, PDFs and text, takes a schema and reasoning; `textonly`
reads text files only and takes neither, so it is refused (`Unsupported`) in its own answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from workbench.errors import BadRequest
from workbench.providers import registry
from workbench.providers.base import Completion, Model, Prompt, TextSink, Usage
from workbench.providers.content import FileKind

Answer = Callable[[str, Prompt], str]
"""(model id, prompt) -> the answer's text; "!400" makes the call fail with BadRequest."""


@dataclass
class Script:
    """What the scripted models answer, and every prompt they received, in order."""

    answer: Answer = lambda model, prompt: "ok"
    received: list[tuple[str, Prompt]] = field(default_factory=list)

    def prompts(self, model: str) -> list[Prompt]:
        """The prompts one model (its id) received."""
        return [p for m, p in self.received if m == model]


class ScriptedModel(Model):
    """Answers from the current script; reads every kind of file, takes schemas and reasoning."""

    provider = "scripted"
    file_kinds: ClassVar[frozenset[FileKind]] = frozenset({"image", "pdf", "text"})
    structured = True
    reasoning = True
    script: ClassVar[Script] = Script()

    async def complete(
        self,
        prompt: Prompt,
        on_text: TextSink | None = None,
        on_thinking: TextSink | None = None,
    ) -> Completion:
        """The script's answer to this prompt (or its scripted failure)."""
        self.script.received.append((self.model_id, prompt))
        text = self.script.answer(self.model_id, prompt)
        if text.startswith("!"):
            raise BadRequest(f"scripted failure {text[1:]}", status=int(text[1:]))
        if on_text is not None:
            on_text(text)
        usage = Usage(len(prompt.text) // 4 + 1, len(text) // 4 + 1)
        return Completion(text, usage, "stop", self.model_id)


class TextOnlyModel(ScriptedModel):
    """Reads text files only; takes no schema and no reasoning (like the local model today)."""

    provider = "textonly"
    file_kinds: ClassVar[frozenset[FileKind]] = frozenset({"text"})
    structured = False
    reasoning = False


CONFIG = """
[labbook]
commit_every_s = 0.5
[providers.scripted]
type = "scripted"
[providers.textonly]
type = "textonly"
[aliases]
a = "scripted:a"
b = "scripted:b"
plain = "textonly:plain"
deep = { model = "scripted:a", reasoning = "high" }
quick = { model = "scripted:a", reasoning = "low" }
"""


def registered(folder: Path) -> Iterator[Script]:
    """Register both provider types and write a workbench.toml naming them; unregister after."""
    (folder / "workbench.toml").write_text(CONFIG)
    script = Script()
    ScriptedModel.script = script
    registry.register("scripted", ScriptedModel)
    registry.register("textonly", TextOnlyModel)
    try:
        yield script
    finally:
        registry.unregister("scripted")
        registry.unregister("textonly")
        ScriptedModel.script = Script()
