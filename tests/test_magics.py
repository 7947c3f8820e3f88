"""`%load_ext workbench`, `%%compare` and `%workbench log` on a real kernel (nbclient)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook

from workbench.magics import cell_prompt, compare_parser, interpolate, log_parser, workbench_line


def execute(tmp_path: Path, *sources: str) -> list[Any]:
    """Run cells on a fresh python3 kernel; every cell's outputs."""
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    client = NotebookClient(
        nb,
        kernel_name="python3",
        timeout=240,
        allow_errors=True,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    return [cell.outputs for cell in nb.cells]


def html_of(outputs: list[Any]) -> str:
    return "".join(str(o.get("data", {}).get("text/html", "")) for o in outputs)


def text_of(outputs: list[Any]) -> str:
    parts = [str(o.get("text", "")) for o in outputs]
    parts += [str(o.get("data", {}).get("text/plain", "")) for o in outputs]
    parts += [f"{o.get('ename')}: {o.get('evalue')}" for o in outputs if o.output_type == "error"]
    return "\n".join(parts)


def test_compare_magic_streams_shows_the_view_and_binds_the_comparison(tmp_path: Path) -> None:
    outputs = execute(
        tmp_path,
        "%load_ext workbench",
        'topic = "the sky"',
        "%%compare local terse -t 0 -m 12 --out cmp\nWhat colour is {topic}? Keep {{braces}}.",
        "import json\n"
        "print(json.dumps({'type': type(cmp).__name__, 'prompt': cmp.prompts[0].text,\n"
        "  'models': list(cmp.models), 'ok': [r.ok for r in cmp],\n"
        "  'params': [j.prompt.params.to_dict() for j in cmp.jobs],\n"
        "  'texts': [r.text for r in cmp], 'ids': list(cmp.record_ids)}))",
        "cmp.pick('local', 'clearer')\n%workbench log -n 3",
        "%workbench log -k call --model terse",
    )
    magic = outputs[2]
    assert not [o for o in magic if o.output_type == "error"], text_of(magic)
    html = html_of(magic)
    assert 'class="wb-grid"' in html and "What colour is the sky? Keep {braces}." in html
    facts = json.loads(outputs[3][0]["text"])
    assert facts["type"] == "Comparison" and facts["models"] == ["local", "terse"]
    assert facts["prompt"] == "What colour is the sky? Keep {braces}."
    assert facts["ok"] == [True, True] and all(facts["ids"])
    assert all(p["temperature"] == 0 and p["max_tokens"] == 12 for p in facts["params"])
    for text in facts["texts"]:
        assert re.findall(r"[A-Za-z]{3,}", text)[0] in html
    log = html_of(outputs[4])
    assert "<table" in log and "decision" in log and "clearer" in log
    assert facts["ids"][0] in log and facts["ids"][1] in log
    only_terse = text_of(outputs[5]) + html_of(outputs[5])
    assert "terse" in only_terse and "What colour is the sky?" in only_terse
    assert ">decision<" not in html_of(outputs[5])


def test_bad_options_and_names_are_one_line_usage_errors(tmp_path: Path) -> None:
    outputs = execute(
        tmp_path,
        "%load_ext workbench",
        "%%compare local --temperature warm\nhi",
        "%%compare nope:x\nhi {undefined_here}",
        "%workbench frobnicate",
    )
    assert "UsageError" in text_of(outputs[1]) and "warm" in text_of(outputs[1])
    unknown = text_of(outputs[2])
    assert "UsageError" in unknown and "unknown model 'nope:x'" in unknown
    assert "not defined in the notebook, sent as written: {undefined_here}" in unknown
    assert "use %workbench log" in text_of(outputs[3])
    for cell in outputs[1:]:
        assert "Traceback" not in text_of(cell)


@pytest.mark.parametrize(
    ("text", "expected", "missing"),
    [
        ("Explain {topic}.", "Explain gravity.", []),
        ("{{topic}} and {topic}", "{topic} and gravity", []),
        ('json {"a": 1} and {n}', 'json {"a": 1} and 3', []),
        ("{nope} stays", "{nope} stays", ["nope"]),
    ],
)
def test_interpolation(text: str, expected: str, missing: list[str]) -> None:
    assert interpolate(text, {"topic": "gravity", "n": 3}) == (expected, missing)


def test_loading_the_extension_registers_both_magics_lazily() -> None:
    from IPython.core.interactiveshell import InteractiveShell

    import workbench

    shell = InteractiveShell.instance()
    try:
        workbench.load_ipython_extension(shell)
        assert "compare" in shell.magics_manager.magics["cell"]
        assert "workbench" in shell.magics_manager.magics["line"]
    finally:
        InteractiveShell.clear_instance()


@pytest.mark.parametrize(
    ("cell", "prompt"),
    [
        ("Say {x}.\n", "Say X."),
        ("Say {x}.\r\n\n", "Say X."),
        ("Say {x}.  \n", "Say X.  "),  # like "$(cat file)": only line breaks are dropped
        ("\nSay {x}.", "\nSay X."),
    ],
)
def test_a_cell_is_read_by_the_rule_for_files_and_stdin(cell: str, prompt: str) -> None:
    assert cell_prompt(cell, {"x": "X"}) == (prompt, [])


def test_a_cell_and_the_cli_send_the_same_request(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.labbook.helpers import calls
    from workbench.config import Config
    from workbench.labbook import locate

    text = "Say X.  "  # trailing spaces: the rule keeps them, in a cell and from stdin
    workbench = str(Path(sys.executable).with_name("workbench"))
    done = subprocess.run(
        [workbench, "compare", "-", "-m", "local", "--max-tokens", "1"],
        input=f"{text}\n".encode(),
        capture_output=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    outputs = execute(tmp_path, "%load_ext workbench", f"%%compare local -m 1\n{text}\n")
    assert not [o for o in outputs[1] if o.output_type == "error"], text_of(outputs[1])
    records = calls(locate(Config.load()))
    assert [r["prompt"]["messages"][-1]["content"] for r in records] == [text, text]
    assert records[0]["request_hash"] == records[1]["request_hash"]


@pytest.mark.parametrize(
    ("parse", "message"),
    [
        (lambda: compare_parser().parse_args(["local", "--out", "1x"]), "'1x' is not a variable"),
        (lambda: compare_parser().parse_args(["local", "-o", "my cmp"]), "is not a variable"),
        (lambda: compare_parser().parse_args(["local", "-o", "class"]), "is not a variable"),
        (lambda: log_parser().parse_args(["-n", "-5"]), "'-5' is not a whole number >= 0"),
        (lambda: workbench_line('log --model "gpt'), "no closing quotation"),
    ],
)
def test_odd_magic_options_are_usage_errors(parse: Any, message: str) -> None:
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match=message):
        parse()


def test_a_cell_line_with_unclosed_quotes_is_a_usage_error(tmp_path: Path) -> None:
    outputs = execute(tmp_path, "%load_ext workbench", '%%compare local -s "Be brief\nhi')
    assert "UsageError" in text_of(outputs[1]) and "no closing quotation" in text_of(outputs[1])


def test_compare_magic_follows_up_a_comparison_and_refuses_what_is_not_one(
    tmp_path: Path,
) -> None:
    outputs = execute(
        tmp_path,
        "%load_ext workbench",
        "%%compare local terse -m 12 --out first\nWhat is 2+2?",
        "%%compare --follow-up first --out second\nAnd in one word?",
        "import json\n"
        "print(json.dumps({'parents': [j.parent for j in second.jobs],\n"
        "  'firsts': list(first.record_ids), 'models': list(second.models),\n"
        "  'turns': [len(j.prompt.turns) for j in second.jobs]}))",
        "nothing = 3",
        "%%compare --follow-up nothing\nMore?",
    )
    for cell in outputs[:4]:
        assert not [o for o in cell if o.output_type == "error"], text_of(cell)
    facts = json.loads(outputs[3][0]["text"])
    assert facts["parents"] == facts["firsts"] and facts["models"] == ["local", "terse"]
    assert facts["turns"] == [3, 3]
    assert "not a Comparison in the notebook" in text_of(outputs[5])
