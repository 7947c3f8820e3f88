"""An executed audit notebook carries its provenance, and no machine path is committed.

One real papermill run through `workbench audit run` on the wire servers, in a research
repository with a commit; then the CLI's paired sentences, `audit diff` beyond noise and
`audit plan`.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import nbformat
import pytest
from click.testing import CliRunner

from tests.audit.helpers import script_answers, write, write_wire_config
from tests.audit.test_wire_runs import ANSWERS, EXERCISE
from workbench._version import __version__
from workbench.audit import open_run, runs
from workbench.cli import main


def git(folder: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.fixture
def research(isolated: Path, wire: dict[str, Any]) -> Path:
    """A research repository with one commit; the exercise in a subfolder of it."""
    git(isolated, "init", "-q")
    git(isolated, "config", "user.name", "Ada")
    git(isolated, "config", "user.email", "ada@example.org")
    write_wire_config(isolated, wire)
    script_answers(wire, ANSWERS)
    write(isolated, "exercises/capitals.yaml", EXERCISE)
    git(isolated, "add", "exercises")
    git(isolated, "commit", "-qm", "The exercise")
    return isolated


def test_the_notebook_has_its_provenance_and_no_machine_path(research: Path) -> None:
    result = CliRunner().invoke(main, ["audit", "run", "exercises/capitals.yaml", "--no-progress"])
    assert result.exit_code == 0, result.output
    [run] = runs()
    # the summary says each pair in words (gem failed on jp: 3 items in common with it)
    assert (
        "  gpt and claude are right on as many items out of 4 (each right where the other is "
        "wrong on 0); difference 0.0 points"
    ) in result.output
    assert (
        "  gpt is right on 1 more item than gem out of 3; difference 33.3 points" in result.output
    )
    assert "(Holm-adjusted over 3 pairs: p = 1.000)" in result.output

    nb = nbformat.read(run.path / "audit.ipynb", as_version=4)
    nbformat.validate(nb)
    made = nb.metadata["workbench"]
    manifest = run.manifest
    assert made["exercise"]["digest"] == manifest["digest"]
    assert made["exercise"]["file"] == "exercises/capitals.yaml"
    assert made["sessions"] == manifest["sessions"] and made["sessions"]
    assert made["repo_commit"] == made["repo_commits"][0]
    assert made["repo_commit"] == git(research, "rev-list", "--max-parents=0", "HEAD")
    assert made["workbench_version"] == __version__
    gpt = made["models"]["gpt"]
    assert gpt["resolved"] == "openai:gpt-test" and gpt["calls"] == 5
    assert gpt["versions"], "the version the provider reported"
    assert gpt["params"] == [{"max_tokens": 16}]
    assert made["prices"]["openai:gpt-test"]["input_per_mtok"] == 1000.0
    assert made["prices"]["openai:gpt-test"]["source"] == "config"
    assert run.provenance()["models"] == made["models"]

    # relative to the research repository: nothing of this machine's folders is committed
    assert manifest["exercise"] == "exercises/capitals.yaml" and manifest["base"] == "exercises"
    assert nb.metadata["papermill"]["parameters"]["run_dir"] == f"labbook/audits/{run.name}"
    for name in ("audit.ipynb", "manifest.json"):
        text = (run.path / name).read_text()
        assert str(research.parent) not in text, name
        assert "workbench-audit-" not in text, name  # papermill's scratch folder
    injected = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert injected.source.endswith(f'run_dir = "labbook/audits/{run.name}"\n')


def test_diff_says_which_change_is_beyond_noise_and_plan_sizes_a_sweep(
    research: Path, wire: dict[str, Any]
) -> None:
    many = EXERCISE.replace("params: {max_tokens: 16}", "params: {max_tokens: 16}\nsamples: 1")
    items = "\n".join(
        f"  - {{id: c{i}, country: Country{i}, expected: City{i}}}" for i in range(30)
    )
    write(research, "many.yaml", many.split("items:")[0] + "items:\n" + items + "\n")
    right = {f"Country{i}": f"City{i}" for i in range(30)}
    half = {f"Country{i}": (f"City{i}" if i < 15 else "Nowhere") for i in range(30)}
    script_answers(wire, {"gpt": half, "claude": half, "gem": half})
    cli = CliRunner()
    first = cli.invoke(
        main, ["audit", "run", "many.yaml", "--no-progress", "-m", "gpt", "-m", "claude"]
    )
    assert first.exit_code == 0, first.output
    script_answers(wire, {"gpt": right, "claude": half})  # gpt now right on 15 more items
    second = cli.invoke(
        main, ["audit", "run", "many.yaml", "--no-progress", "-m", "gpt", "-m", "claude"]
    )
    assert second.exit_code == 0, second.output
    a, b = (run.name for run in runs())
    diffed = cli.invoke(main, ["audit", "diff", a, b])
    assert diffed.exit_code == 0, diffed.output
    assert "15 of 30 items changed" in diffed.output
    assert (
        "  gpt: accuracy 50.0% -> 100.0% on the 30 items both runs scored (+50.0 points"
    ) in diffed.output
    lines = diffed.output.splitlines()
    assert next(x for x in lines if x.startswith("  gpt:")).endswith("): beyond noise")
    assert next(x for x in lines if x.startswith("  claude:")).endswith("): within noise")

    planned = cli.invoke(main, ["audit", "plan", b, "--difference", "0.1"])
    assert planned.exit_code == 0, planned.output
    need = open_run(b).plan(0.1).iloc[0]["items_needed"]
    assert planned.output.strip() == (
        "gpt and claude differ on 50.0% of the 30 pilot items; to detect a 10.0-point "
        f"difference with 80% power (exact McNemar, alpha = 0.05): {need} items"
    )
    given = cli.invoke(main, ["audit", "plan", "--difference", "0.1", "--discordance", "0.3"])
    assert given.output.strip().endswith("(exact McNemar, alpha = 0.05): 249 items")
    bad = cli.invoke(main, ["audit", "plan", "--difference", "5"])
    assert bad.exit_code == 1
    assert bad.output.strip() == (
        "Error: difference is a share between 0 and 1 (0.05 is 5%), not 5.0"
    )
    json.dumps(open_run(b).provenance())  # plain JSON
