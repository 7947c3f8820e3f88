"""The audit commands end to end through click: list, diff, combine, a user template, errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
from click.testing import CliRunner
from nbformat.v4 import new_code_cell, new_notebook

from tests.audit.helpers import script_answers, write, write_wire_config
from tests.audit.test_wire_runs import ANSWERS, EXERCISE
from workbench.audit import run_audit
from workbench.cli import main


def test_list_diff_and_combine_from_the_shell(isolated: Path, wire: dict[str, Any]) -> None:
    write_wire_config(isolated, wire)
    script_answers(wire, ANSWERS)
    write(isolated, "capitals.yaml", EXERCISE)
    one = run_audit("capitals.yaml", notebook=False, progress=False, shard="1/2")
    two = run_audit("capitals.yaml", notebook=False, progress=False, shard="2/2")
    cli = CliRunner()

    listed = cli.invoke(main, ["audit", "list"])
    assert listed.exit_code == 0 and one.name in listed.output and two.name in listed.output

    # gem now says Rome for Italy: that item changes from disagree to agree-correct
    script_answers(wire, {**ANSWERS, "gem": {**ANSWERS["gem"], "Italy": "Rome"}})
    three = run_audit("capitals.yaml", notebook=False, progress=False, shard="1/2")
    diffed = cli.invoke(main, ["audit", "diff", one.folder.run_id, three.name])
    assert diffed.exit_code == 0, diffed.output
    assert "1 of 3 items changed" in diffed.output
    changed = [line for line in diffed.output.splitlines() if line.startswith("it ")]
    assert changed and "disagree" in changed[0] and "agree-correct" in changed[0]

    combined = cli.invoke(main, ["audit", "combine", one.name, two.name])
    assert combined.exit_code == 0, combined.output
    assert "5/5 items done" in combined.output and "2 need a human" in combined.output

    lonely = cli.invoke(main, ["audit", "combine", one.name])
    assert lonely.exit_code == 1 and "combine needs two runs or more" in lonely.output
    missing = cli.invoke(main, ["audit", "resume", "no-such-run"])
    assert missing.exit_code == 1 and "no audit run 'no-such-run'" in missing.output
    bad_shard = cli.invoke(main, ["audit", "run", "capitals.yaml", "--shard", "3/2"])
    assert bad_shard.exit_code == 1 and "K must be from 1 to N" in bad_shard.output


def test_a_user_template_with_its_own_parameters(isolated: Path, wire: dict[str, Any]) -> None:
    write_wire_config(isolated, wire)
    script_answers(wire, ANSWERS)
    write(isolated, "capitals.yaml", EXERCISE)
    parameters = new_code_cell('run_dir = ""\ngreeting = "none"')
    parameters.metadata["tags"] = ["parameters"]
    nb = new_notebook(
        cells=[
            parameters,
            new_code_cell(
                "from workbench import audit\naudit.execute(run_dir)\n"
                "print(greeting, len(audit.open_run(run_dir).rows))"
            ),
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.write(nb, isolated / "mine.ipynb")
    result = CliRunner().invoke(
        main,
        ["audit", "run", "capitals.yaml", "--template", "mine.ipynb", "-p", "greeting", "hello",
         "--sample", "2", "--no-progress"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2/2 items done" in result.output
    folder = Path(result.output.split("run folder: ")[1].split()[0])
    executed = nbformat.read(folder / "audit.ipynb", as_version=4)
    printed = [o for o in executed.cells[-1].outputs if o.get("name") == "stdout"]
    assert printed[0]["text"] == "hello 2\n"
