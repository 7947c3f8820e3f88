"""What the compat adapter sends by default, against llama-cpp-python's real server.

The server (llama-cpp-python 0.3.36, SmolLM2) takes a schema only in its own form,
`{"type": "json_object", "schema": ...}`, and answers 500 to OpenAI's json_schema form; its
chat template takes string `content` only (500 on a list of parts). So a compat provider
can be set to the server's form (`options = { schema_format = "json_object" }`), and text
files go in string content.
"""

from __future__ import annotations

import asyncio

import pytest
from pydantic import BaseModel

from tests.integration.test_llamacpp_server import server  # noqa: F401 - the fixture
from workbench.errors import ServerError
from workbench.providers.base import Completion, Prompt, ProviderSettings
from workbench.providers.compat import CompatModel
from workbench.providers.content import File

pytestmark = pytest.mark.local_model


class Sum(BaseModel):
    answer: int


def _call(base: str, prompt: Prompt, stream: bool = False, **options: str) -> Completion:
    settings = ProviderSettings("llamacpp", "compat", base, timeout_s=120, options=options)
    model = CompatModel("smollm2", settings)
    pieces: list[str] = []

    async def go() -> Completion:
        try:
            model.check(prompt)
            return await model.complete(prompt, pieces.append if stream else None)
        finally:
            await model.aclose()

    completion = asyncio.run(go())
    assert "".join(pieces) == (completion.text if stream else "")
    return completion


@pytest.mark.parametrize("stream", [False, True])
def test_the_servers_own_schema_form_holds_the_answer_to_the_schema(
    server: str,  # noqa: F811 - the imported fixture
    stream: bool,
) -> None:
    prompt = Prompt.of("What is 2+2?", schema=Sum, max_tokens=32, temperature=0)
    completion = _call(server, prompt, stream, schema_format="json_object")
    assert prompt.schema is not None
    value = prompt.schema.parse(completion.text)  # JSON that fits, held by the grammar
    assert isinstance(value, Sum), completion.text


def test_openais_form_is_refused_by_this_server_never_ignored(server: str) -> None:  # noqa: F811
    prompt = Prompt.of("What is 2+2?", schema=Sum, max_tokens=16, temperature=0)
    with pytest.raises(ServerError, match="json_object"):
        _call(server, prompt)


def test_a_text_file_goes_in_string_content_the_server_takes(server: str) -> None:  # noqa: F811
    notes = File.of(b"The meeting is on Tuesday.\n", "notes.txt")
    prompt = Prompt.of("Which day is the meeting?", files=[notes], max_tokens=24, temperature=0)
    completion = _call(server, prompt)
    assert completion.finish_reason in ("stop", "length") and completion.text


def test_an_effort_is_ignored_by_this_server_not_refused(server: str) -> None:  # noqa: F811
    prompt = Prompt.of("Say hi.", reasoning="low", max_tokens=8, temperature=0)
    completion = _call(server, prompt)
    assert completion.text and completion.thinking is None
    assert completion.usage.reasoning_tokens is None  # this server reports no details
