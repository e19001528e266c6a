"""Browser tests leave a screenshot of every page they had open when they fail.

The PNGs (and the page's text beside each) go to test-artifacts/ at the repository root (or CRM_TEST_ARTIFACTS), one per page, named after
the test, so that a red CI run shows what the browser saw. Pages are found among the test's fixtures (a
Playwright Page, a BrowserContext's pages, a Browser's contexts' pages) and among the pages opened with
the `browser` fixture below, which a test that opens its own contexts should use.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
_OPEN_BROWSERS = pytest.StashKey[list[Any]]()


def artifacts_dir() -> Path:
    return Path(os.environ.get("CRM_TEST_ARTIFACTS") or ROOT / "test-artifacts")


@pytest.fixture
def browser(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Debian's Chromium for one test; its pages are photographed if the test fails."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed")
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        request.node.stash.setdefault(_OPEN_BROWSERS, []).append(launched)
        yield launched
        launched.close()


def _pages_of(value: Any) -> list[Any]:
    """The open Playwright pages a fixture value holds (a Page, a BrowserContext or a Browser)."""
    kind = type(value).__name__
    if kind == "Page":
        return [value]
    if kind == "BrowserContext":
        return list(value.pages)
    if kind == "Browser":
        return [page for context in value.contexts for page in context.pages]
    return []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call" and report.failed:
        _photograph(item, report)
    return report


def _photograph(item: pytest.Item, report: pytest.TestReport) -> None:
    holders = [*getattr(item, "funcargs", {}).values(), *item.stash.get(_OPEN_BROWSERS, [])]
    pages: list[Any] = []
    for holder in holders:
        pages.extend(page for page in _pages_of(holder) if page not in pages)
    if not pages:
        return
    folder = artifacts_dir()
    folder.mkdir(parents=True, exist_ok=True)
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid)[-150:]
    saved = []
    for number, page in enumerate(pages, start=1):
        path = folder / f"{stem}-{number}.png"
        try:
            page.screenshot(path=str(path), full_page=True, timeout=10_000)
            # Streamlit scrolls inside its main area, which a full-page shot cuts off: keep its text too.
            path.with_suffix(".txt").write_text(page.locator("body").inner_text(timeout=10_000))
        except Exception as exc:  # a closed or crashed page: say so, keep the test's own failure
            saved.append(f"{path.name}: not saved ({type(exc).__name__})")
        else:
            saved.append(str(path))
    report.sections.append(("screenshots", "\n".join(saved)))
