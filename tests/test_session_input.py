"""Bad input to the Python API: a one-line WorkbenchError of the right kind, nothing sent."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tests.conftest import wire_config
from workbench.budget import Budget
from workbench.errors import InvalidOption, InvalidPrompt, RunTooLarge
from workbench.providers.base import Prompt
from workbench.sessions import Session


@pytest.fixture
def session(wire: dict[str, Any]) -> Any:
    with Session(wire_config(wire), labbook=False) as s:  # type: ignore[arg-type]
        yield s


@pytest.mark.parametrize("prompt", [None, 123, 4.5, {"text": "hi"}, [None], ["ok", 7]])
def test_a_prompt_that_is_not_text_is_a_one_line_invalid_prompt(session: Any, prompt: Any) -> None:
    with pytest.raises(InvalidPrompt) as caught:
        session.compare(prompt, ["openai:gpt-test"])
    assert "\n" not in str(caught.value) and "prompt" in str(caught.value)


def test_an_empty_model_list_is_an_error_not_the_paid_defaults(
    session: Any, wire: dict[str, Any]
) -> None:
    with pytest.raises(InvalidOption, match=r"models=\[\] names no model"):
        session.compare("hi", models=[])
    assert all(not server.requests for server in wire.values())


@pytest.mark.parametrize("models", [5, [1, 2], ["openai:gpt-test", None]])
def test_models_that_are_not_names_are_an_invalid_option(session: Any, models: Any) -> None:
    with pytest.raises(InvalidOption, match="models must be"):
        session.compare("hi", models=models)


def test_a_model_named_twice_is_an_invalid_option_not_an_invalid_prompt(session: Any) -> None:
    with pytest.raises(InvalidOption, match="named twice"):
        session.compare("hi", ["openai:gpt-test", "openai:gpt-test"])


def test_a_huge_run_is_refused_before_anything_is_built(session: Any, wire: dict[str, Any]) -> None:
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(RunTooLarge, match="1,000,000 calls") as caught:
            session.compare("hi", ["openai:gpt-test"], samples=1_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000  # nothing of a million jobs was built
    assert "max_calls" in str(caught.value)
    assert not wire["openai"].requests


def test_a_big_run_can_be_allowed_deliberately(session: Any) -> None:
    comparison = session.compare("hi", ["openai:gpt-test"], samples=3, max_calls=3)
    assert len(comparison) == 3 and all(r.ok for r in comparison)
    with pytest.raises(RunTooLarge):
        session.compare("hi", ["openai:gpt-test"], samples=3, max_calls=2)


@pytest.mark.parametrize("text", ["caf\udce9", "a\ud800b"])
def test_lone_surrogates_in_a_prompt_are_refused_before_sending(
    session: Any, wire: dict[str, Any], text: str
) -> None:
    with pytest.raises(InvalidPrompt, match="not valid Unicode"):
        session.compare(text, ["openai:gpt-test"])
    with pytest.raises(InvalidPrompt, match="not valid Unicode"):
        Prompt.of("fine", system=text)
    assert not wire["openai"].requests


@pytest.mark.parametrize("cap", [math.nan, -1, -0.01, math.inf, "5", True])
def test_a_budget_must_be_a_number_of_usd_at_least_zero(session: Any, cap: Any) -> None:
    with pytest.raises(InvalidOption, match="USD from 0 up"):
        Budget(cap, "run")
    with pytest.raises(InvalidOption, match="USD from 0 up"):
        session.compare("hi", ["openai:gpt-test"], budget_usd=cap)
    with pytest.raises(InvalidOption):
        Session(budget_usd=cap, labbook=False)


@pytest.mark.parametrize("samples", [0, -1, 1.5, True, "2"])
def test_samples_must_be_a_whole_number(session: Any, samples: Any) -> None:
    with pytest.raises(InvalidOption, match="samples"):
        session.compare("hi", ["openai:gpt-test"], samples=samples)


@pytest.mark.parametrize("seed", [-1, 2**31, 2**40])
def test_a_seed_out_of_every_providers_range_is_refused(session: Any, seed: int) -> None:
    with pytest.raises(InvalidPrompt, match="seed must be a whole number from 0"):
        session.compare("hi", ["openai:gpt-test"], seed=seed)


def test_model_names_are_labels_as_resolved(session: Any) -> None:
    comparison = session.compare("hi", [" openai:gpt-test "])
    assert comparison.models == ("openai:gpt-test",)
    assert comparison["openai:gpt-test"].ok


@pytest.mark.local_model
def test_a_prompt_too_long_for_the_local_model_is_a_bad_request() -> None:
    with Session(labbook=False) as local:
        reply = local.compare("word " * 5000, ["local"], max_tokens=4)["local"]
    assert reply.error is not None and reply.error.type == "BadRequest"
    assert "context window" in reply.error.message
