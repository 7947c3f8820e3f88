"""Batch runs end to end: the real SDKs' batch methods against the three batch wire servers.

Submit and exit, resume from another process (or a fresh API call), results recorded as
ordinary call records (same request hashes as a live run), replayed with no request,
priced at batch rates, the budget checked before submitting, a failed request and an
expired batch as error replies, and a later resume asking again in a new batch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.audit.helpers import script_answers, write, write_wire_config
from workbench.audit import open_run, rerun, resume, run_audit, runs
from workbench.audit.batch import BatchOverBudget
from workbench.cli import main

WORKBENCH = str(Path(sys.executable).with_name("workbench"))

EXERCISE = """
name: capitals
template: "What is the capital of {country}?"
scorer: normalised
models: [gpt, claude, gem]
params: {max_tokens: 16}
items:
  - {id: fr, country: France, expected: Paris}
  - {id: de, country: Germany, expected: Berlin}
  - {id: it, country: Italy, expected: Rome}
  - {id: es, country: Spain}
  - {id: jp, country: Japan, expected: Tokyo}
"""

ANSWERS = {
    "gpt": {"France": "Paris.", "Germany": "Munich", "Italy": "Rome", "Spain": "Madrid",
            "Japan": "Tokyo"},
    "claude": {"France": "paris", "Germany": "Munich.", "Italy": "Rome", "Spain": "Madrid",
               "Japan": "Tokyo"},
    "gem": {"France": "PARIS", "Germany": "munich", "Italy": "Milan", "Spain": "madrid!",
            "Japan": "!400"},
}  # fmt: skip
OUTCOMES = {
    "fr": "agree-correct",
    "de": "agree-wrong",
    "it": "disagree",
    "es": "no-expected",
    "jp": "error",
}
LIVE_PATHS = ("/v1/chat/completions", "/v1/messages", ":generateContent")


@pytest.fixture
def repo(isolated: Path, batch_wire: dict[str, Any]) -> Path:
    """The work folder as a git repository, a config for the servers, the exercise."""
    subprocess.run(["git", "init", "-q", str(isolated)], check=True)
    for key, value in (("user.name", "Ada"), ("user.email", "ada@example.org")):
        subprocess.run(["git", "-C", str(isolated), "config", key, value], check=True)
    write_wire_config(isolated, batch_wire)
    script_answers(batch_wire, ANSWERS)
    write(isolated, "capitals.yaml", EXERCISE)
    return isolated


def live_requests(server: Any) -> list[Any]:
    """Requests sent to the vendor's live endpoint (not its batch API)."""
    return [r for r in server.requests if r.method == "POST" and r.path.endswith(LIVE_PATHS)]


def call_records(root: Path, sessions: list[str]) -> list[dict[str, Any]]:
    from workbench.audit.records import session_records

    return [r for r in session_records(root, sessions) if r["kind"] == "call"]


def workbench(*args: str) -> subprocess.CompletedProcess[str]:
    """The real CLI in a process of its own (the same environment: keys, PYTHONPATH, cwd)."""
    return subprocess.run(
        [WORKBENCH, *args], capture_output=True, text=True, timeout=300, env=dict(os.environ)
    )


def test_a_batch_run_exits_after_submitting_and_another_process_finishes_it(
    repo: Path, batch_wire: dict[str, Any]
) -> None:
    result = CliRunner().invoke(main, ["audit", "run", "capitals.yaml", "--batch"])
    assert result.exit_code == 0, result.output
    (run,) = runs()
    assert run.status == "batch-submitted"
    said = [line for line in result.stderr.splitlines() if "resume" in line]
    assert said == [
        f"workbench: {run.name}: 15 calls submitted in batches; when they are done (up to "
        f"24 h), continue with `workbench audit resume {run.name}`"
    ]
    # progress: one line per batch, submitted
    assert "openai:gpt-test: 5 calls submitted, batch batch_" in result.stderr
    # nothing went to the live endpoints; each vendor got one batch of the five prompts
    state = json.loads((run.path / "batches.json").read_text())
    assert [b["model"] for b in state["batches"]] == [
        "openai:gpt-test", "anthropic:claude-test", "gemini:gemini-test",
    ]  # fmt: skip
    for server in batch_wire.values():
        assert not live_requests(server)
        assert len(server.batches.batched) == 5
    assert run.rows == []

    # another process: the batches still run (first poll), then they ended
    first = workbench("audit", "resume", run.name, "--no-progress")
    assert first.returncode == 0, first.stderr
    assert "the batches are still running" in first.stderr
    assert open_run(run.name).status == "batch-submitted"
    second = workbench("audit", "resume", run.name)
    assert second.returncode == 0, second.stderr
    assert "gemini:gemini-test batch batches/" in second.stderr  # progress, per batch
    assert "5 submitted, 4 completed, 1 failed" in second.stderr

    done = open_run(run.name)
    assert done.status == "complete-with-errors"
    table = done.outcomes()
    assert {item: str(table.loc[item, "outcome"]) for item in table.index} == OUTCOMES
    assert table.loc["it", ["gpt", "claude", "gem"]].tolist() == ["rome", "rome", "milan"]
    for server in batch_wire.values():
        assert not live_requests(server)  # every answer came from a batch

    # ordinary call records, tagged and priced at half the standard rate (1000 $/Mtok)
    records = call_records(repo / "labbook", done.manifest["sessions"])
    assert len(records) == 15
    for record in records:
        reply = record["reply"]
        assert record["tags"][0] == "batch" and record["tags"][1].startswith("batch:")
        assert "at the batch rate (0.5x)" in reply["price_source"]
        if reply["error"] is None:
            usage = reply["usage"]
            full = (usage["input_tokens"] + usage["output_tokens"]) * 1000 / 1e6
            assert reply["cost_usd"] == pytest.approx(full / 2)
    import workbench as wb

    tagged = wb.log.to_frame(tag="batch", kind="call")
    assert sorted(tagged["id"]) == sorted(r["id"] for r in records)
    billed = done.provenance()["prices"]  # the executed notebook says what was billed
    assert billed["openai:gpt-test"]["input_per_mtok"] == 500.0
    assert "batch rate" in billed["gemini:gemini-test"]["source"]
    failed = [r for r in records if r["reply"]["error"]]
    assert [(r["model"], r["reply"]["error"]["type"]) for r in failed] == [("gem", "BadRequest")]
    assert failed[0]["reply"]["cost_usd"] == 0.0  # a failed request is not billed
    assert done.manifest["spent_usd"] == pytest.approx(sum(r["reply"]["cost_usd"] for r in records))

    # the same requests a live run sends: the same request hashes
    live = run_audit("capitals.yaml", notebook=False, progress=False)
    live_records = call_records(repo / "labbook", live.manifest["sessions"])
    assert {r["request_hash"] for r in live_records} == {r["request_hash"] for r in records}
    assert live.outcomes()["outcome"].equals(table["outcome"])
    for answer_b, answer_l in zip(
        (a for row in done.rows for a in row["answers"] if not a["error"]),
        (a for row in live.rows for a in row["answers"] if not a["error"]),
        strict=True,
    ):
        assert answer_b["cost_usd"] == pytest.approx(answer_l["cost_usd"] / 2)

    # replayed with no request made, the same table
    before = {p: len(s.requests) for p, s in batch_wire.items()}
    replayed = rerun(run.name, progress=False)
    assert {p: len(s.requests) for p, s in batch_wire.items()} == before
    assert replayed.outcomes().equals(done.outcomes())
    assert replayed.manifest["spent_usd"] == 0.0


def test_the_budget_is_checked_on_the_whole_batch_at_batch_rates_before_submitting(
    repo: Path, batch_wire: dict[str, Any]
) -> None:
    from workbench.audit.exercise import load
    from workbench.audit.spend import Admission
    from workbench.budget import Budget
    from workbench.config import Config
    from workbench.providers import registry
    from workbench.providers.base import Prompt
    from workbench.run import Job

    # what the 15 calls could cost at the standard rates, as live runs reserve it
    config = Config.load()
    exercise = load(repo / "capitals.yaml", config)
    specs = [registry.resolve(m, config) for m in ("gpt", "claude", "gem")]
    prompts = [
        Prompt.of(exercise.render(item), system=exercise.system, **exercise.params)
        for item in exercise.items
    ]
    jobs = [Job.plan(spec, prompt) for prompt in prompts for spec in specs]
    full = Admission(Budget(None, "run"), config).estimate(jobs)

    result = CliRunner().invoke(
        main, ["audit", "run", "capitals.yaml", "--batch", "--budget", f"{full * 0.4:.6f}"]
    )
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "at batch rates" in lines[0] and "nothing was submitted" in lines[0]
    assert f"up to ${full / 2:.4f}" in lines[0]
    assert runs() == []  # no run folder left behind
    for server in batch_wire.values():
        assert server.requests == []  # nothing sent at all

    # three quarters of the standard price holds the batch at half of it
    run = run_audit("capitals.yaml", batch=True, budget_usd=full * 0.75, progress=False)
    assert run.status == "batch-submitted"
    with pytest.raises(BatchOverBudget):
        run_audit("capitals.yaml", batch=True, budget_usd=full * 0.45, progress=False)
    # the session's cap, which this process's live calls are held to, holds the batch too
    with (repo / "workbench.toml").open("a") as toml:
        toml.write(f"[budget]\nsession_usd = {full * 0.45}\n")
    with pytest.raises(BatchOverBudget, match=r"session's budget .* raise \[budget\] session_usd"):
        run_audit("capitals.yaml", batch=True, progress=False)
    assert len(runs()) == 1


def test_an_expired_batch_makes_its_unrun_requests_error_replies_and_a_resume_asks_again(
    repo: Path, batch_wire: dict[str, Any]
) -> None:
    for server in batch_wire.values():
        server.batches.expire_after = 2  # two requests answered, then the batch expires
    run = run_audit("capitals.yaml", batch=True, notebook=False, progress=False)
    done = resume(run.name, wait=True, poll_s=0.0, progress=False)
    assert done.status == "complete-with-errors"
    records = call_records(repo / "labbook", done.manifest["sessions"])
    by_model: dict[str, list[str | None]] = {}
    for record in sorted(records, key=lambda r: r["prompt"]["messages"][-1]["content"]):
        error = record["reply"]["error"]
        by_model.setdefault(record["model"], []).append(error and error["type"])
    # OpenAI and Anthropic answer the first two; an expired Gemini batch has no results
    assert sorted(by_model["gpt"], key=str) == [None, None, *["ProviderTimeout"] * 3]
    assert sorted(by_model["claude"], key=str) == [None, None, *["ProviderTimeout"] * 3]
    assert by_model["gem"] == ["ProviderTimeout"] * 5
    unrun = [r for r in records if r["reply"]["error"]]
    assert all(r["reply"]["cost_usd"] == 0.0 for r in unrun)  # never ran, never billed
    assert all("before this request ran" in r["reply"]["error"]["message"] for r in unrun)
    assert set(done.outcomes()["outcome"]) == {"error"}

    # a later resume asks again for what failed, in new batches, and finishes the run
    for server in batch_wire.values():
        server.batches.expire_after = None
    again = resume(run.name, wait=True, poll_s=0.0, notebook=False, progress=False)
    state = json.loads((run.path / "batches.json").read_text())
    assert len(state["batches"]) == 6 and all(b["recorded"] for b in state["batches"])
    again_sent = {b["model"]: b["total"] for b in state["batches"][3:]}
    assert again_sent == {"openai:gpt-test": 3, "anthropic:claude-test": 3, "gemini:gemini-test": 5}
    table = again.outcomes()
    assert {item: str(table.loc[item, "outcome"]) for item in table.index} == OUTCOMES
    # the row holds the latest answer: Japan's second Gemini request failed otherwise
    [japan] = [a for row in again.rows if row["item"] == "jp" for a in row["answers"]
               if a["model"] == "gem"]  # fmt: skip
    assert japan["error"].startswith("BadRequest:")
    for server in batch_wire.values():
        assert not live_requests(server)


def test_models_without_a_batch_mode_run_live_in_a_batch_run(
    repo: Path, batch_wire: dict[str, Any]
) -> None:
    from tests.wire.openai_server import OpenAIServer

    with OpenAIServer(require_auth=False) as compat:
        config = repo / "workbench.toml"
        config.write_text(
            config.read_text()
            + f'[providers.box]\ntype = "compat"\nbase_url = "{compat.base_url}"\n'
        )
        run = run_audit(
            "capitals.yaml", ["gpt", "box:gpt-test"], batch=True, notebook=False, progress=False
        )
        assert not live_requests(compat)  # the compat model waits for the batch
        done = resume(run.name, wait=True, poll_s=0.0, progress=False)
        assert done.status == "complete"
        assert len(live_requests(compat)) == 5  # sent live, as always
        assert len(batch_wire["openai"].batches.batched) == 5
        assert not live_requests(batch_wire["openai"])


def test_a_run_with_no_batchable_model_is_refused(repo: Path) -> None:
    result = CliRunner().invoke(main, ["audit", "run", "capitals.yaml", "--batch", "-m", "local"])
    assert result.exit_code == 1
    assert "has a batch mode" in result.output and "run without --batch" in result.output
    assert runs() == []


def test_big_batches_are_split_and_results_cut_short_are_not_recorded_twice(
    repo: Path, batch_wire: dict[str, Any]
) -> None:
    from workbench.audit import batch
    from workbench.config import Config

    with (repo / "workbench.toml").open("a") as toml:  # a small account limit per batch
        toml.write("[providers.openai.options]\nbatch_max_requests = 2\n")
    run = run_audit("capitals.yaml", ["gpt"], batch=True, notebook=False, progress=False)
    state = json.loads((run.path / "batches.json").read_text())
    assert [b["total"] for b in state["batches"]] == [2, 2, 1]
    assert len({b["id"] for b in state["batches"]}) == 3
    done = resume(run.name, wait=True, poll_s=0.0, progress=False)
    assert done.status == "complete" and len(done.rows) == 5

    # a process killed while recording leaves a batch unmarked: collecting again adds nothing
    state = json.loads((run.path / "batches.json").read_text())
    state["batches"][1]["recorded"] = False
    (run.path / "batches.json").write_text(json.dumps(state))
    assert batch.collect(run.folder, Config.load(), progress=False)
    records = call_records(repo / "labbook", open_run(run.name).manifest["sessions"])
    hashes = [r["request_hash"] for r in records]
    assert len(hashes) == 5 == len(set(hashes))


CHARTS = """
name: charts
template: "Which series ends highest in this chart?"
files: [chart]
schema:
  type: object
  properties:
    series: {type: string}
    value: {type: number}
  required: [series, value]
scorer: json
models: [gpt, claude, gem]
params: {max_tokens: 64}
items:
  - {id: sales, chart: sales.png, expected: {series: north, value: 42}}
  - {id: costs, chart: costs.png, expected: {series: rent, value: 12.5}}
"""


def test_files_and_schemas_go_in_batches_as_they_go_live(
    repo: Path, batch_wire: dict[str, Any]
) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    for name in ("sales.png", "costs.png"):
        (repo / name).write_bytes(png)
    write(repo, "charts.yaml", CHARTS)
    run = run_audit("charts.yaml", batch=True, notebook=False, progress=False)
    done = resume(run.name, wait=True, poll_s=0.0, progress=False)
    answers = [a for row in done.rows for a in row["answers"]]
    assert len(answers) == 6
    # the servers check each request's file parts and schema as they check live ones
    assert all(a["error"] is None for a in answers), [a["error"] for a in answers]
    assert all(set(a["data"]) == {"series", "value"} for a in answers)
    sent = {p: s.batches.batched[0].body for p, s in batch_wire.items()}
    assert sent["openai"]["messages"][-1]["content"][0]["type"] == "image_url"
    assert sent["anthropic"]["messages"][-1]["content"][0]["type"] == "image"
    assert "inlineData" in sent["gemini"]["contents"][-1]["parts"][0]


def test_ctrl_c_while_waiting_stops_the_wait_not_the_batches(
    repo: Path, batch_wire: dict[str, Any]
) -> None:
    import signal

    for server in batch_wire.values():
        server.batches.in_progress_polls = 1000
    run = run_audit("capitals.yaml", ["gpt"], batch=True, progress=False)
    waiting = subprocess.Popen(
        [WORKBENCH, "audit", "resume", run.name, "--wait"],
        stderr=subprocess.PIPE, text=True, env=dict(os.environ),
    )  # fmt: skip
    assert waiting.stderr is not None
    first = waiting.stderr.readline()  # the progress line, printed before the first wait
    assert "in_progress, 5 submitted, 0 completed, 0 failed" in first
    waiting.send_signal(signal.SIGINT)
    rest = waiting.communicate(timeout=60)[1]
    assert waiting.returncode == 0, rest
    assert "the batches are still running" in rest and "Traceback" not in rest
    assert open_run(run.name).status == "batch-submitted"
    polls = batch_wire["openai"].batches.jobs
    assert [job.polls for job in polls.values()] == [1]  # polled once, then the wait stopped


def test_a_submission_cut_short_keeps_what_was_submitted_and_resume_submits_the_rest(
    repo: Path, batch_wire: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "a-wrong-key")  # OpenAI's batch goes, then 401
    result = CliRunner().invoke(main, ["audit", "run", "capitals.yaml", "--batch"])
    assert result.exit_code == 1
    (run,) = runs()
    assert f"`workbench audit resume {run.name}` submits the rest" in result.stderr
    assert "refused the API key" in result.stderr.splitlines()[-1]
    state = json.loads((run.path / "batches.json").read_text())
    assert [b["model"] for b in state["batches"]] == ["openai:gpt-test"]

    monkeypatch.setenv("ANTHROPIC_API_KEY", batch_wire["anthropic"].api_key)
    resume(run.name, notebook=False, progress=False)  # submits the rest, exits
    state = json.loads((run.path / "batches.json").read_text())
    assert [b["model"] for b in state["batches"]] == [
        "openai:gpt-test", "anthropic:claude-test", "gemini:gemini-test",
    ]  # fmt: skip
    done = resume(run.name, wait=True, poll_s=0.0, notebook=False, progress=False)
    table = done.outcomes()
    assert {item: str(table.loc[item, "outcome"]) for item in table.index} == OUTCOMES
    for server in batch_wire.values():
        assert len(server.batches.batched) == 5 and not live_requests(server)


def test_calls_a_model_cannot_take_are_refused_unsent_not_batched(
    repo: Path, batch_wire: dict[str, Any]
) -> None:
    gifs = CHARTS.replace("sales.png", "sales.gif").replace("costs.png", "costs.gif")
    write(repo, "doc.yaml", gifs)
    gif = b"GIF89a" + b"\0" * 32  # Gemini reads no GIF; OpenAI and Anthropic do
    for name in ("sales.gif", "costs.gif"):
        (repo / name).write_bytes(gif)
    run = run_audit("doc.yaml", ["gem"], batch=True, notebook=False, progress=False)
    assert run.status == "complete-with-errors"  # nothing to wait for: executed at once
    assert not (run.path / "batches.json").exists()
    errors = [a["error"] for row in run.rows for a in row["answers"]]
    assert len(errors) == 2 and all(e.startswith("Unsupported:") for e in errors)
    assert batch_wire["gemini"].requests == []


def test_two_processes_never_collect_the_same_batches_at_once(
    repo: Path, batch_wire: dict[str, Any]
) -> None:
    import signal

    for server in batch_wire.values():
        server.batches.in_progress_polls = 1000
    run = run_audit("capitals.yaml", ["gpt"], batch=True, progress=False)
    waiting = subprocess.Popen(
        [WORKBENCH, "audit", "resume", run.name, "--wait"],
        stderr=subprocess.PIPE, text=True, env=dict(os.environ),
    )  # fmt: skip
    try:
        assert waiting.stderr is not None
        assert "in_progress" in waiting.stderr.readline()  # it holds the run's batches now
        second = workbench("audit", "resume", run.name)
        assert second.returncode == 1
        assert second.stderr.strip().splitlines()[-1] == (
            f"Error: another workbench process is submitting or collecting the batches of "
            f"{run.name}: let it finish (or stop it), then resume"
        )
    finally:
        waiting.send_signal(signal.SIGINT)
        waiting.communicate(timeout=60)
    assert waiting.returncode == 0
    for server in batch_wire.values():
        server.batches.in_progress_polls = 0
    done = resume(run.name, notebook=False, progress=False)  # free again once it stopped
    assert done.status == "complete"
