"""Shared set-up for the audit tests: config files the kernel reads, exercises, scripted servers."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.wire.harness import Request, Step

MODELS = {"gpt": "openai:gpt-test", "claude": "anthropic:claude-test", "gem": "gemini:gemini-test"}
SERVER_OF = {"gpt": "openai", "claude": "anthropic", "gem": "gemini"}


def write_wire_config(folder: Path, servers: Mapping[str, Any], **run: Any) -> Path:
    """A workbench.toml (read by the papermill kernel too) pointing at the wire servers."""
    lines = ["[run]", "backoff_s = 0.01", "backoff_max_s = 0.05", "retries = 1"]
    lines += [f"{k} = {v!r}" for k, v in run.items()]
    lines += ["[labbook]", "commit_every_s = 0.5", "[aliases]"]
    lines += [f'{alias} = "{target}"' for alias, target in MODELS.items()]
    for provider, server in servers.items():
        lines += [f"[providers.{provider}]", f'base_url = "{server.base_url}"']
    lines += ["[prices]"]
    lines += [f'"{t}" = {{ input = 1000.0, output = 1000.0 }}' for t in MODELS.values()]
    path = folder / "workbench.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def write(folder: Path, name: str, text: str) -> Path:
    """A file with dedented text."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


COUNTRY = re.compile(r"capital of (\w+)\?")


def script_answers(servers: Mapping[str, Any], answers: Mapping[str, Mapping[str, str]]) -> None:
    """Each server answers by the country in the prompt: answers[alias][country].

    An answer "!400" makes that server fail the call with HTTP 400.
    """
    for alias, provider in SERVER_OF.items():
        server = servers[provider]
        table = answers.get(alias, {})

        def script(request: Request, server: Any = server, table: Any = table) -> Step | None:
            match = COUNTRY.search(server.last_user_text(request))
            text = table.get(match.group(1)) if match else None
            if text is None:
                return None
            if text.startswith("!"):
                return Step(status=int(text[1:]))
            return Step(text=text)

        server.script = script


def prompts_sent(server: Any) -> list[tuple[str, str]]:
    """(model, last user text) of every completion request a server received."""
    return [
        (server.model_of(r), server.last_user_text(r))
        for r in server.requests
        if r.method == "POST"
    ]


def said(output: str) -> list[str]:
    """The lines of a command's output that are not one-line notices ("workbench: ...")."""
    return [line for line in output.splitlines() if not line.startswith("workbench: ")]
