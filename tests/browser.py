"""Reusable helpers for browser tests: start the app on a free port, drive it with Debian's chromium.

Usage in a test module::

    from tests.browser import streamlit_server, browser_page, wait_for_app_idle

    @pytest.fixture(scope="module")
    def server():
        with streamlit_server(env={"MNIST_MAX_TRAININGS": "2"}) as url:
            yield url

    def test_something(server):
        with browser_page() as page:
            page.goto(server)
            wait_for_app_idle(page)
            page.screenshot(path=shot_path("home.png"))
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
SHOTS_DIR = Path(os.environ.get("MNIST_SHOTS_DIR", "/tmp/shots"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_browser() -> None:
    """Fail, saying what to install, when chromium or playwright is missing.

    The browser tests are part of the suite, not an extra: scripts/run_tests.sh installs Debian's chromium
    when run as root, and requirements-dev.txt brings playwright.
    """
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (scripts/run_tests.sh does it as root)",
                    pytrace=False)
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.fail("playwright is missing: pip install -r requirements-dev.txt", pytrace=False)


@contextlib.contextmanager
def app_server(*, env: dict[str, str] | None = None):
    """The app's server for a browser test, once chromium and the real MNIST are known to be here.

    MNIST is fetched and verified once per machine, then cached, so the app starts fast; if it cannot be
    had, the DataError's message (every source tried and why) fails the test.
    """
    require_browser()
    from nn.data import load_mnist

    load_mnist()
    with streamlit_server(env=env) as url:
        yield url


def shot_path(name: str) -> str:
    """Where to save a screenshot (outside the repository)."""
    SHOTS_DIR.mkdir(parents=True, exist_ok=True)
    return str(SHOTS_DIR / name)


@contextlib.contextmanager
def streamlit_server(app: str = "app.py", *, env: dict[str, str] | None = None,
                     timeout: float = 60.0) -> Iterator[str]:
    """Run ``streamlit run app`` on a free 127.0.0.1 port; yield its URL; terminate it afterwards."""
    port = free_port()
    cmd = [
        sys.executable, "-m", "streamlit", "run", app,
        "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
    ]
    log = open(SHOTS_DIR.parent / f"streamlit-{port}.log", "w") if SHOTS_DIR.parent.exists() else subprocess.DEVNULL
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **(env or {})},
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with code {proc.returncode}; see {getattr(log, 'name', '')}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not become healthy within {timeout} s")
            time.sleep(0.25)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if log is not subprocess.DEVNULL:
            log.close()


@contextlib.contextmanager
def chromium():
    """Debian's chromium under Playwright; closed afterwards. Open sessions with :func:`new_page`."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser, *, width: int = 1400, height: int = 1000, downloads: bool = True):
    """A page in a fresh browser context: to the app, a separate visitor (its own session)."""
    context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=downloads)
    page = context.new_page()
    page.set_default_timeout(30_000)
    return page


@contextlib.contextmanager
def browser_page(*, width: int = 1400, height: int = 1000, downloads: bool = True):
    """A Playwright page in Debian's chromium; closed (with the browser) afterwards."""
    with chromium() as browser:
        yield new_page(browser, width=width, height=height, downloads=downloads)


def wait_for_app_idle(page, timeout: float = 30.0) -> None:
    """Wait until the current script run has finished (fragments on a timer may still tick)."""
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]',
                           timeout=timeout * 1000)


def screenshot_all(page, name: str) -> str:
    """Screenshot the whole app, not just the viewport (Streamlit scrolls inside its own container)."""
    size = page.viewport_size
    height = page.evaluate(
        "() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
        " return m ? m.scrollHeight : document.body.scrollHeight; }")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], int(height) + 40)})
    try:
        page.wait_for_timeout(400)  # let charts re-layout at the new size
        path = shot_path(name)
        page.screenshot(path=path)
        return path
    finally:
        page.set_viewport_size(size)


def click_button(page, label: str) -> None:
    """Click the visible Streamlit button whose text is exactly ``label``."""
    page.locator('[data-testid="stButton"] button, [data-testid="stDownloadButton"] button').filter(
        has_text=label).first.click()


def goto_page(page, title: str) -> None:
    """Switch page through the sidebar navigation link whose text is ``title``."""
    page.locator('[data-testid="stSidebarNav"] a').filter(has_text=title).first.click()


def open_section(page, name: str) -> None:
    """Open the page section (the tab of Evaluate, Inspect or Draw) named ``name``; wait for it to be drawn."""
    page.get_by_role("tab", name=name, exact=True).first.click()
    page.wait_for_timeout(300)
    wait_for_app_idle(page, 60)


def live_chart(page, n: int, component: int = 0):
    """The n-th chart of a live-chart component (0: the Train page's curves, 1: the filters and digits, drawn
    as rasters), once drawn, scrolled into view first: a chart out of the window is drawn only when it comes
    into view."""
    frame = page.frame_locator(f'iframe[title*="live_charts"] >> nth={component}')
    frame.locator(f"#root > div:nth-child({n + 1}) > .chart").scroll_into_view_if_needed(timeout=30_000)
    return frame.locator(f"#root > div:nth-child({n + 1}) > .chart:is(.js-plotly-plot, .raster)")


def chart_in_place(page, title: str, timeout: float = 30.0):
    """The chart titled with ``title`` among those drawn in place (dashboard/live_charts.py: each component is a
    frame of its own), scrolled into view and drawn; waits for it up to ``timeout`` seconds."""
    frames = page.locator('iframe[title*="live_charts"]')
    deadline = time.monotonic() + timeout
    while True:
        for i in range(frames.count()):
            frame = page.frame_locator(f'iframe[title*="live_charts"] >> nth={i}')
            chart = frame.locator(".js-plotly-plot").filter(has=frame.locator(".gtitle", has_text=title))
            try:  # the page may still be replacing its frames: then the next round looks again
                frames.nth(i).scroll_into_view_if_needed(timeout=5_000)  # out of view, it has drawn nothing yet
                with contextlib.suppress(Exception):  # no chart drawn there yet
                    frame.locator(".js-plotly-plot").first.wait_for(timeout=2_000)
                if chart.count():
                    chart.first.scroll_into_view_if_needed(timeout=5_000)
                    return chart.first
            except Exception:  # noqa: BLE001 - detached while looking
                continue
        if time.monotonic() > deadline:
            raise AssertionError(f"no chart drawn in place is titled with {title!r}")
        page.wait_for_timeout(250)
