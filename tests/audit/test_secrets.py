"""No key reaches an audit run's files or the git history: run with keys set, then search.

A real papermill run against the wire servers, with keys in the environment, an exercise
whose items, expected values, instructions and system prompt hold keys and key-shaped
tokens, a notebook parameter holding one, and servers that echo the key they were sent.
Then every file under the repository (the lab notebook, its audit run folder, .git) and
every git object is searched for each secret.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tests.audit.helpers import MODELS, write
from tests.conftest import KEY_ENV, WIRE_PROVIDERS, start_server
from tests.wire.harness import Request
from workbench.audit import open_run, rerun
from workbench.cli import main
from workbench.labbook.redact import REDACTED

KEYS = {
    "OPENAI_API_KEY": "fake-openai-key-3c9e1a7f20b84d5a",  # no pattern knows it: env net only
    "ANTHROPIC_API_KEY": "sk-ant-api03-FAKEauditANTHROPIC0123456789ab",
    "GEMINI_API_KEY": "AIzaFAKEauditGEMINIkey0123456789abcdefghi",
    "SERVICE_TOKEN": "svc-token-77aa88bb99cc",  # a token of the researcher's own service
}
PASTED = [
    "sk-proj-FAKEauditPastedOpenAI0123456789abcd",
    "ghp_FAKEauditGithubToken0123456789abcdefghijk",
    "internal-00112233445566778899aabbccddeeff",  # the repo's own pattern, in workbench.toml
]
CUSTOM = r"internal-[0-9a-f]{32}"
AUTH_HEADERS = ("authorization", "x-api-key", "x-goog-api-key")

EXERCISE = f"""
name: leaky
instructions: "Use {PASTED[1]} if asked. Answer with one word."
system: "The deploy token is {KEYS["SERVICE_TOKEN"]}."
template: "Which key is this: {{text}}?"
scorer: contains
models: [gpt, claude, gem]
params: {{max_tokens: 64}}
items:
  - {{id: env, text: "{KEYS["OPENAI_API_KEY"]}", expected: "{KEYS["GEMINI_API_KEY"]}"}}
  - {{id: pasted, text: "try {PASTED[0]} then {PASTED[2]}"}}
  - {{id: plain, text: "no secret here", expected: "here"}}
"""


def secrets() -> list[str]:
    return [*KEYS.values(), *PASTED]


def leaky() -> Any:
    """Answers with the key the server was sent, and a pasted token."""

    def respond(request: Request) -> str:
        sent = " ".join(request.headers[h] for h in AUTH_HEADERS if h in request.headers)
        return f"here: {sent} and {PASTED[0]}"

    return respond


@pytest.fixture
def servers(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)
    started = {
        p: start_server(p, api_key=KEYS[KEY_ENV[p]], responder=leaky()) for p in WIRE_PROVIDERS
    }
    try:
        yield started
    finally:
        for server in started.values():
            server.stop()


def everything_written(repo: Path) -> bytes:
    """Every file under the repository (.git included) and every git object, decompressed."""
    out = [p.read_bytes() for p in sorted(repo.rglob("*")) if p.is_file()]
    for args in (
        ["log", "-p", "--all", "--format=%H%n%B"],
        ["cat-file", "--batch-all-objects", "--batch"],
        ["reflog", "--all"],
    ):
        out.append(subprocess.run(["git", *args], cwd=repo, capture_output=True, check=True).stdout)
    return b"\n".join(out)


def test_no_key_reaches_an_audit_runs_files_or_git(
    tmp_path: Path, isolated: Path, servers: dict[str, Any]
) -> None:
    repo = isolated
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    for key, value in (("user.name", "Ada"), ("user.email", "ada@example.org")):
        subprocess.run(["git", "-C", str(repo), "config", key, value], check=True)
    toml = ["[labbook]", f'redact = ["{CUSTOM}"]', "commit_every_s = 0.2", "[aliases]"]
    toml += [f'{alias} = "{target}"' for alias, target in MODELS.items()]
    toml += [f'[providers.{p}]\nbase_url = "{s.base_url}"' for p, s in servers.items()]
    (repo / "workbench.toml").write_text("\n".join(toml) + "\n")
    outside = tmp_path / "exercises"  # the researcher's own file, outside the repository
    exercise = write(outside, "leaky.yaml", EXERCISE)

    result = CliRunner().invoke(
        main,
        ["audit", "run", str(exercise), "-p", "token", PASTED[1], "--no-progress"],
    )
    assert result.exit_code == 0, result.output
    assert "key-like strings" in result.stderr and "[REDACTED]" in result.stderr
    [folder] = (repo / "labbook" / "audits").iterdir()
    run = open_run(folder.name)
    assert run.status == "complete", run.summary()
    assert {path.name for path in folder.iterdir()} >= {
        "exercise.yaml", "items.jsonl", "manifest.json", "results.jsonl", "audit.ipynb"
    }  # fmt: skip

    # Nothing secret was sent in a prompt: the models saw what the lab notebook records.
    for server in servers.values():
        bodies = json.dumps([r.body for r in server.requests])
        assert not [s for s in secrets() if s in bodies], server
        assert REDACTED in bodies
    # The answers came back with the key each server was sent, and were scored redacted.
    answers = [a for row in run.rows for a in row["answers"]]
    assert all(REDACTED in a["text"] for a in answers)
    env_row = next(row for row in run.rows if row["item"] == "env")
    assert env_row["expected"] == REDACTED and env_row["outcome"] == "agree-correct"
    nb = json.loads((folder / "audit.ipynb").read_text())
    assert not [c for c in nb["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]
    [injected] = [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert f'token = "{REDACTED}"' in "".join(injected["source"])
    assert nb["metadata"]["papermill"]["parameters"]["token"] == REDACTED

    replayed = rerun(run.name, progress=False)  # the recorded answers give the same table
    assert replayed.outcomes().equals(run.outcomes())

    written = everything_written(repo)
    found = [s for s in secrets() if s.encode() in written]
    assert not found, f"secrets in the run folder or in git: {found}"
    committed = subprocess.run(
        ["git", "-C", str(repo), "log", "--name-only", "--format="],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert f"labbook/audits/{run.name}/audit.ipynb" in committed
