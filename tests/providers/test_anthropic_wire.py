"""Issue 9 through the real SDK against the local Messages API server: what is sent and read."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from pydantic import BaseModel

from tests.conftest import wire_config
from tests.wire.anthropic_server import SIGNATURE, AnthropicServer
from workbench.providers.anthropic import AnthropicModel
from workbench.providers.anthropic_request import DEFAULT_MAX_TOKENS, EFFORT_BUDGETS
from workbench.providers.base import Completion, Prompt, ProviderSettings
from workbench.providers.content import File
from workbench.sessions import Session

KEY_ENV = "ANTHROPIC_API_KEY"
PNG = File.of(b"\x89PNG\r\n\x1a\n" + b"\x01" * 64, "dot.png")
PDF = File.of(b"%PDF-1.7\n1 0 obj << >> endobj\n%%EOF\n", "paper.pdf")
NOTES = File.of(b"Three findings, all replicated.\n", "notes.md")
EPHEMERAL = {"type": "ephemeral"}


class City(BaseModel):
    name: str
    population: int


@pytest.fixture(scope="module")
def shared_server() -> Iterator[AnthropicServer]:
    with AnthropicServer() as srv:
        yield srv


@pytest.fixture
def server(shared_server: AnthropicServer, monkeypatch: pytest.MonkeyPatch) -> AnthropicServer:
    shared_server.reset()
    monkeypatch.setenv(KEY_ENV, shared_server.api_key)
    return shared_server


class Call:
    """One call through the adapter, with what was streamed to each sink."""

    def __init__(self, server: AnthropicServer, model_id: str = "claude-opus-4-6") -> None:
        settings = ProviderSettings(
            name="anthropic",
            type="anthropic",
            base_url=server.base_url,
            api_key_env=KEY_ENV,
            timeout_s=5.0,
        )
        self.model = AnthropicModel(model_id, settings)
        self.texts: list[str] = []
        self.thoughts: list[str] = []

    def __call__(self, prompt: Prompt, stream: bool) -> Completion:
        async def go() -> Completion:
            try:
                sinks = (self.texts.append, self.thoughts.append) if stream else (None, None)
                return await asyncio.wait_for(self.model.complete(prompt, *sinks), 10)
            finally:
                await self.model.aclose()

        return asyncio.run(go())


STREAMED = pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])


@STREAMED
def test_files_reach_the_api_as_blocks_it_takes(server: AnthropicServer, stream: bool) -> None:
    completion = Call(server)(Prompt.of("Describe them.", files=[PNG, PDF, NOTES]), stream)
    assert completion.text == "echo: Describe them." and completion.finish_reason == "stop"
    [request] = server.requests
    image, pdf, notes, text = request.body["messages"][0]["content"]
    assert image["type"] == "image" and image["source"]["media_type"] == "image/png"
    assert base64.b64decode(image["source"]["data"]) == PNG.data
    assert pdf["type"] == "document" and pdf["title"] == "paper.pdf"
    assert base64.b64decode(pdf["source"]["data"]) == PDF.data
    assert notes["source"] == {"type": "text", "media_type": "text/plain", "data": NOTES.text()}
    assert text == {"type": "text", "text": "Describe them."}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"messages": [{"role": "user", "content": [{"type": "image", "source": {
            "type": "base64", "media_type": "image/png", "data": "not base64!"}}]}]},
         "not valid base64"),
        ({"thinking": {"type": "enabled", "budget_tokens": 2000}}, "greater than `thinking"),
        ({"thinking": {"type": "enabled", "budget_tokens": 500}}, "greater than or equal to 1024"),
        ({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""},
                       {"role": "user", "content": "again"}]}, "non-empty content"),
    ],
)  # fmt: skip
def test_the_server_refuses_what_the_api_refuses(
    server: AnthropicServer, change: dict[str, Any], message: str
) -> None:
    """So the tests above and below would fail if the adapter sent any of these."""
    body: dict[str, Any] = {"model": "claude-x", "max_tokens": 1000}
    body["messages"] = [{"role": "user", "content": "hi"}]

    async def go() -> None:
        async with anthropic.AsyncAnthropic(
            api_key=server.api_key, base_url=server.base_url, max_retries=0
        ) as client:
            await client.messages.create(**{**body, **change})

    with pytest.raises(anthropic.BadRequestError, match=message):
        asyncio.run(go())


@STREAMED
def test_a_schema_is_answered_as_json_that_streams_as_it_forms(
    server: AnthropicServer, stream: bool
) -> None:
    call = Call(server)
    prompt = Prompt.of("The largest city?", schema=City)
    completion = call(prompt, stream)
    assert json.loads(completion.text) == {"name": "text", "population": 1}
    assert prompt.schema is not None
    assert prompt.schema.parse(completion.text, completion.data) == City(name="text", population=1)
    if stream:
        assert len(call.texts) > 1 and "".join(call.texts) == completion.text
    body = server.requests[0].body
    schema = body["output_config"]["format"]["schema"]
    assert body["output_config"]["format"]["type"] == "json_schema"
    assert schema["additionalProperties"] is False and schema["required"] == ["name", "population"]
    assert "tools" not in body and "tool_choice" not in body


@STREAMED
def test_adaptive_thinking_streams_apart_from_the_text(
    server: AnthropicServer, stream: bool
) -> None:
    call = Call(server, "claude-opus-4-6")
    completion = call(Prompt.of("Why is the sky blue?", reasoning="low"), stream)
    body = server.requests[0].body
    assert body["thinking"] == {"type": "adaptive", "display": "summarized"}
    assert body["output_config"] == {"effort": "low"}
    assert body["max_tokens"] == EFFORT_BUDGETS["low"] + DEFAULT_MAX_TOKENS
    assert "temperature" not in body
    assert completion.text == "echo: Why is the sky blue?"
    assert completion.thinking == server.thinking_text
    if stream:
        assert "".join(call.thoughts) == server.thinking_text and len(call.thoughts) > 1
        assert SIGNATURE not in "".join(call.thoughts) + completion.text
        assert "".join(call.texts) == completion.text
    thought = len(server.thinking_text.split())
    assert completion.usage.reasoning_tokens == thought
    assert completion.usage.output_tokens == len(completion.text.split()) + thought


@STREAMED
def test_a_budget_goes_below_a_raised_max_tokens(server: AnthropicServer, stream: bool) -> None:
    # Sent as asked (2000 >= 10), the server would refuse it as the API does.
    prompt = Prompt.of("Think first.", reasoning=2000, max_tokens=10)
    completion = Call(server, "claude-haiku-4-5")(prompt, stream)
    body = server.requests[0].body
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2000}
    assert body["max_tokens"] == 2010 and "output_config" not in body
    assert completion.thinking == server.thinking_text


def test_thinking_tokens_not_reported_are_unknown(server: AnthropicServer) -> None:
    server.report_thinking_tokens = False
    completion = Call(server)(Prompt.of("Why?", reasoning="medium"), stream=True)
    assert completion.thinking == server.thinking_text
    assert completion.usage.reasoning_tokens is None and completion.usage.output_tokens


@STREAMED
def test_cache_writes_then_reads_the_system_prompt_and_files(
    server: AnthropicServer, stream: bool
) -> None:
    prompt = Prompt.of("Summarise.", system="You review papers.", files=[PDF, NOTES], cache=True)
    first = Call(server)(prompt, stream)
    second = Call(server)(prompt.followed_by(first.text, "Shorter."), stream)
    body = server.requests[0].body
    assert body["system"] == [
        {"type": "text", "text": "You review papers.", "cache_control": EPHEMERAL}
    ]
    pdf, notes, _ = body["messages"][0]["content"]
    assert notes["cache_control"] == EPHEMERAL and "cache_control" not in pdf
    written = first.usage.cache_write_tokens
    assert written and first.usage.cached_input_tokens == 0
    assert second.usage.cached_input_tokens == written and second.usage.cache_write_tokens == 0
    # input_tokens is every input token: the API's own figure plus the cache's share.
    assert first.usage.input_tokens is not None and first.usage.input_tokens > written


def test_without_cache_nothing_is_marked_and_nothing_is_cached(server: AnthropicServer) -> None:
    prompt = Prompt.of("Summarise.", system="You review papers.", files=[PDF])
    for _ in range(2):
        completion = Call(server)(prompt, stream=True)
        assert completion.usage.cached_input_tokens == completion.usage.cache_write_tokens == 0
    assert "cache_control" not in json.dumps(server.requests[-1].body)


@STREAMED
def test_a_follow_up_goes_as_alternating_turns(server: AnthropicServer, stream: bool) -> None:
    prompt = Prompt.of("What is this?", files=[PNG]).followed_by("echo: What is this?", "Again?")
    completion = Call(server)(prompt, stream)
    assert completion.text == "echo: Again?"
    messages = server.requests[0].body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"] == "echo: What is this?"


def test_files_thinking_cache_and_a_follow_up_through_a_session(wire: dict[str, Any]) -> None:
    server: AnthropicServer = wire["anthropic"]
    name = "anthropic:claude-test"
    with Session(wire_config(wire), labbook=False) as session:  # type: ignore[arg-type]
        first = session.compare(
            "What is this?", [name], system="Be exact.", files=[PNG], reasoning="low", cache=True
        )
        reply = first[name]
        assert reply.ok and reply.text == "echo: What is this?"
        assert reply.thinking == server.thinking_text and reply.usage.reasoning_tokens
        assert reply.usage.cache_write_tokens and reply.usage.cached_input_tokens == 0
        again = first.follow_up("And now?")[name]
    assert again.ok and again.text == "echo: And now?"
    assert again.usage.cached_input_tokens == reply.usage.cache_write_tokens
    body = server.requests[-1].body
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][1]["content"] == reply.text
    assert body["thinking"]["type"] == "adaptive" and body["system"][0]["cache_control"]


def test_a_schema_through_a_session(wire: dict[str, Any]) -> None:
    name = "anthropic:claude-test"
    with Session(wire_config(wire), labbook=False) as session:  # type: ignore[arg-type]
        reply = session.compare("The largest city?", [name], schema=City, reasoning="low")[name]
    assert reply.ok and reply.data == City(name="text", population=1)
    assert reply.thinking == wire["anthropic"].thinking_text
