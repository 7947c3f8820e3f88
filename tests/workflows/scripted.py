"""A scripted provider for workflow tests: a real `Model`, answering from a script.

It fakes the boundary (a provider), not the project's code: the session, the runner, the lab
notebook, git and the workflow code are the real ones. Every prompt it receives is kept, so
tests count what was paid for; an answer starting with "!" fails the call (BadRequest).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from workbench.errors import BadRequest
from workbench.providers import registry
from workbench.providers.base import Completion, Model, Prompt, TextSink, Usage

Answer = Callable[[str, Prompt], str]


def default_answer(model: str, prompt: Prompt) -> str:
    """Says who answered, with which seed, to what (a digest of the text)."""
    digest = hashlib.sha256(prompt.text.encode()).hexdigest()[:8]
    return f"{model} answers {digest} (seed {prompt.params.seed})"


@dataclass
class Script:
    """What the models answer, and every prompt they received, in order."""

    answer: Answer = default_answer
    received: list[tuple[str, Prompt]] = field(default_factory=list)

    def calls(self, model: str | None = None) -> list[Prompt]:
        """The prompts received (by one model, by its id)."""
        return [p for m, p in self.received if model is None or m == model]


class ScriptedModel(Model):
    """Answers from the current script."""

    provider = "scripted"
    structured = True
    script: ClassVar[Script] = Script()

    async def complete(
        self,
        prompt: Prompt,
        on_text: TextSink | None = None,
        on_thinking: TextSink | None = None,
    ) -> Completion:
        """The script's answer (a "!..." answer fails the call)."""
        self.script.received.append((self.model_id, prompt))
        text = self.script.answer(self.model_id, prompt)
        if text.startswith("!"):
            raise BadRequest(f"scripted failure: {text[1:]}", status=400)
        if on_text is not None:
            on_text(text)
        return Completion(text, Usage(len(prompt.text) // 4 + 1, len(text) // 4 + 1), "stop")


CONFIG = """
[labbook]
commit_every_s = 0.2
[providers.scripted]
type = "scripted"
[aliases]
gpt = "scripted:gpt"
claude = "scripted:claude"
gemini = "scripted:gemini"
[prices]
"scripted:gpt" = { input = 1.0, output = 1.0 }
"scripted:claude" = { input = 1.0, output = 1.0 }
"scripted:gemini" = { input = 1.0, output = 1.0 }
"""


def registered(folder: Path) -> Iterator[Script]:
    """Register the provider and write a workbench.toml naming it; unregister after."""
    (folder / "workbench.toml").write_text(CONFIG)
    script = Script()
    ScriptedModel.script = script
    registry.register("scripted", ScriptedModel)
    try:
        yield script
    finally:
        registry.unregister("scripted")
        ScriptedModel.script = Script()
