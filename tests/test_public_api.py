"""One typed public surface: `import workbench as wb` is all a notebook user needs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wire_config

ROOT = Path(__file__).resolve().parents[1]


def test_every_type_a_user_meets_is_exported_from_the_package() -> None:
    code = textwrap.dedent(
        """
        import sys
        import workbench as wb
        assert "pandas" not in sys.modules and "openai" not in sys.modules, "import is cheap"
        from workbench.comparison import Comparison
        from workbench.sessions import Session
        from workbench.providers.base import Prompt, Reply
        from workbench import errors
        assert wb.Comparison is Comparison and wb.Session is Session
        assert wb.Prompt is Prompt and wb.Reply is Reply
        for name in dir(errors):
            kind = getattr(errors, name)
            if isinstance(kind, type) and issubclass(kind, errors.WorkbenchError):
                assert getattr(wb, name) is kind, name
        missing = [n for n in wb.__all__ if not hasattr(wb, n)]
        assert not missing, missing
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_session_and_models_stay_functions_whatever_was_imported_before() -> None:
    code = textwrap.dedent(
        """
        import workbench.sessions, workbench.providers.registry, workbench.providers.local
        import workbench as wb
        from workbench.sessions import Session
        assert callable(wb.session) and isinstance(wb.session(), Session)
        frame = wb.models()
        assert "local" in set(frame["name"])
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60, cwd=ROOT)


def test_system_or_params_with_prompt_objects_is_an_error_not_silently_dropped(
    wire: dict[str, Any],
) -> None:
    import workbench as wb

    with wb.Session(wire_config(wire), labbook=False) as session:  # type: ignore[arg-type]
        prompt = wb.Prompt.of("hi", system="Be brief.")
        for options in ({"system": "Answer in French."}, {"temperature": 0.5}):
            with pytest.raises(wb.InvalidOption, match="given with Prompt objects"):
                session.compare(prompt, ["openai:gpt-test"], **options)  # type: ignore[arg-type]
        reply = session.compare([prompt], ["openai:gpt-test"])["openai:gpt-test"]
        assert reply.ok and not wire["openai"].requests[-1].body.get("temperature")


def test_an_unknown_option_is_named(wire: dict[str, Any]) -> None:
    import workbench as wb

    session = wb.Session(wire_config(wire), labbook=False)  # type: ignore[arg-type]
    with session, pytest.raises(wb.InvalidOption, match="unknown option 'temprature'"):
        session.compare("hi", ["openai:gpt-test"], temprature=0.2)  # type: ignore[call-arg]
    assert not wire["openai"].requests


def test_the_options_are_type_checked_where_they_are_used(tmp_path: Path) -> None:
    snippet = tmp_path / "use.py"
    snippet.write_text(
        textwrap.dedent(
            """
            import workbench as wb

            wb.compare("hi", models=["local"], temperature=0.2, samples=2)
            wb.compare("hi", models=["local"], temprature=0.2)
            wb.compare("hi", models=["local"], samples="two")
            """
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(snippet)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 2, done.stdout
    assert "temprature" in errors[0] and "samples" in errors[1]
