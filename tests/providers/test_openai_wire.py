"""Issue 9 for OpenAI and compat through the real `openai` SDK against the wire server.

The server records each request body and checks it as OpenAI would (content parts,
strict schemas, reasoning efforts: a 400 otherwise); the tests assert on what it received
and on what came back: JSON for a schema, reasoning and cached tokens in usage, thinking
beside the answer. Streamed and not.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from tests.wire.openai_server import REASONING_TOKENS, ChatStep, OpenAIServer
from workbench.config import Config
from workbench.errors import BadRequest, Unsupported
from workbench.providers.base import Completion, Model, Prompt, ProviderSettings
from workbench.providers.compat import CompatModel
from workbench.providers.content import File
from workbench.providers.openai import OpenAIModel
from workbench.sessions import Session

PNG = File.of(b"\x89PNG\r\n\x1a\n" + bytes(range(64)), "fig2.png")
PDF = File.of(b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n", "paper.pdf")
CSV = File.of(b"year,count\n2024,3\n2025,5\n", "counts.csv")


class Finding(BaseModel):
    claim: str
    year: int
    confidence: float | None = None


@pytest.fixture(scope="module")
def shared() -> Iterator[OpenAIServer]:
    with OpenAIServer() as server:
        yield server


@pytest.fixture
def server(shared: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> OpenAIServer:
    shared.steps.clear()
    shared.requests.clear()
    shared.rejected.clear()
    shared._seen.clear()
    shared.caching, shared.usage_details, shared.thinking_field = False, True, "reasoning_content"
    shared.require_auth = True
    monkeypatch.setenv("OPENAI_API_KEY", shared.api_key)
    return shared


def openai_model(server: OpenAIServer) -> OpenAIModel:
    settings = ProviderSettings("openai", "openai", server.base_url, "OPENAI_API_KEY", timeout_s=5)
    return OpenAIModel("gpt-test", settings)


def compat_model(server: OpenAIServer, **options: Any) -> CompatModel:
    server.require_auth = False  # like a local vLLM: any key or none
    settings = ProviderSettings("vllm", "compat", server.base_url, timeout_s=5, options=options)
    return CompatModel("qwen3", settings)


def call(
    model: Model, prompt: Prompt, stream: bool = False
) -> tuple[Completion, list[str], list[str]]:
    """One call in a fresh event loop: the completion, the text and the thinking pieces."""
    pieces: list[str] = []
    thoughts: list[str] = []

    async def go() -> Completion:
        try:
            model.check(prompt)
            if stream:
                return await model.complete(prompt, pieces.append, thoughts.append)
            return await model.complete(prompt)
        finally:
            await model.aclose()

    return asyncio.run(go()), pieces, thoughts


# -- 1. files --------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_openai_receives_images_pdfs_and_text_files_as_content_parts(
    server: OpenAIServer, stream: bool
) -> None:
    prompt = Prompt.of("What does figure 2 show?", files=[PNG, PDF, CSV])
    completion, _, _ = call(openai_model(server), prompt, stream)
    assert completion.text == "echo: " + "".join(  # the server read every text part
        ['<file name="counts.csv" media_type="text/csv">\nyear,count\n2024,3\n2025,5\n\n</file>',
         "What does figure 2 show?"]
    )  # fmt: skip
    assert server.rejected == []
    [message] = server.requests[0].body["messages"]
    kinds = [part["type"] for part in message["content"]]
    assert kinds == ["image_url", "file", "text", "text"]
    assert message["content"][1]["file"]["filename"] == "paper.pdf"


def test_the_server_refuses_a_broken_part_so_the_checks_can_fail(server: OpenAIServer) -> None:
    import openai

    model = openai_model(server)
    bad = [{"type": "file", "file": {"filename": "x.pdf", "file_data": "not a URL"}}]
    messages: Any = [{"role": "user", "content": bad}]

    async def go() -> None:
        try:
            await model.client().chat.completions.create(model="gpt-test", messages=messages)
        finally:
            await model.aclose()

    with pytest.raises(openai.BadRequestError, match="base64-encoded data URL of a PDF"):
        asyncio.run(go())
    assert server.rejected and "base64-encoded data URL of a PDF" in server.rejected[0]


@pytest.mark.parametrize("stream", [False, True])
def test_compat_sends_text_files_in_string_content_and_images_as_parts(
    server: OpenAIServer, stream: bool
) -> None:
    call(compat_model(server), Prompt.of("Sum the counts.", files=[CSV]), stream)
    call(compat_model(server), Prompt.of("Describe it.", files=[PNG]), stream)
    text_only, with_image = (r.body["messages"][0]["content"] for r in server.requests)
    assert isinstance(text_only, str) and text_only.endswith("</file>\n\nSum the counts.")
    assert [p["type"] for p in with_image] == ["image_url", "text"]


# -- 2. structured output --------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_a_pydantic_schema_goes_strict_and_the_answer_is_json_that_fits(
    server: OpenAIServer, stream: bool
) -> None:
    prompt = Prompt.of("Extract the finding.", schema=Finding)
    completion, pieces, _ = call(openai_model(server), prompt, stream)
    assert server.rejected == []  # the strict schema passed the server's strict checks
    fmt = server.requests[0].body["response_format"]
    assert fmt["type"] == "json_schema" and fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"]["required"] == ["claim", "year", "confidence"]
    assert prompt.schema is not None
    value = prompt.schema.parse(completion.text)
    assert value == Finding(claim="text", year=4, confidence=4.5)
    assert ("".join(pieces) == completion.text) if stream else pieces == []


def test_a_schema_that_cannot_be_strict_goes_non_strict(server: OpenAIServer) -> None:
    schema = {"type": "object", "properties": {"scores": {"type": "object"}}}
    completion, _, _ = call(openai_model(server), Prompt.of("Score it.", schema=schema))
    spec = server.requests[0].body["response_format"]["json_schema"]
    assert spec["strict"] is False and spec["schema"] == schema
    assert json.loads(completion.text) == {"scores": {}}


def test_compat_json_object_form_for_llama_cpp_pythons_server(server: OpenAIServer) -> None:
    model = compat_model(server, schema_format="json_object")
    completion, _, _ = call(model, Prompt.of("Extract.", schema=Finding))
    fmt = server.requests[0].body["response_format"]
    assert fmt["type"] == "json_object" and fmt["schema"]["properties"]["year"]
    assert json.loads(completion.text)["year"] == 4


# -- 3. reasoning ----------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_reasoning_effort_is_sent_and_its_tokens_counted(
    server: OpenAIServer, stream: bool
) -> None:
    server.queue(ChatStep(text="Four.", input_tokens=12))
    completion, _, _ = call(openai_model(server), Prompt.of("2+2?", reasoning="high"), stream)
    assert server.requests[0].body["reasoning_effort"] == "high"
    usage = completion.usage
    assert usage.reasoning_tokens == REASONING_TOKENS["high"] == 256
    assert usage.output_tokens == 1 + 256  # reasoning counted in the output, as billed


def test_a_budget_is_refused_in_its_column_and_nothing_is_sent(
    server: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = Config.load({"providers": {"openai": {"base_url": server.base_url}}})
    with Session(config, labbook=False) as session:
        reply = session.compare("2+2?", ["openai:gpt-test"], reasoning=4096)["openai:gpt-test"]
    assert reply.error is not None and reply.error.is_a(Unsupported)
    assert "effort (low, medium, high), not a budget of 4096 tokens" in reply.error.message
    assert server.requests == [] and reply.attempts == 0


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
@pytest.mark.parametrize("stream", [False, True])
def test_compat_thinking_goes_to_thinking_never_to_the_answer(
    server: OpenAIServer, stream: bool, field: str
) -> None:
    server.thinking_field = field
    server.queue(ChatStep(text="Four.", thinking="Two and two make four."))
    completion, pieces, thoughts = call(compat_model(server), Prompt.of("2+2?"), stream)
    assert completion.text == "Four." and completion.thinking == "Two and two make four."
    if stream:
        assert pieces == ["Four."] and "".join(thoughts) == "Two and two make four."
        assert len(thoughts) == 5  # streamed as it came, piece by piece


def test_compat_sends_an_effort_as_reasoning_effort(server: OpenAIServer) -> None:
    call(compat_model(server), Prompt.of("2+2?", reasoning="low"))
    assert server.requests[0].body["reasoning_effort"] == "low"
    assert "max_completion_tokens" not in server.requests[0].body


def test_compat_usage_without_details_leaves_reasoning_and_cache_unknown(
    server: OpenAIServer,
) -> None:
    server.usage_details = False  # as llama.cpp's servers answer
    completion, _, _ = call(compat_model(server), Prompt.of("2+2?"))
    assert completion.usage.input_tokens is not None
    assert completion.usage.reasoning_tokens is None
    assert completion.usage.cached_input_tokens is None


# -- 4 and 5. follow-ups, and the prompt prefix they share cached ------------------------------


@pytest.mark.parametrize("stream", [False, True])
def test_a_follow_up_goes_out_as_messages_and_reports_its_cached_prefix(
    server: OpenAIServer, stream: bool
) -> None:
    server.caching = True
    first = Prompt.of("What is 2+2?", system="Be terse.", files=[CSV])
    one, _, _ = call(openai_model(server), first, stream)
    two, _, _ = call(openai_model(server), first.followed_by(one.text, "And 3+3?"), stream)
    messages = server.requests[1].body["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[2] == {"role": "assistant", "content": one.text}
    assert messages[:2] == server.requests[0].body["messages"]
    assert one.usage.cached_input_tokens == 0
    cached = two.usage.cached_input_tokens
    assert cached is not None and two.usage.input_tokens is not None
    assert 0 < cached < two.usage.input_tokens


def test_cached_tokens_are_priced_at_the_cache_rate_through_the_runner(
    server: OpenAIServer, tmp_path: Path
) -> None:
    server.caching = True
    server.script = lambda request: ChatStep(text="Four.", input_tokens=1000, output_tokens=10)
    prices = {"input": 1.0, "output": 2.0, "cache_read": 0.1}
    providers = {"openai": {"base_url": server.base_url}}
    config = Config.load({"providers": providers, "prices": {"openai:gpt-test": prices}})
    try:
        with Session(config, labbook=False) as session:
            first = session.compare("What is 2+2?", ["openai:gpt-test"], system="Be terse.")
            second = first.follow_up("And 3+3?")
    finally:
        server.script = None
    one, two = first["openai:gpt-test"], second["openai:gpt-test"]
    assert one.ok and two.ok, (one.error, two.error)
    assert one.usage.cached_input_tokens == 0
    cached = two.usage.cached_input_tokens
    assert cached is not None and cached > 0
    assert one.cost_usd == pytest.approx((1000 * 1.0 + 10 * 2.0) / 1e6)
    expected = ((1000 - cached) * 1.0 + cached * 0.1 + 10 * 2.0) / 1e6
    assert one.cost_usd is not None and two.cost_usd is not None
    assert two.cost_usd == pytest.approx(expected) and two.cost_usd < one.cost_usd


def test_a_schema_through_the_runner_gives_the_value(server: OpenAIServer) -> None:
    config = Config.load({"providers": {"openai": {"base_url": server.base_url}}})
    with Session(config, labbook=False) as session:
        reply = session.compare("Extract.", ["openai:gpt-test"], schema=Finding)["openai:gpt-test"]
    assert reply.ok and reply.data == Finding(claim="text", year=4, confidence=4.5)


def test_a_server_refusing_a_part_is_a_bad_request_in_its_column(server: OpenAIServer) -> None:
    server.queue(ChatStep(status=400))
    with pytest.raises(BadRequest):
        call(openai_model(server), Prompt.of("?", files=[PNG]))


def test_files_and_an_effort_through_the_runner(server: OpenAIServer, tmp_path: Path) -> None:
    figure = tmp_path / "fig2.png"
    figure.write_bytes(PNG.data)
    config = Config.load({"providers": {"openai": {"base_url": server.base_url}}})
    with Session(config, labbook=False) as session:
        comparison = session.compare(
            "What does figure 2 show?", ["openai:gpt-test"], files=[figure], reasoning="medium"
        )
    reply = comparison["openai:gpt-test"]
    assert reply.ok, reply.error
    assert reply.usage.reasoning_tokens == REASONING_TOKENS["medium"]
    body = server.requests[0].body
    assert body["reasoning_effort"] == "medium"
    assert [p["type"] for p in body["messages"][0]["content"]] == ["image_url", "text"]
