import pytest

from workbench.errors import InvalidPrompt
from workbench.providers.base import Message, Params, Prompt


def test_prompt_of_puts_the_system_prompt_first() -> None:
    prompt = Prompt.of("What is 2+2?", system="Be brief.", temperature=0)
    assert prompt.messages == (Message("system", "Be brief."), Message("user", "What is 2+2?"))
    assert prompt.system == "Be brief."
    assert prompt.text == "What is 2+2?"
    assert prompt.params.to_dict() == {"temperature": 0}


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_an_empty_prompt_is_refused(text: str) -> None:
    with pytest.raises(InvalidPrompt, match="the prompt is empty"):
        Prompt.of(text)


def test_a_prompt_that_is_not_text_is_refused() -> None:
    with pytest.raises(InvalidPrompt, match="must be text, not int"):
        Prompt.of(42)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"temperature": 3}, "temperature must be a number from 0 to 2, not 3"),
        ({"temperature": -0.1}, "temperature must be"),
        ({"temperature": "hot"}, "temperature must be"),
        ({"temperature": float("nan")}, "temperature must be"),
        ({"max_tokens": 0}, "max_tokens must be a whole number of at least 1, not 0"),
        ({"max_tokens": 1.5}, "max_tokens must be"),
        ({"max_tokens": True}, "max_tokens must be"),
        ({"top_p": 0}, "top_p must be"),
        ({"seed": "x"}, "seed must be a whole number"),
        ({"stop": [""]}, "stop must be a list of non-empty strings"),
        ({"temprature": 1}, "unknown parameter 'temprature': use one of"),
    ],
)
def test_bad_parameters_name_the_parameter_and_the_fix(params: dict, message: str) -> None:
    with pytest.raises(InvalidPrompt, match=message):
        Prompt.of("hi", **params)


def test_params_merge_keeps_set_values_of_the_override() -> None:
    base = Params(temperature=0.5, max_tokens=10)
    merged = base.merged(Params(max_tokens=20, stop=("x",)))
    assert merged == Params(temperature=0.5, max_tokens=20, stop=("x",))
    assert Params.from_mapping({"stop": "END"}).stop == ("END",)
