"""Fixtures for real-browser tests: a headless JupyterLab and Debian's Chromium via Playwright.

Playwright drives the system Chromium (`apt-get install -y chromium`); its own browser
download is never used. A failing test leaves `failure.png` in its tmp folder and prints the
page's text and the server's log.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.lab import Lab
from tests.browser.notebook import NotebookPage

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
VIEWPORT = {"width": 1400, "height": 1000}
SCREENSHOT_ENV = "WORKBENCH_SCREENSHOT"


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    """Keep each phase's report on the test item, so fixtures can tell that a test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


def failed(request: pytest.FixtureRequest) -> bool:
    """Whether the test using this fixture failed (in set-up or in its body)."""
    node = request.node
    return any(
        getattr(getattr(node, f"report_{w}", None), "failed", False) for w in ("setup", "call")
    )


def chromium() -> str:
    """The system Chromium's path, or a clear failure saying how to install it."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("browser tests need Debian's Chromium: apt-get install -y chromium")
    return path


@pytest.fixture
def start_lab(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[..., Lab]]:
    """A function starting JupyterLab on a folder (env: extra variables for it and its kernels)."""
    labs: list[Lab] = []

    def start(root: Path, env: dict[str, str] | None = None) -> Lab:
        lab = Lab(root, tmp_path / f"jupyter-state-{len(labs)}", env=dict(env or {}))
        lab.state.mkdir(parents=True)
        labs.append(lab)
        return lab.start()

    yield start
    for lab in labs:
        lab.stop()
        if failed(request):
            print(f"\n--- jupyter server log ({lab.log_path}) ---\n{lab.log_tail(20000)}")


@pytest.fixture
def page(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh page in a fresh headless Chromium profile."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("browser tests need Playwright: pip install -e '.[test]'")
    executable = chromium()
    profile = tmp_path / "chromium-profile"
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=executable,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport=VIEWPORT,  # type: ignore[arg-type]
            env={**os.environ, "HOME": str(tmp_path / "chromium-home")},
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            yield page
            if failed(request):
                shot = tmp_path / "failure.png"
                page.screenshot(path=str(shot), full_page=True)
                text = page.locator("body").inner_text(timeout=5000)[-8000:]
                print(f"\n--- the page shows (end) ---\n{text}")
                print(f"\nscreenshot of the failing page: {shot}")
        finally:
            context.close()


@pytest.fixture
def notebook_page(page: Page) -> Callable[[Lab], NotebookPage]:
    """A function wrapping the page as a NotebookPage driving the given JupyterLab."""
    return lambda lab: NotebookPage(page, lab)


@pytest.fixture
def save_screenshot(tmp_path: Path, request: pytest.FixtureRequest) -> Callable[..., list[Path]]:
    """A function saving a screenshot of an element to the test's tmp folder and, when
    `publish` and $WORKBENCH_SCREENSHOT is set, there too (for docs/images); it returns the
    files written."""
    wanted = os.environ.get(SCREENSHOT_ENV)

    def save(element: Locator, name: str, *, publish: bool = False) -> list[Path]:
        paths = [tmp_path / name]
        if publish and wanted:
            paths.append(Path(request.config.invocation_params.dir, wanted).resolve())
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            element.screenshot(path=str(path), animations="disabled")
            print(f"\nscreenshot: {path}")
        return paths

    return save


@pytest.fixture
def research_repo(tmp_path: Path) -> Path:
    """A fresh git repository with an author, so the lab notebook can commit into it."""
    folder = tmp_path / "research"
    folder.mkdir()
    for args in (
        ["init", "-q", "-b", "main"],
        ["config", "user.name", "Browser Test"],
        ["config", "user.email", "browser@example.invalid"],
        ["config", "commit.gpgsign", "false"],
    ):
        subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True)
    return folder
