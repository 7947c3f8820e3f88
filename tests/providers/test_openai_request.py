"""Issue 9 for OpenAI and compat, the pure side: files, follow-ups, schemas, reasoning, usage."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel, Field

from tests.wire.openai_server import example_of, invalid
from workbench.errors import ConfigError, InvalidPrompt, Unsupported
from workbench.providers.base import Completion, Prompt, ProviderSettings, Usage
from workbench.providers.compat import CompatModel
from workbench.providers.content import File, Schema
from workbench.providers.openai import (
    OpenAIModel,
    StreamState,
    completion_from_response,
    request_from_prompt,
)
from workbench.providers.openai_request import response_format, strict_schema

PNG = File.of(b"\x89PNG\r\n\x1a\n" + bytes(range(64)), "fig2.png")
PDF = File.of(b"%PDF-1.4\n1 0 obj <<>> endobj\n%%EOF\n", "paper.pdf")
CSV = File.of(b"year,count\n2024,3\n2025,5\n", "counts.csv")


def _b64(url: str, prefix: str) -> bytes:
    assert url.startswith(prefix)
    return base64.b64decode(url.removeprefix(prefix), validate=True)


# -- files -----------------------------------------------------------------------------------


def test_files_go_first_as_native_parts_then_the_text() -> None:
    prompt = Prompt.of("What does figure 2 show?", files=[PNG, PDF, CSV])
    [message] = request_from_prompt(prompt, "gpt-test")["messages"]
    image, pdf, text, question = message["content"]
    assert image["type"] == "image_url"
    assert _b64(image["image_url"]["url"], "data:image/png;base64,") == PNG.data
    assert pdf["type"] == "file" and pdf["file"]["filename"] == "paper.pdf"
    assert _b64(pdf["file"]["file_data"], "data:application/pdf;base64,") == PDF.data
    assert text == {
        "type": "text",
        "text": '<file name="counts.csv" media_type="text/csv">\nyear,count\n2024,3\n2025,5\n'
        "\n</file>",
    }
    assert question == {"type": "text", "text": "What does figure 2 show?"}
    assert invalid({"messages": [message]}) is None  # what OpenAI takes


def test_a_message_without_files_keeps_plain_string_content() -> None:
    [message] = request_from_prompt(Prompt.of("hi"), "gpt-test")["messages"]
    assert message == {"role": "user", "content": "hi"}


def test_compat_sends_text_only_content_as_one_string() -> None:
    prompt = Prompt.of("Sum the counts.", files=[CSV])
    [message] = request_from_prompt(prompt, "m", flat_text=True)["messages"]
    assert message["content"] == (
        '<file name="counts.csv" media_type="text/csv">\nyear,count\n2024,3\n2025,5\n\n'
        "</file>\n\nSum the counts."
    )
    # An image needs parts, whatever the server.
    [message] = request_from_prompt(Prompt.of("?", files=[CSV, PNG]), "m", flat_text=True)[
        "messages"
    ]
    assert [p["type"] for p in message["content"]] == ["text", "image_url", "text"]


def test_a_file_name_cannot_break_out_of_its_marker() -> None:
    odd = File.of(b"x", 'a" onload="b.txt', "text/plain")
    [message] = request_from_prompt(Prompt.of("?", files=[odd]), "m")["messages"]
    assert message["content"][0]["text"].startswith('<file name="a&quot; onload=&quot;b.txt"')


def test_follow_up_turns_go_out_as_user_assistant_user_messages() -> None:
    first = Prompt.of("What is 2+2?", system="Be terse.", files=[CSV], seed=3)
    prompt = first.followed_by("Four.", "And in Roman numerals?", files=(PNG,))
    messages = request_from_prompt(prompt, "gpt-test")["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user"]
    assert messages[0] == {"role": "system", "content": "Be terse."}
    assert messages[1]["content"][-1] == {"type": "text", "text": "What is 2+2?"}
    assert messages[2] == {"role": "assistant", "content": "Four."}
    assert [p["type"] for p in messages[3]["content"]] == ["image_url", "text"]
    assert invalid({"messages": messages}) is None


# -- capabilities and limits -----------------------------------------------------------------


def _model(cls: type[OpenAIModel] = OpenAIModel, **options: Any) -> OpenAIModel:
    settings = ProviderSettings("srv", "compat", "http://127.0.0.1:9/v1", options=options)
    return cls("m", settings)


def test_openai_takes_images_pdfs_and_text_within_its_limits() -> None:
    model = _model()
    model.check(Prompt.of("?", files=[PNG, PDF, CSV]))
    big = File.of(b"\x89PNG\r\n\x1a\n" + bytes(21_000_000), "huge.png")
    with pytest.raises(Unsupported, match=r"huge\.png is 21\.0 MB: .* up to 20\.0 MB \(OpenAI"):
        model.check(Prompt.of("?", files=[big]))
    assert OpenAIModel.limits.source and OpenAIModel.limits.request == 50_000_000


def test_compat_takes_images_and_text_but_not_pdfs() -> None:
    model = _model(CompatModel)
    model.check(Prompt.of("?", files=[PNG, CSV]))
    with pytest.raises(Unsupported, match=r"srv:m cannot read paper\.pdf .* takes image, text"):
        model.check(Prompt.of("?", files=[PDF]))


def test_a_text_file_that_is_not_utf8_is_refused_before_sending() -> None:
    latin = File.of("café".encode("latin-1"), "notes.txt", "text/plain")
    with pytest.raises(InvalidPrompt, match=r"notes\.txt is not UTF-8"):
        _model().check(Prompt.of("?", files=[latin]))


# -- reasoning -------------------------------------------------------------------------------


@pytest.mark.parametrize("effort", ["low", "medium", "high"])
def test_an_effort_is_reasoning_effort(effort: str) -> None:
    kwargs = request_from_prompt(Prompt.of("hi", reasoning=effort), "gpt-test")
    assert kwargs["reasoning_effort"] == effort


@pytest.mark.parametrize("cls", [OpenAIModel, CompatModel])
def test_a_token_budget_is_refused_naming_the_efforts(cls: type[OpenAIModel]) -> None:
    prompt = Prompt.of("hi", reasoning=2048)
    with pytest.raises(Unsupported, match=r":m takes reasoning as an effort \(low, medium, high\)"):
        _model(cls).check(prompt)
    with pytest.raises(Unsupported, match="not a budget of 2048 tokens"):  # never dropped
        request_from_prompt(prompt, "m")


def test_cache_sends_nothing_openai_caches_by_itself() -> None:
    cached = request_from_prompt(Prompt.of("hi", system="Long context.", cache=True), "m")
    assert cached == request_from_prompt(Prompt.of("hi", system="Long context."), "m")


# -- schemas ---------------------------------------------------------------------------------


class Author(BaseModel):
    name: str
    affiliation: str | None = None


class Paper(BaseModel):
    title: str = Field(description="The title")
    year: int
    authors: list[Author]
    lead: Author = Field(description="The first author")
    tags: list[str] = []


def _objects(node: Any) -> list[dict[str, Any]]:
    if isinstance(node, list):
        return [o for n in node for o in _objects(n)]
    if not isinstance(node, dict):
        return []
    found = [node] if node.get("type") == "object" else []
    return found + [o for v in node.values() for o in _objects(v)]


def test_a_pydantic_schema_is_tightened_for_strict_mode() -> None:
    schema = Schema.of(Paper)
    before = json.dumps(schema.json_schema, sort_keys=True)
    fmt = response_format(schema)
    assert json.dumps(schema.json_schema, sort_keys=True) == before  # the original is untouched
    spec = fmt["json_schema"]
    assert fmt["type"] == "json_schema" and spec["name"] == "Paper" and spec["strict"] is True
    objects = _objects(spec["schema"])
    assert len(objects) >= 3  # the paper, the $defs author, the inlined lead
    for node in objects:
        assert node["additionalProperties"] is False
        assert node["required"] == list(node["properties"])
    assert "default" not in json.dumps(spec["schema"])
    assert spec["schema"]["properties"]["lead"]["description"] == "The first author"
    assert invalid({"response_format": fmt}) is None  # what OpenAI's strict mode takes
    # Without the tightening, strict mode refuses the schema as pydantic writes it.
    raw = {"type": "json_schema", "json_schema": {**spec, "schema": dict(schema.json_schema)}}
    assert "additionalProperties" in str(invalid({"response_format": raw}))


def test_an_answer_to_the_tightened_schema_fits_the_given_one() -> None:
    schema = Schema.of(Paper)
    tight = strict_schema(schema.json_schema)
    assert tight is not None
    answer = example_of(tight, tight)
    assert not list(Draft202012Validator(tight).iter_errors(answer))
    assert schema.parse(json.dumps(answer)) == Paper.model_validate(answer)


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"scores": {"type": "object"}}},  # a free-form dict
        {
            "type": "object",
            "properties": {"meta": {"type": "object", "additionalProperties": {"type": "integer"}}},
        },
        {"type": "array", "items": {"type": "string"}},  # the root is not an object
        {"type": "object", "properties": {"x": {"oneOf": [{"type": "string"}, {"type": "null"}]}}},
    ],
)
def test_a_schema_that_cannot_be_strict_is_sent_as_given_non_strict(
    schema: dict[str, Any],
) -> None:
    assert strict_schema(schema) is None
    spec = response_format(Schema.of(schema))["json_schema"]
    assert spec["strict"] is False and spec["schema"] == schema


def test_compat_can_send_llama_cpp_pythons_json_object_form() -> None:
    schema = Schema.of({"type": "object", "properties": {"n": {"type": "integer"}}})
    assert response_format(schema, "json_object") == {
        "type": "json_object",
        "schema": {"type": "object", "properties": {"n": {"type": "integer"}}},
    }
    assert _model(CompatModel, schema_format="json_object").schema_form == "json_object"
    assert _model(CompatModel).schema_form == "json_schema"
    with pytest.raises(ConfigError, match=r"schema_format = 'grammar' in \[providers\.srv\]"):
        _model(CompatModel, schema_format="grammar")


# -- answers: usage details and thinking -----------------------------------------------------


def _response(message: dict[str, Any], usage: dict[str, Any] | None) -> Any:
    from openai.types.chat import ChatCompletion

    return ChatCompletion.model_validate(
        {
            "id": "c",
            "object": "chat.completion",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": usage,
        }
    )


def test_usage_details_become_reasoning_cached_and_cache_write_tokens() -> None:
    usage = {
        "prompt_tokens": 2000,
        "completion_tokens": 300,
        "total_tokens": 2300,
        "prompt_tokens_details": {"cached_tokens": 1536, "cache_write_tokens": 400},
        "completion_tokens_details": {"reasoning_tokens": 256},
    }
    got = completion_from_response(_response({"role": "assistant", "content": "ok"}, usage))
    assert got.usage == Usage(2000, 300, "provider", 256, 1536, 400)


def test_usage_without_details_leaves_the_parts_unknown() -> None:
    usage = {"prompt_tokens": 20, "completion_tokens": 3, "total_tokens": 23}
    got = completion_from_response(_response({"role": "assistant", "content": "ok"}, usage))
    assert got.usage == Usage(20, 3)
    assert got.usage.reasoning_tokens is None and got.usage.cached_input_tokens is None


def test_deepseeks_cache_hits_count_as_cached_tokens() -> None:
    usage = {"prompt_tokens": 900, "completion_tokens": 9, "total_tokens": 909}
    usage |= {"prompt_cache_hit_tokens": 640, "prompt_cache_miss_tokens": 260}
    got = completion_from_response(_response({"role": "assistant", "content": "ok"}, usage))
    assert got.usage.cached_input_tokens == 640


@pytest.mark.parametrize("key", ["reasoning_content", "reasoning"])
def test_thinking_beside_the_answer_is_thinking_not_text(key: str) -> None:
    message = {"role": "assistant", "content": "Four.", key: "2+2 is 4, so four."}
    got = completion_from_response(_response(message, None))
    assert got == Completion("Four.", Usage(), "stop", "m", thinking="2+2 is 4, so four.")


def test_streamed_thinking_is_collected_apart_from_the_text() -> None:
    from openai.types.chat import ChatCompletionChunk

    def chunk(delta: dict[str, Any], finish: str | None = None) -> Any:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return ChatCompletionChunk.model_validate(
            {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
            | {"choices": [choice]}
        )

    state = StreamState()
    got = [
        state.add(chunk({"role": "assistant", "content": ""})),
        state.add(chunk({"reasoning_content": "Two and two "})),
        state.add(chunk({"reasoning_content": "make four."})),
        state.add(chunk({"content": "Four."})),
        state.add(chunk({}, "stop")),
    ]
    assert got == [("", ""), ("", "Two and two "), ("", "make four."), ("Four.", ""), ("", "")]
    completion = state.completion()
    assert completion.text == "Four." and completion.thinking == "Two and two make four."


def test_a_streamed_refusal_is_the_answers_text() -> None:
    from openai.types.chat import ChatCompletionChunk

    state = StreamState()
    for delta, finish in [({"refusal": "I can't help with that."}, None), ({}, "stop")]:
        state.add(
            ChatCompletionChunk.model_validate(
                {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
                | {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            )
        )
    assert state.completion().text == "I can't help with that."
