"""The Anthropic adapter's issue-9 converters, no server: files, schema, thinking, cache, turns."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from anthropic.types import Message, RawMessageStreamEvent
from pydantic import BaseModel, TypeAdapter

from workbench.errors import InvalidPrompt, Unsupported
from workbench.providers.anthropic import (
    AnthropicModel,
    StreamState,
    completion_from_response,
    request_from_prompt,
)
from workbench.providers.anthropic_request import DEFAULT_MAX_TOKENS, EFFORT_BUDGETS, claude_version
from workbench.providers.base import Completion, Prompt, ProviderSettings, Usage
from workbench.providers.content import File

EVENTS: TypeAdapter[RawMessageStreamEvent] = TypeAdapter(RawMessageStreamEvent)
PNG = File.of(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, "dot.png")
PDF = File.of(b"%PDF-1.7\n%%EOF\n", "paper.pdf")
NOTES = File.of("Résumé: 3 points\n".encode(), "notes.txt")
EPHEMERAL = {"type": "ephemeral"}


class City(BaseModel):
    name: str
    population: int


def _model(model_id: str = "claude-opus-4-6") -> AnthropicModel:
    return AnthropicModel(model_id, ProviderSettings(name="anthropic", type="anthropic"))


# -- files ---------------------------------------------------------------------------------


def test_files_go_as_image_and_document_blocks_before_the_text() -> None:
    prompt = Prompt.of("Describe these.", files=[PNG, PDF, NOTES])
    [message] = request_from_prompt(prompt, "claude-x")["messages"]
    image, pdf, notes, text = message["content"]
    assert image == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": _b64(PNG)},
    }
    assert pdf == {
        "type": "document",
        "source": {"type": "base64", "media_type": "application/pdf", "data": _b64(PDF)},
        "title": "paper.pdf",
    }
    assert notes == {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": "Résumé: 3 points\n"},
        "title": "notes.txt",
    }
    assert text == {"type": "text", "text": "Describe these."}


def test_a_text_file_that_is_not_utf8_is_refused_before_sending() -> None:
    bad = File("latin1.txt", "text/plain", "café".encode("latin-1"))
    with pytest.raises(InvalidPrompt, match=r"latin1\.txt is not UTF-8"):
        request_from_prompt(Prompt.of("Read it.", files=[bad]), "claude-x")


def test_capabilities_and_limits() -> None:
    model = _model()
    assert model.file_kinds == {"image", "pdf", "text"}
    assert model.structured and model.reasoning
    assert model.limits.image == 3_932_160  # 5 MiB once base64-encoded
    assert model.limits.request == 32_000_000 and "Anthropic" in model.limits.source


def test_check_refuses_an_image_over_5_mb_as_base64_and_requests_over_32_mb() -> None:
    model = _model()
    model.check(Prompt.of("ok", files=[_png(3_932_160)]))
    with pytest.raises(Unsupported, match=r"big\.png is 3\.9 MB: .* takes image files up to"):
        model.check(Prompt.of("too big", files=[_png(3_932_161)]))
    model.check(Prompt.of("ok", files=[_pdf(20_000_000)]))
    with pytest.raises(Unsupported, match=r"up to 32\.0 MB in one request \(Anthropic"):
        model.check(Prompt.of("too much", files=[_pdf(20_000_000), _pdf(5_000_000)]))


# -- follow-ups and caching ----------------------------------------------------------------


def test_a_follow_up_goes_as_user_assistant_user_messages() -> None:
    first = Prompt.of("What is in this picture?", system="Be brief.", files=[PNG])
    prompt = first.followed_by("A dot.", "What colour?", (NOTES,))
    request = request_from_prompt(prompt, "claude-x")
    assert request["system"] == "Be brief."
    user, assistant, again = request["messages"]
    assert user["role"] == "user" and [b["type"] for b in user["content"]] == ["image", "text"]
    assert assistant == {"role": "assistant", "content": "A dot."}
    assert again["role"] == "user" and again["content"][-1]["text"] == "What colour?"
    assert "cache_control" not in str(request)


def test_an_empty_earlier_answer_is_left_out() -> None:
    prompt = Prompt.of("Say nothing.").followed_by("  ", "Now say hi.")
    messages = request_from_prompt(prompt, "claude-x")["messages"]
    assert messages == [
        {"role": "user", "content": "Say nothing."},
        {"role": "user", "content": "Now say hi."},
    ]


def test_cache_marks_the_system_prompt_and_the_last_file_block() -> None:
    first = Prompt.of("Compare.", system="You review papers.", files=[PDF, NOTES], cache=True)
    prompt = first.followed_by("They agree.", "And this one?", (PNG,))
    request = request_from_prompt(prompt, "claude-x")
    assert request["system"] == [
        {"type": "text", "text": "You review papers.", "cache_control": EPHEMERAL}
    ]
    lists = [m["content"] for m in request["messages"] if isinstance(m["content"], list)]
    blocks = [b for content in lists for b in content]
    marked = [b["type"] for b in blocks if "cache_control" in b]
    assert marked == ["image"]  # the last file, in the last turn that has files
    assert blocks[-2]["type"] == "image" and blocks[-2]["cache_control"] == EPHEMERAL


def test_cache_without_files_marks_the_system_prompt_only() -> None:
    request = request_from_prompt(Prompt.of("Hi", system="Be terse.", cache=True), "claude-x")
    assert request["system"][0]["cache_control"] == EPHEMERAL
    assert request["messages"] == [{"role": "user", "content": "Hi"}]


# -- structured output ---------------------------------------------------------------------


def test_a_schema_goes_as_output_config_format_made_strict() -> None:
    request = request_from_prompt(Prompt.of("Paris?", schema=City), "claude-x")
    schema = request["output_config"]["format"]["schema"]
    assert request["output_config"]["format"]["type"] == "json_schema"
    assert schema["additionalProperties"] is False
    assert schema["properties"]["population"]["type"] == "integer"
    assert "tools" not in request and "tool_choice" not in request


def test_constraints_the_api_does_not_take_move_into_descriptions() -> None:
    shape = {"type": "object", "properties": {"n": {"type": "integer", "minimum": 1}}}
    request = request_from_prompt(Prompt.of("A number", schema=shape), "claude-x")
    n = request["output_config"]["format"]["schema"]["properties"]["n"]
    assert n == {"type": "integer", "description": "{minimum: 1}"}


@pytest.mark.parametrize("shape", [{}, {"type": ["string", "null"]}])
def test_check_refuses_a_schema_the_api_cannot_take(shape: dict[str, Any]) -> None:
    with pytest.raises(Unsupported, match="cannot be held to this schema") as caught:
        _model().check(Prompt.of("x", schema=shape))
    assert "\n" not in str(caught.value)


# -- reasoning -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model_id", "version"),
    [
        ("claude-opus-4-6", (4, 6)),
        ("claude-sonnet-5", (5, 0)),
        ("claude-fable-5-1", (5, 1)),
        ("claude-haiku-4-5-20251001", (4, 5)),
        ("claude-3-7-sonnet-20250219", (3, 7)),
        ("claude-opus-4-20250514", (4, 0)),
        ("claude-mythos-preview", None),
    ],
)
def test_claude_version(model_id: str, version: tuple[int, int] | None) -> None:
    assert claude_version(model_id) == version


def test_an_effort_on_a_4_6_model_is_adaptive_thinking_with_that_effort() -> None:
    request = request_from_prompt(Prompt.of("Why?", reasoning="medium"), "claude-opus-4-6")
    assert request["thinking"] == {"type": "adaptive", "display": "summarized"}
    assert request["output_config"] == {"effort": "medium"}
    assert request["max_tokens"] == EFFORT_BUDGETS["medium"] + DEFAULT_MAX_TOKENS
    assert "temperature" not in request


def test_an_effort_on_an_older_model_is_a_budget_below_a_raised_max_tokens() -> None:
    request = request_from_prompt(Prompt.of("Why?", reasoning="high"), "claude-sonnet-4-5")
    assert request["thinking"] == {"type": "enabled", "budget_tokens": 24576}
    assert request["max_tokens"] == 24576 + DEFAULT_MAX_TOKENS <= 32_000
    assert "output_config" not in request


def test_a_budget_is_at_least_1024_and_the_answer_keeps_its_max_tokens() -> None:
    prompt = Prompt.of("Why?", reasoning=500, max_tokens=100)
    request = request_from_prompt(prompt, "claude-haiku-4-5-20251001")
    assert request["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert request["max_tokens"] == 1124


def test_a_budget_on_4_6_and_later_is_refused_before_sending() -> None:
    _model("claude-haiku-4-5").check(Prompt.of("Why?", reasoning=3000))
    _model("claude-opus-4-7").check(Prompt.of("Why?", reasoning="high"))
    for later in ("claude-opus-4-6", "claude-opus-4-7", "claude-sonnet-5", "claude-mythos-preview"):
        with pytest.raises(Unsupported, match="give reasoning as an effort") as caught:
            _model(later).check(Prompt.of("Why?", reasoning=3000))
        assert later in str(caught.value)


def test_reasoning_and_a_schema_share_output_config() -> None:
    prompt = Prompt.of("Paris?", schema=City, reasoning="low")
    config = request_from_prompt(prompt, "claude-opus-4-6")["output_config"]
    assert config["effort"] == "low" and config["format"]["type"] == "json_schema"


# -- answers: thinking, reasoning tokens, cache usage --------------------------------------


def test_a_response_keeps_thinking_apart_and_reads_every_usage_figure() -> None:
    message = Message.model_validate(
        {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": "claude-x-20261101",
            "content": [
                {"type": "thinking", "thinking": "Hmm, 4.", "signature": "c2ln"},
                {"type": "redacted_thinking", "data": "b3BhcXVl"},
                {"type": "text", "text": "Four."},
            ],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": 10,
                "cache_read_input_tokens": 100,
                "cache_creation_input_tokens": 20,
                "output_tokens": 30,
                "output_tokens_details": {"thinking_tokens": 25},
            },
        }
    )
    assert completion_from_response(message) == Completion(
        "Four.",
        Usage(130, 30, reasoning_tokens=25, cached_input_tokens=100, cache_write_tokens=20),
        "stop",
        "claude-x-20261101",
        thinking="Hmm, 4.",
    )


def test_a_stream_sends_thinking_and_text_apart_and_keeps_the_cache_figures() -> None:
    state = StreamState()
    pieces = [state.feed(e) for e in _thinking_stream()]
    assert [p for p in pieces if p] == [
        ("thinking", "Two and "),
        ("thinking", "two."),
        ("text", "Four."),
    ]
    # message_delta repeats output only: the cache figures from message_start stay.
    assert state.completion() == Completion(
        "Four.",
        Usage(62, 9, reasoning_tokens=6, cached_input_tokens=50, cache_write_tokens=0),
        "stop",
        "claude-x-20261101",
        thinking="Two and two.",
    )


def test_no_thinking_figure_reported_is_unknown_not_zero() -> None:
    state = StreamState()
    for event in _thinking_stream(details=False):
        state.feed(event)
    usage = state.completion().usage
    assert usage.reasoning_tokens is None and usage.output_tokens == 9


def _thinking_stream(details: bool = True) -> list[RawMessageStreamEvent]:
    usage = {"input_tokens": 12, "output_tokens": 1, "cache_read_input_tokens": 50}
    usage["cache_creation_input_tokens"] = 0
    message = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-x-20261101",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": usage,
    }
    final: dict[str, Any] = {"output_tokens": 9}
    if details:
        final["output_tokens_details"] = {"thinking_tokens": 6}
    thinking = {"type": "thinking", "thinking": "", "signature": ""}
    raw: list[dict[str, Any]] = [
        {"type": "message_start", "message": message},
        {"type": "content_block_start", "index": 0, "content_block": thinking},
        _delta(0, {"type": "thinking_delta", "thinking": "Two and "}),
        _delta(0, {"type": "thinking_delta", "thinking": "two."}),
        _delta(0, {"type": "signature_delta", "signature": "c2lnbmF0dXJl"}),
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
        _delta(1, {"type": "text_delta", "text": "Four."}),
        {"type": "content_block_stop", "index": 1},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": final},
        {"type": "message_stop"},
    ]
    return [EVENTS.validate_python(e) for e in raw]


def _delta(index: int, delta: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": delta}


def _b64(file: File) -> str:
    return base64.b64encode(file.data).decode()


def _png(size: int) -> File:
    return File.of(b"\x89PNG\r\n\x1a\n" + b"\x00" * (size - 8), "big.png")


def _pdf(size: int) -> File:
    return File.of(b"%PDF-" + b"\x00" * (size - 5), "big.pdf")
