"""A real browser against `streamlit run`: sign in, see the funnel, switch language, enter a lead.

Needs Debian's Chromium (/usr/bin/chromium) and the playwright package; skipped without them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]
sync_api = pytest.importorskip("playwright.sync_api")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A demo database for the module's server."""
    db = tmp_path_factory.mktemp("e2e") / "e2e.db"
    env = {**os.environ, "CRM_DATABASE_URL": f"sqlite:///{db}"}
    subprocess.run([sys.executable, "-m", "funnel", "demo", "--leads", "400"], cwd=ROOT, env=env, check=True,
                   capture_output=True)  # fmt: skip
    return f"sqlite:///{db}"


@pytest.fixture(scope="module")
def server(database_url: str) -> Iterator[str]:
    """`streamlit run app.py` on a demo database, until the module's tests are done."""
    env = {**os.environ, "CRM_DATABASE_URL": database_url}
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read() == b"ok":
                        break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("streamlit did not become healthy within 60 s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@pytest.fixture
def page(server: str) -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1400, "height": 1000})
        tab.goto(server)
        yield tab
        browser.close()


def _sign_in(page, username: str) -> None:
    page.get_by_label("Username or e-mail").fill(username)
    page.get_by_label("Password", exact=True).fill("loudou-demo")
    page.get_by_role("button", name="Sign in").click()


def test_a_manager_signs_in_and_sees_the_funnel_chart(page, tmp_path):
    _sign_in(page, "manager")

    page.get_by_role("heading", name="Funnel dashboard").wait_for(timeout=30_000)
    page.locator("[data-testid='stVegaLiteChart']").first.wait_for(timeout=30_000)
    assert page.get_by_text("Biggest loss").count() >= 1
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)


def test_a_wrong_password_is_refused_on_the_page(page):
    page.get_by_label("Username or e-mail").fill("rep01")
    page.get_by_label("Password", exact=True).fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()

    page.get_by_text("Sign-in failed").wait_for(timeout=20_000)


def test_the_language_switch_turns_the_dashboard_chinese(page):
    _sign_in(page, "boss")
    page.get_by_role("heading", name="Funnel dashboard").wait_for(timeout=30_000)

    page.get_by_text("中文").click()

    page.get_by_role("heading", name="销售漏斗看板").wait_for(timeout=30_000)
