"""Fixtures for real-browser tests: one headless Jupyter server, Debian's Chromium via Playwright.

One server (started once per test session) serves JupyterLab 4 and Notebook 7; each test
works in its own folder inside the server's root and opens its notebook in either UI.
Playwright drives the system Chromium (`apt-get install -y chromium`); its own browser
download is never used. A failing test leaves `failure.png` in its tmp folder and prints the
page's text and what the server logged during the test.
"""

from __future__ import annotations

import os
import re
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
SCREENSHOT_ENV = "WORKBENCH_SCREENSHOTS"


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


@pytest.fixture(scope="session")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """One Jupyter server for every browser test: JupyterLab and Notebook 7 on one port."""
    base = tmp_path_factory.mktemp("jupyter")
    lab = Lab(base / "root", base / "state")
    lab.root.mkdir()
    lab.state.mkdir()
    lab.start()
    try:
        yield lab
    finally:
        lab.stop()


@pytest.fixture
def workspace(jupyter: Lab, request: pytest.FixtureRequest) -> Iterator[Path]:
    """A fresh folder for this test inside the server's root (named after the test)."""
    folder = jupyter.root / re.sub(r"[^\w.-]+", "-", request.node.name).strip("-")
    folder.mkdir()
    logged = jupyter.log_path.stat().st_size
    yield folder
    if failed(request):
        with jupyter.log_path.open("rb") as log:
            log.seek(logged)
            during = log.read().decode("utf-8", errors="replace")[-20000:]
        print(f"\n--- jupyter server log during the test ({jupyter.log_path}) ---\n{during}")


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
def notebook_page(
    page: Page, request: pytest.FixtureRequest
) -> Iterator[Callable[..., NotebookPage]]:
    """A function wrapping the page as a NotebookPage on a server, in a UI ("lab", "notebook").

    After a passing test the notebook's kernel is shut down (the server serves the next
    tests); after a failing one it is left running, so the failure screenshot shows it.
    """
    opened: list[NotebookPage] = []

    def wrap(lab: Lab, ui: str = "lab") -> NotebookPage:
        opened.append(NotebookPage(page, lab, ui))
        return opened[-1]

    yield wrap
    if not failed(request):
        for nb in opened:
            nb.close()


@pytest.fixture
def save_screenshot(tmp_path: Path, request: pytest.FixtureRequest) -> Callable[..., list[Path]]:
    """A function saving a screenshot of an element to the test's tmp folder.

    With `publish` (a file name) and $WORKBENCH_SCREENSHOTS set to a folder (docs/images), the
    screenshot is saved there too under that name; it returns the files written.
    """
    folder = os.environ.get(SCREENSHOT_ENV)

    def save(element: Locator, name: str, *, publish: str | None = None) -> list[Path]:
        paths = [tmp_path / name]
        if publish and folder:
            paths.append(Path(request.config.invocation_params.dir, folder, publish).resolve())
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            element.screenshot(path=str(path), animations="disabled")
            print(f"\nscreenshot: {path}")
        return paths

    return save


@pytest.fixture
def research_repo(workspace: Path) -> Path:
    """A fresh git repository with an author, so the lab notebook can commit into it."""
    folder = workspace / "research"
    folder.mkdir()
    for args in (
        ["init", "-q", "-b", "main"],
        ["config", "user.name", "Browser Test"],
        ["config", "user.email", "browser@example.invalid"],
        ["config", "commit.gpgsign", "false"],
    ):
        subprocess.run(["git", *args], cwd=folder, check=True, capture_output=True)
    return folder
