"""Issue 9 on Gemini: files, structured output, thinking, cached tokens, follow-up turns.

Pure converters first, then the real google-genai SDK against GeminiServer, which records
each request body and refuses (400) what the real API would refuse.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from google.genai import errors, types
from pydantic import BaseModel

from tests.wire.gemini_server import SIGNATURE, GeminiServer, GeminiStep, example
from tests.wire.harness import Step
from workbench.config import Config
from workbench.errors import IncompleteAnswer, Unsupported
from workbench.providers.base import Completion, Prompt, ProviderSettings
from workbench.providers.content import File, Schema
from workbench.providers.gemini import (
    GeminiModel,
    completion_from_response,
    request_from_prompt,
    thinking_config,
)
from workbench.run import Job, Listener
from workbench.sessions import Session

KEY_ENV = "GEMINI_API_KEY"
MODEL = "gemini-3-pro-preview"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(40))
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
GIF = b"GIF89a" + bytes(20)
SCHEMA = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
    "required": ["name", "age"],
}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()  # the SDK's encoding of bytes


# -- converters, no server ------------------------------------------------------------------


def test_files_go_first_as_inline_data_then_the_text() -> None:
    files = [
        File.of(PNG, "chart.png"),
        File.of(PDF, "paper.pdf"),
        File.of(b"a,b\n1,2\n", "data.csv"),
        File.of(b'{"a": 1}', "data.json"),  # a text type Gemini does not list: sent as plain text
    ]
    request = request_from_prompt(Prompt.of("Describe them.", files=files), MODEL)
    [content] = request["contents"]
    assert content["role"] == "user"
    assert content["parts"] == [
        {"inline_data": {"data": PNG, "mime_type": "image/png"}},
        {"inline_data": {"data": PDF, "mime_type": "application/pdf"}},
        {"inline_data": {"data": b"a,b\n1,2\n", "mime_type": "text/csv"}},
        {"inline_data": {"data": b'{"a": 1}', "mime_type": "text/plain"}},
        {"text": "Describe them."},
    ]
    # Each file part is what the SDK's own constructor makes.
    assert types.Part.model_validate(content["parts"][0]) == types.Part.from_bytes(
        data=PNG, mime_type="image/png"
    )


def test_follow_up_turns_are_user_model_user_with_each_turns_files() -> None:
    first = Prompt.of("What is in this chart?", system="Be brief.", files=[File.of(PNG, "c.png")])
    prompt = first.followed_by("A rising line.", "And in this paper?", (File.of(PDF, "p.pdf"),))
    request = request_from_prompt(prompt, MODEL)
    assert request["config"]["system_instruction"] == "Be brief."
    assert request["contents"] == [
        {
            "role": "user",
            "parts": [
                {"inline_data": {"data": PNG, "mime_type": "image/png"}},
                {"text": "What is in this chart?"},
            ],
        },
        {"role": "model", "parts": [{"text": "A rising line."}]},
        {
            "role": "user",
            "parts": [
                {"inline_data": {"data": PDF, "mime_type": "application/pdf"}},
                {"text": "And in this paper?"},
            ],
        },
    ]
    for content in request["contents"]:
        types.Content.model_validate(content)  # the SDK's own type takes it as it is


class Person(BaseModel):
    name: str
    age: int


@pytest.mark.parametrize("schema", [SCHEMA, Person], ids=["dict", "pydantic"])
def test_a_schema_asks_for_json_held_to_the_schema_as_given(schema: Any) -> None:
    request = request_from_prompt(Prompt.of("Who?", schema=schema), MODEL)
    config = request["config"]
    assert config["response_mime_type"] == "application/json"
    assert config["response_json_schema"] == Schema.of(schema).json_schema
    types.GenerateContentConfig(**config)


@pytest.mark.parametrize(
    ("reasoning", "model_id", "expected"),
    [
        ("low", "gemini-3-pro-preview", {"thinking_level": "LOW"}),
        ("medium", "gemini-3-flash-preview", {"thinking_level": "MEDIUM"}),
        ("high", "gemini-3.1-pro-preview", {"thinking_level": "HIGH"}),
        ("high", "gemini-flash-latest", {"thinking_level": "HIGH"}),
        # Gemini 2.x takes no level: the budgets Google's OpenAI-compatible endpoint uses.
        ("low", "gemini-2.5-flash", {"thinking_budget": 1024}),
        ("medium", "models/gemini-2.5-pro", {"thinking_budget": 8192}),
        ("high", "gemini-2.5-flash-lite", {"thinking_budget": 24576}),
        # A budget is a budget everywhere (Gemini 3 still takes thinking_budget).
        (2048, "gemini-3-pro-preview", {"thinking_budget": 2048}),
        (512, "gemini-2.5-flash", {"thinking_budget": 512}),
    ],
)
def test_reasoning_maps_onto_thinking_config(
    reasoning: str | int, model_id: str, expected: dict[str, Any]
) -> None:
    assert thinking_config(reasoning, model_id) == {"include_thoughts": True, **expected}
    config = request_from_prompt(Prompt.of("Think.", reasoning=reasoning), model_id)["config"]
    assert config["thinking_config"] == {"include_thoughts": True, **expected}
    types.GenerateContentConfig(**config)


def test_cache_sends_nothing_gemini_caches_on_its_own() -> None:
    assert request_from_prompt(Prompt.of("Hi", cache=True), MODEL) == request_from_prompt(
        Prompt.of("Hi"), MODEL
    )


def test_usage_has_thinking_and_cached_tokens_as_parts_of_the_totals() -> None:
    def usage(**counts: int) -> Any:
        response = types.GenerateContentResponse.model_validate(
            {
                "candidates": [{"content": {"parts": [{"text": "ok"}]}, "finishReason": "STOP"}],
                "usageMetadata": counts,
            }
        )
        return completion_from_response(response).usage

    full = usage(
        promptTokenCount=1000,
        cachedContentTokenCount=800,
        candidatesTokenCount=5,
        thoughtsTokenCount=20,
    )
    assert (full.input_tokens, full.output_tokens) == (1000, 25)
    assert (full.reasoning_tokens, full.cached_input_tokens) == (20, 800)
    plain = usage(promptTokenCount=10, candidatesTokenCount=2)
    assert (plain.input_tokens, plain.output_tokens) == (10, 2)
    assert (plain.reasoning_tokens, plain.cached_input_tokens) == (None, None)  # not reported


# -- what is refused before sending ----------------------------------------------------------


@pytest.fixture
def offline_model(monkeypatch: pytest.MonkeyPatch) -> GeminiModel:
    monkeypatch.setenv(KEY_ENV, "k")
    return GeminiModel(MODEL, ProviderSettings(name="gemini", type="gemini", api_key_env=KEY_ENV))


def test_check_takes_images_pdfs_text_a_schema_and_reasoning(offline_model: GeminiModel) -> None:
    files = [File.of(PNG, "a.png"), File.of(PDF, "b.pdf"), File.of(b"hi", "c.md")]
    offline_model.check(Prompt.of("x", files=files, schema=SCHEMA, reasoning="high", cache=True))


@pytest.mark.parametrize(
    ("file", "message"),
    [
        (File.of(GIF, "anim.gif"), r"cannot read anim\.gif \(image/gif\): its images are"),
        (File.of(b"caf\xe9", "latin1.txt"), r"reads text files as UTF-8 and latin1\.txt is not"),
        (
            File("big.pdf", "application/pdf", bytes(50_000_001), sha256="-"),
            r"big\.pdf is 50\.0 MB: gemini:gemini-3-pro-preview takes pdf files up to 50\.0 MB "
            r"\(Gemini API docs",
        ),
        (
            File("huge.png", "image/png", bytes(75_000_001), sha256="-"),
            r"the files come to 100\.0 MB as sent: .* takes up to 100\.0 MB in one request",
        ),
    ],
    ids=["gif", "not-utf8", "pdf-over-50MB", "request-over-100MB"],
)
def test_check_refuses_what_gemini_cannot_take(
    offline_model: GeminiModel, file: File, message: str
) -> None:
    with pytest.raises(Unsupported, match=message):
        offline_model.check(Prompt.of("x", files=[file]))


# -- the real SDK against the wire server ---------------------------------------------------


@pytest.fixture
def server() -> Iterator[GeminiServer]:
    with GeminiServer() as wire:
        assert isinstance(wire, GeminiServer)
        yield wire


@pytest.fixture
def model(server: GeminiServer, monkeypatch: pytest.MonkeyPatch) -> GeminiModel:
    monkeypatch.setenv(KEY_ENV, server.api_key)
    settings = ProviderSettings(
        name="gemini", type="gemini", base_url=server.base_url, api_key_env=KEY_ENV, timeout_s=5
    )
    return GeminiModel(MODEL, settings)


Events = list[tuple[str, str]]


def run(model: GeminiModel, prompt: Prompt, stream: bool) -> tuple[Completion, Events]:
    """One call; streamed, every piece in arrival order as ("text" | "thinking", piece)."""
    events: Events = []

    def sink(kind: str) -> Callable[[str], None] | None:
        return (lambda piece: events.append((kind, piece))) if stream else None

    async def go() -> Completion:
        try:
            return await model.complete(prompt, sink("text"), sink("thinking"))
        finally:
            await model.aclose()

    return asyncio.run(go()), events


def _pieces(events: Events, kind: str) -> list[str]:
    return [piece for k, piece in events if k == kind]


@pytest.mark.parametrize("stream", [False, True])
def test_files_reach_the_api_as_inline_data(
    server: GeminiServer, model: GeminiModel, stream: bool
) -> None:
    files = [File.of(PNG, "chart.png"), File.of(PDF, "paper.pdf"), File.of(b"notes", "n.txt")]
    completion, _ = run(model, Prompt.of("Compare them.", files=files), stream)
    assert completion.text == "echo: Compare them."
    [request] = server.requests
    # The SDK sends inlineData with the blob's field in its proto spelling, mime_type.
    assert request.body["contents"] == [
        {
            "role": "user",
            "parts": [
                {"inlineData": {"data": _b64(PNG), "mime_type": "image/png"}},
                {"inlineData": {"data": _b64(PDF), "mime_type": "application/pdf"}},
                {"inlineData": {"data": _b64(b"notes"), "mime_type": "text/plain"}},
                {"text": "Compare them."},
            ],
        }
    ]
    assert server.rejected == []


@pytest.mark.parametrize("stream", [False, True])
def test_a_schema_request_is_answered_with_json_that_fits(
    server: GeminiServer, model: GeminiModel, stream: bool
) -> None:
    prompt = Prompt.of("Who is Ada?", schema=Person)
    completion, events = run(model, prompt, stream)
    config = server.requests[0].body["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseJsonSchema"] == Person.model_json_schema()
    assert json.loads(completion.text) == {"name": "text", "age": 1}
    assert prompt.schema is not None
    assert prompt.schema.parse(completion.text, completion.data) == Person(name="text", age=1)
    if stream:
        assert len(_pieces(events, "text")) > 1  # JSON too arrives piece by piece
    assert server.rejected == []


@pytest.mark.parametrize("stream", [False, True])
def test_thinking_is_kept_apart_from_the_answer(
    server: GeminiServer, model: GeminiModel, stream: bool
) -> None:
    thoughts = "Two and two make four, so the answer is four."
    server.queue(
        GeminiStep(
            text="Four.", thoughts=thoughts, input_tokens=7, output_tokens=2, thoughts_tokens=12
        )
    )
    completion, events = run(model, Prompt.of("What is 2+2?", reasoning="high"), stream)
    thinking = server.requests[0].body["generationConfig"]["thinkingConfig"]
    assert thinking == {"include_thoughts": True, "thinking_level": "HIGH"}  # proto spelling
    assert completion.text == "Four."
    assert completion.thinking == thoughts
    usage = completion.usage
    assert (usage.input_tokens, usage.output_tokens, usage.reasoning_tokens) == (7, 14, 12)
    if stream:
        assert "".join(_pieces(events, "thinking")) == thoughts
        assert _pieces(events, "text") == ["Four."]
        assert [kind for kind, _ in events][-1] == "text"  # thinking streamed first
        assert len(_pieces(events, "thinking")) > 1
    assert server.rejected == []


@pytest.mark.parametrize(
    ("reasoning", "model_id", "expected"),
    [
        ("medium", "gemini-3-flash-preview", {"thinking_level": "MEDIUM"}),
        ("low", "gemini-2.5-flash", {"thinking_budget": 1024}),
        (300, "gemini-3-pro-preview", {"thinking_budget": 300}),
    ],
)
def test_every_kind_of_reasoning_is_a_request_the_api_takes(
    server: GeminiServer,
    model: GeminiModel,
    reasoning: str | int,
    model_id: str,
    expected: dict[str, Any],
) -> None:
    model.model_id = model_id
    run(model, Prompt.of("Think.", reasoning=reasoning), stream=False)
    body = server.requests[0].body
    assert body["generationConfig"]["thinkingConfig"] == {"include_thoughts": True, **expected}
    assert server.requests[0].path == f"/v1/models/{model_id}:generateContent"
    assert server.rejected == []


@pytest.mark.parametrize("stream", [False, True])
def test_a_model_thinking_unasked_reports_its_tokens_but_shows_no_thoughts(
    server: GeminiServer, model: GeminiModel, stream: bool
) -> None:
    server.queue(GeminiStep(text="Four.", thoughts="hidden", input_tokens=5, output_tokens=1))
    completion, events = run(model, Prompt.of("2+2?"), stream)
    assert server.requests[0].body["generationConfig"] == {}  # no thinkingConfig sent
    assert (completion.text, completion.thinking) == ("Four.", None)
    assert (completion.usage.output_tokens, completion.usage.reasoning_tokens) == (2, 1)
    assert _pieces(events, "thinking") == []


@pytest.mark.parametrize("stream", [False, True])
def test_cached_prompt_tokens_are_reported(
    server: GeminiServer, model: GeminiModel, stream: bool
) -> None:
    server.queue(GeminiStep(input_tokens=1000, output_tokens=3, cached_tokens=768), Step())
    completion, _ = run(model, Prompt.of("Summarise.", cache=True), stream)
    assert (completion.usage.input_tokens, completion.usage.cached_input_tokens) == (1000, 768)
    uncached, _ = run(model, Prompt.of("Summarise."), stream)
    assert uncached.usage.cached_input_tokens is None
    # cache=True sends nothing: Gemini caches implicitly.
    assert server.requests[0].body == server.requests[1].body


@pytest.mark.parametrize("stream", [False, True])
def test_a_follow_up_sends_the_earlier_answer_as_a_model_turn(
    server: GeminiServer, model: GeminiModel, stream: bool
) -> None:
    prompt = Prompt.of("Hi", system="Be brief.").followed_by("Hello.", "What is 2+2?")
    completion, _ = run(model, prompt, stream)
    assert completion.text == "echo: What is 2+2?"
    body = server.requests[0].body
    assert body["systemInstruction"]["parts"] == [{"text": "Be brief."}]
    assert body["contents"] == [
        {"role": "user", "parts": [{"text": "Hi"}]},
        {"role": "model", "parts": [{"text": "Hello."}]},
        {"role": "user", "parts": [{"text": "What is 2+2?"}]},
    ]
    assert server.rejected == []


def test_a_stream_cut_during_thinking_is_incomplete(
    server: GeminiServer, model: GeminiModel
) -> None:
    server.queue(GeminiStep(text="Four.", thoughts="one two three four", cut_after=2))
    thinking: list[str] = []

    async def go() -> Completion:
        try:
            return await model.complete(Prompt.of("2+2?", reasoning="low"), None, thinking.append)
        finally:
            await model.aclose()

    # Thinking arrived, so the model was at work (and billing): cut short, not unreachable.
    with pytest.raises(IncompleteAnswer, match="the connection was lost") as caught:
        asyncio.run(go())
    assert thinking == ["one ", "two "] and caught.value.partial == ""


def test_a_failing_thinking_sink_is_not_a_provider_error(
    server: GeminiServer, model: GeminiModel
) -> None:
    server.queue(GeminiStep(text="Four.", thoughts="a b c"))

    def sink(piece: str) -> None:
        raise KeyError(piece)

    async def go() -> None:
        try:
            await model.complete(Prompt.of("2+2?", reasoning="low"), None, sink)
        finally:
            await model.aclose()

    with pytest.raises(KeyError):
        asyncio.run(go())


# -- the wire server itself -----------------------------------------------------------------


def test_the_stream_is_data_lines_with_thought_parts_then_signed_text(
    server: GeminiServer,
) -> None:
    server.queue(GeminiStep(text="Four.", thoughts="a b", thoughts_tokens=2, cached_tokens=1))
    body = {
        "contents": [{"role": "user", "parts": [{"text": "2+2?"}]}],
        "generationConfig": {"thinkingConfig": {"includeThoughts": True, "thinkingLevel": "LOW"}},
    }
    request = urllib.request.Request(
        f"{server.base_url}/v1/models/{MODEL}:streamGenerateContent?alt=sse",
        json.dumps(body).encode(),
        {"x-goog-api-key": server.api_key, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        lines = [line for line in response.read().decode().split("\n") if line]
    assert all(re.fullmatch(r"data: \{.*\}", line) for line in lines)
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines]
    parts = [c["candidates"][0]["content"]["parts"][0] for c in chunks]
    assert parts == [
        {"text": "a ", "thought": True},
        {"text": "b", "thought": True},
        {"text": "Four.", "thoughtSignature": SIGNATURE},
    ]
    assert chunks[-1]["usageMetadata"]["thoughtsTokenCount"] == 2
    assert all(c["usageMetadata"]["cachedContentTokenCount"] == 1 for c in chunks)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"thinking_config": {"thinking_level": "LOW", "thinking_budget": 10}},
            "only set one of thinking level and thinking budget",
        ),
        ({"response_json_schema": SCHEMA}, "requires response_mime_type application/json"),
    ],
)
def test_the_server_refuses_what_the_api_refuses(
    server: GeminiServer, config: dict[str, Any], message: str
) -> None:
    from google import genai

    client = genai.Client(
        api_key=server.api_key, http_options=types.HttpOptions(base_url=server.base_url)
    )
    with pytest.raises(errors.ClientError, match=message) as caught:
        client.models.generate_content(model=MODEL, contents="hi", config=config)
    assert caught.value.code == 400
    assert server.rejected == [caught.value.message]


def test_example_fits_nested_schemas() -> None:
    class Team(BaseModel):
        lead: Person
        members: list[Person]
        size: int | None = None

    value = example(Team.model_json_schema())
    assert Team.model_validate(value).lead == Person(name="text", age=1)


# -- through the session and the runner -----------------------------------------------------


class Heard(Listener):
    """Keeps every piece of text and thinking as it arrives."""

    def __init__(self) -> None:
        self.events: Events = []

    def text(self, job: Job, piece: str) -> None:
        self.events.append(("text", piece))

    def thinking(self, job: Job, piece: str) -> None:
        self.events.append(("thinking", piece))


@pytest.fixture
def session(server: GeminiServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Session]:
    monkeypatch.setenv(KEY_ENV, server.api_key)
    config = Config.load({"providers": {"gemini": {"base_url": server.base_url}}})
    with Session(config, labbook=False) as opened:
        yield opened


NAME = f"gemini:{MODEL}"


def test_a_comparison_with_a_file_and_thinking_then_a_follow_up(
    server: GeminiServer, session: Session
) -> None:
    server.queue(GeminiStep(text="Ada.", thoughts="Read the chart.", cached_tokens=64))
    heard = Heard()
    files = [File.of(PNG, "chart.png")]
    first = session.compare("Who is on it?", [NAME], files=files, reasoning="low", listener=heard)
    reply = first[NAME]
    assert reply.ok, reply.error
    assert (reply.text, reply.thinking) == ("Ada.", "Read the chart.")
    assert (reply.usage.reasoning_tokens, reply.usage.cached_input_tokens) == (3, 64)
    assert "".join(_pieces(heard.events, "thinking")) == "Read the chart."
    assert _pieces(heard.events, "text") == ["Ada."]

    second = first.follow_up("And how old?")[NAME]
    assert second.ok, second.error
    contents = server.requests[1].body["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    assert "inlineData" in contents[0]["parts"][0]  # the file stays with its turn
    assert contents[1]["parts"] == [{"text": "Ada."}]  # the answer, never the thinking
    assert contents[2]["parts"] == [{"text": "And how old?"}]
    assert server.requests[1].body["generationConfig"]["thinkingConfig"]["thinking_level"] == "LOW"
    assert server.rejected == []


def test_a_comparison_with_a_schema_gives_the_value(session: Session) -> None:
    reply = session.compare("Who is Ada?", [NAME], schema=Person)[NAME]
    assert reply.ok, reply.error
    assert reply.data == Person(name="text", age=1)
