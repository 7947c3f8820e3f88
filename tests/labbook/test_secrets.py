"""No key reaches the lab notebook or its git history: run with keys set, then search for them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import KEY_ENV, WIRE_PROVIDERS, start_server, wire_config
from tests.labbook.helpers import MODELS, calls, git, recorded
from tests.wire.harness import Request
from workbench.export import export
from workbench.labbook.book import files
from workbench.labbook.query import load_records
from workbench.labbook.redact import REDACTED, Redactor
from workbench.sessions import Session

# Distinctive fake keys: two shaped like the vendors' keys, one that no pattern knows (only
# the environment net catches it), and a GOOGLE_API_KEY nothing here sends.
KEYS = {
    "OPENAI_API_KEY": "fake-openai-key-7f3a9c2e51d04b6b",
    "ANTHROPIC_API_KEY": "sk-ant-api03-FAKEanthropicKEY0123456789abcdef",
    "GEMINI_API_KEY": "AIzaFAKEgeminiKEY0123456789abcdefghijk",
    "GOOGLE_API_KEY": "AIzaFAKEgoogleKEY0123456789abcdefghijk",
}
KEY_LIKE = [
    "sk-proj-FAKEpastedOpenAIkey0123456789abcd",
    "sk-ant-admin01-FAKEpastedAnthropic0123456789",
    "AIzaFAKEpastedGoogleKey0123456789abcdefg",
    "ghp_FAKEgithubToken0123456789abcdefghijklmno",
    "eyJhbGciOiJIUzI1NiJ9.FAKEbearer.token0123456789",  # pasted after "Bearer "
    "internal-0123456789abcdef0123456789abcdef",  # the repo's own pattern, in workbench.toml
]
AUTH_HEADERS = ("authorization", "x-api-key", "x-goog-api-key")
CUSTOM = r"internal-[0-9a-f]{32}"


def leaky() -> Any:
    """A responder that repeats the key it was sent and pastes tokens into its answer."""

    def respond(request: Request) -> str:
        sent = " ".join(request.headers[h] for h in AUTH_HEADERS if h in request.headers)
        return f"you sent {sent}; try {KEY_LIKE[0]} or {KEY_LIKE[3]}; Bearer {KEY_LIKE[4]}"

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
            server.stop()  # type: ignore[attr-defined]


def secrets() -> list[str]:
    return [*KEYS.values(), *KEY_LIKE]


def everything_written(repo: Path) -> bytes:
    """Every file under the repository (.git included) and every git object, decompressed."""
    out = [p.read_bytes() for p in sorted(repo.rglob("*")) if p.is_file()]
    run = {"cwd": repo, "capture_output": True, "check": True}
    out.append(subprocess.run(["git", "log", "-p", "--all", "--format=%H%n%B"], **run).stdout)  # type: ignore[call-overload]
    out.append(subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch"], **run).stdout)  # type: ignore[call-overload]
    out.append(subprocess.run(["git", "reflog", "--all"], **run).stdout)  # type: ignore[call-overload]
    return b"\n".join(out)


def test_keys_and_key_like_strings_never_reach_a_record_or_a_commit(
    repo: Path, servers: dict[str, Any]
) -> None:
    (repo / "workbench.toml").write_text(f'[labbook]\nredact = ["{CUSTOM}"]\n')
    session = Session(wire_config(servers))  # type: ignore[arg-type]
    leaked = " ".join([*KEYS.values(), *KEY_LIKE[:4]]) + f" Bearer {KEY_LIKE[4]} {KEY_LIKE[5]}"
    comparison = session.compare(
        [f"{KEYS['OPENAI_API_KEY']} is my key; what do these mean: {leaked}", "and again"],
        MODELS,
        system=f"The admin token is {KEY_LIKE[1]}.",
    )
    assert session.labbook is not None
    session.labbook.commit()  # commits run in the background: this one now
    comparison.pick(MODELS[0], f"it noticed {KEYS['ANTHROPIC_API_KEY']}", tags=[KEY_LIKE[3]])
    comparison.reject(MODELS[1], f"it echoed {KEY_LIKE[5]}")
    comparison.note(f"rotate {KEYS['GEMINI_API_KEY']} and {KEYS['GOOGLE_API_KEY']}")
    session.labbook.pause(f"pasting {KEY_LIKE[2]}")
    session.labbook.resume()
    session.close()

    # The secrets really went out and came back: each server got its key and the prompt.
    assert all(r.ok for r in comparison), comparison.errors
    assert KEYS["ANTHROPIC_API_KEY"] in comparison["anthropic:claude-test"].text
    assert KEYS["GEMINI_API_KEY"] in comparison["gemini:gemini-test"].text
    assert KEY_LIKE[0] in comparison["openai:gpt-test"].text
    for server in servers.values():
        assert any(KEY_LIKE[5] in str(r.body) for r in server.requests)

    written = everything_written(repo)
    found = [s for s in secrets() if s.encode() in written]
    assert not found, f"secrets on disk or in git: {found}"
    revs = git(repo, "rev-list", "--all").split()
    needles = [arg for s in secrets() for arg in ("-e", s)]
    grep = subprocess.run(["git", "grep", "-F", *needles, *revs], cwd=repo, capture_output=True)
    assert grep.returncode == 1 and grep.stdout == b""  # 1: nothing found in any revision
    records = recorded(repo / "labbook")
    assert len(records) == 1 + 6 + 5
    assert all(REDACTED in c["reply"]["text"] for c in calls(repo / "labbook"))
    asked = [c["prompt"]["messages"] for c in calls(repo / "labbook")]  # in order of answering
    first = next(m for m in asked if m[1]["content"] != "and again")
    assert first[0]["content"] == f"The admin token is {REDACTED}."
    assert first[1]["content"].startswith(f"{REDACTED} is my key; what do these mean: ")
    subjects = git(repo, "log", "--format=%s").splitlines()  # commit messages quote prompts
    assert f"pause recording: pasting {REDACTED} (1 record)" in subjects
    assert subjects[-2].startswith(f"compare: '{REDACTED} is my key; what do these m")
    document = export(load_records(files(repo / "labbook")), "md")
    assert REDACTED in document and not [s for s in secrets() if s in document]


def test_the_configured_pattern_is_what_redacts_the_custom_string() -> None:
    assert Redactor().text(KEY_LIKE[5]) == KEY_LIKE[5]  # no built-in pattern knows it
    assert Redactor([CUSTOM]).text(f"x {KEY_LIKE[5]} y") == f"x {REDACTED} y"


def test_a_key_set_after_the_lab_notebook_opened_is_redacted_too(
    repo: Path, wire: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    session = Session(wire_config(wire))  # type: ignore[arg-type]
    monkeypatch.setenv("LATE_SERVICE_TOKEN", "late-token-0d9e8f7a6b")  # a cell sets it later
    session.compare("the token is late-token-0d9e8f7a6b", MODELS[0])
    session.close()
    assert b"late-token-0d9e8f7a6b" not in everything_written(repo)
    assert calls(repo / "labbook")[0]["reply"]["text"] == f"echo: the token is {REDACTED}"


def test_a_key_changed_in_place_is_redacted_with_its_new_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SERVICE_TOKEN", "first-token-5c4b3a2918")
    redact = Redactor()
    assert redact.text("x first-token-5c4b3a2918") == f"x {REDACTED}"
    monkeypatch.setenv("SERVICE_TOKEN", "other-token-7f6e5d4c3b")  # same names, one new value
    assert redact.text("x other-token-7f6e5d4c3b") == f"x {REDACTED}"
    assert redact({"a": ["other-token-7f6e5d4c3b"]}) == {"a": [REDACTED]}


def test_commit_messages_are_redacted_before_they_are_shortened(
    repo: Path, servers: dict[str, Any]
) -> None:
    token = KEY_LIKE[3]  # ghp_ and 40 more characters
    env_value = KEYS["OPENAI_API_KEY"]  # only the environment net knows it
    lead = "Explain what this one does: "  # the message's 60-character cut falls inside each
    session = Session(wire_config(servers))  # type: ignore[arg-type]
    assert session.labbook is not None
    for prompt in (lead + token, lead + env_value + " please"):
        session.compare(prompt, MODELS[0])
        session.labbook.commit()  # the commit (in the background, or now) quoting it
    session.close()
    messages = git(repo, "log", "--all", "--format=%B")
    for secret, known in ((token, "ghp_"), (env_value, "fake-openai-key-")):
        assert secret.startswith(known)
        assert secret[len(known) : len(known) + 8] not in messages, messages
    assert messages.count(f"compare: '{lead}{REDACTED}") == 2


def test_a_bad_redact_pattern_stops_everything_before_a_call_is_sent(
    repo: Path, servers: dict[str, Any]
) -> None:
    from workbench.errors import ConfigError

    openai_url = servers["openai"].base_url
    (repo / "workbench.toml").write_text(
        f'[labbook]\nredact = ["(unclosed"]\n[providers.openai]\nbase_url = "{openai_url}"\n'
    )
    with pytest.raises(ConfigError) as caught:
        Session(wire_config(servers))  # type: ignore[arg-type]
    message = str(caught.value)
    assert "(unclosed" in message and str(repo / "workbench.toml") in message
    assert "\n" not in message

    exe = Path(sys.executable).with_name("workbench")  # a fresh process: a fresh session
    command = [str(exe), "compare", "What is 2+2?", "-m", "openai:gpt-test"]
    done = subprocess.run(command, cwd=repo, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and done.stdout == "", done.stdout
    assert done.stderr.startswith("Error: the [labbook] redact pattern '(unclosed' in ")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert all(not server.requests for server in servers.values())  # nothing was sent
    assert not list((repo / "labbook").rglob("*.jsonl"))


def test_patterns_that_would_redact_everything_or_escape_their_group_are_refused() -> None:
    from workbench.errors import ConfigError

    for bad in ("(unclosed", "x*", "", "a)|(b", "[z-a]"):
        with pytest.raises(ConfigError, match="redact"):
            Redactor([bad])
    assert Redactor([r"(?i)secret-\d+"]).text("a SECRET-12 b") == f"a {REDACTED} b"
