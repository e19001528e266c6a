"""Many users at once and one user's memory walk, in a real browser against one `streamlit run` (issue #12).

`run_load` drives N Playwright contexts of ONE Chromium (a context per user, so memory stays bounded)
for a bounded time: each signs in, opens the dashboard, changes the period filter, opens the lead form
and saves a new lead, again and again. Every step is timed from the click until the page has finished
its run; every screen is checked for an error box, a traceback or "database is locked".

`walk_pages` signs the administrator in and opens every page of the navigation (and pages through the leads
list), sampling the server's resident memory (/proc/<pid>/status) the whole time.

Used by tests/e2e/test_many_users.py; for a big prepared database run it by hand:

    python -m tests.e2e.many_users load --db sqlite:////path/1m.db --sessions 20 --seconds 120
    python -m tests.e2e.many_users memory --db sqlite:////path/1m.db
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from funnel.core.i18n import t

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
]  # fmt: skip
PASSWORD = "loudou-demo"  # funnel.demo.catalog's DEMO_PASSWORD
# Demo users who may both read the dashboard and enter a lead (the leader, "boss", may not enter one).
LOAD_USERS = (*(f"rep{i:02d}" for i in range(1, 13)), "manager")
LOCKED = "database is locked"
# What a screen must never show: Streamlit's exception box, a traceback, the shell's failure messages.
SCREEN_ERRORS = (
    "Traceback", LOCKED, t("error.database", "en"), t("error.unexpected", "en"), t("lead.save_failed", "en"),
    t("auth.db_error", "en"),
)  # fmt: skip
PERIODS = ("90d", "365d", "180d", "all")  # the filter each round switches to, in turn
ACTIONS = ("sign_in", "dashboard", "filter", "lead_form", "save")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    url: str
    pid: int
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def streamlit_server(database_url: str, log: Path, *, timeout: float = 120) -> Iterator[Server]:
    """`streamlit run app.py` on `database_url`, its output kept in `log`, until the block ends."""
    env = {**os.environ, "CRM_DATABASE_URL": database_url}
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
             "--server.headless", "true", "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    if response.read() == b"ok":
                        break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"streamlit did not start; its log:\n{log.read_text()[-3000:]}"
                    ) from None
                time.sleep(0.5)
        yield Server(url, proc.pid, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def resident_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in KiB: its resident memory now and at its peak so far."""
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def file_resident_kib(pid: int) -> int:
    """RssFile of a process in KiB: the file-backed part of its resident memory (SQLite's memory map)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("RssFile:"):
            return int(line.split()[1])
    return 0


class MemorySampler:
    """Samples a process's resident memory every `interval` s; the peak is kept per label (what runs now)."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid, self.interval = pid, interval
        self.label = "start"
        self.peak_kib: dict[str, int] = {}
        self.peak_file_kib: dict[str, int] = {}  # of which file-backed, at the same peak sample
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                rss, _ = resident_kib(self.pid)
                file_backed = file_resident_kib(self.pid)
            except (OSError, KeyError):
                return
            if rss > self.peak_kib.get(self.label, 0):
                self.peak_kib[self.label] = rss
                self.peak_file_kib[self.label] = file_backed
            self._stop.wait(self.interval)

    @property
    def peak_mb(self) -> float:
        return max(self.peak_kib.values(), default=0) / 1024


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile (share in [0, 1]) of `values`."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, round(share * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class LoadResult:
    sessions: int
    seconds: float
    times: dict[str, list[float]] = field(default_factory=lambda: {a: [] for a in ACTIONS})
    errors: list[str] = field(default_factory=list)
    saved: list[str] = field(default_factory=list)  # the phone numbers of the leads saved
    locked_on_screen: int = 0
    locked_in_log: int = 0
    tracebacks_in_log: int = 0
    peak_rss_mb: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "sessions": self.sessions,
            "seconds": round(self.seconds, 1),
            "actions": {
                a: {
                    "n": len(v),
                    "p50_s": round(percentile(v, 0.5), 3),
                    "p95_s": round(percentile(v, 0.95), 3),
                    "max_s": round(max(v, default=float("nan")), 3),
                }
                for a, v in self.times.items()
            },
            "leads_saved": len(self.saved),
            "errors": len(self.errors),
            "locked_on_screen": self.locked_on_screen,
            "locked_in_log": self.locked_in_log,
            "tracebacks_in_log": self.tracebacks_in_log,
            "peak_rss_mb": round(self.peak_rss_mb, 1),
        }

    def table(self) -> str:
        lines = ["| action | n | p50 s | p95 s | max s |", "|---|---|---|---|---|"]
        for action, row in self.summary()["actions"].items():
            lines.append(f"| {action} | {row['n']} | {row['p50_s']} | {row['p95_s']} | {row['max_s']} |")
        return "\n".join(lines)


async def _finished(page: Any, timeout_ms: float) -> None:
    """Wait until the app's script run is over (Streamlit marks the app root while a run is going)."""
    await page.locator("[data-test-script-state='notRunning']").first.wait_for(
        state="attached", timeout=timeout_ms
    )


async def _screen_errors(page: Any) -> list[str]:
    """Which of SCREEN_ERRORS (and Streamlit's exception box) the page shows now."""
    text: str = await page.evaluate("() => document.body.innerText")
    found = [marker for marker in SCREEN_ERRORS if marker in text]
    if await page.locator("[data-testid='stException']").count():
        found.append("st.exception")
    return found


class _User:
    """One simulated user: a browser context, its page, and the loop of steps."""

    def __init__(
        self, number: int, username: str, server: str, result: LoadResult, run_id: str, timeout: float
    ):
        self.number, self.username, self.server = number, username, server
        self.result, self.run_id, self.timeout_ms = result, run_id, timeout * 1000
        self.page: Any = None
        self.saves = 0

    async def step(self, action: str, coroutine: Any) -> bool:
        started = time.monotonic()
        try:
            await coroutine
        except Exception as exc:  # a timeout or a missing element: the step failed, say which and why
            first_line = (str(exc).splitlines() or [type(exc).__name__])[0]
            self.result.errors.append(f"{self.username}#{self.number} {action}: {first_line}")
            await self._check_screen(action)
            return False
        self.result.times[action].append(time.monotonic() - started)
        return await self._check_screen(action)

    async def _check_screen(self, action: str) -> bool:
        try:
            shown = await _screen_errors(self.page)
        except Exception:  # the page is gone; the step already failed
            return False
        for marker in shown:
            self.result.errors.append(f"{self.username}#{self.number} {action}: the screen shows {marker!r}")
            self.result.locked_on_screen += marker == LOCKED
        return not shown

    async def sign_in(self) -> None:
        page = self.page
        await page.goto(self.server, timeout=self.timeout_ms)
        await page.get_by_label("Username or e-mail").fill(self.username)
        await page.get_by_label("Password", exact=True).fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_role("heading", name=t("dash.title", "en")).wait_for(timeout=self.timeout_ms)
        await _finished(page, self.timeout_ms)

    async def dashboard(self) -> None:
        await self.page.get_by_role("link", name=t("nav.dashboard", "en")).click()
        await self.page.get_by_role("heading", name=t("dash.title", "en")).wait_for(timeout=self.timeout_ms)
        await _finished(self.page, self.timeout_ms)

    async def change_filter(self, period: str) -> None:
        page = self.page
        box = page.get_by_test_id("stSelectbox").filter(has_text=t("filter.period", "en")).first
        await box.click()
        await page.get_by_role("option", name=t(f"period.{period}", "en"), exact=True).click()
        if period == "all":  # the default period leaves the address bar
            await page.wait_for_function(
                "() => !location.search.includes('period=')", timeout=self.timeout_ms
            )
        else:
            await page.wait_for_url(re.compile(rf"period={period}"), timeout=self.timeout_ms)
        await _finished(page, self.timeout_ms)

    async def lead_form(self) -> None:
        await self.page.get_by_role("link", name=t("nav.lead_entry", "en")).click()
        await self.page.get_by_role("heading", name=t("lead.title", "en")).wait_for(timeout=self.timeout_ms)
        await _finished(self.page, self.timeout_ms)

    async def save_lead(self) -> str:
        page = self.page
        self.saves += 1
        # A mobile number no demo lead has: 19 + 9 digits from the run, the user and the count.
        phone = f"19{int(self.run_id, 16) % 1000:03d}{self.number:02d}{self.saves:04d}"
        await page.get_by_label(t("lead.name", "en"), exact=True).fill(
            f"Load {self.run_id} {self.number}-{self.saves}"
        )
        await page.get_by_label(t("lead.phone", "en"), exact=True).fill(phone)
        await page.get_by_role("button", name=t("lead.save", "en")).click()
        await page.get_by_text(t("lead.saved", "en").split("**")[0].strip()).first.wait_for(
            timeout=self.timeout_ms
        )
        await _finished(page, self.timeout_ms)
        return phone

    async def run(self, browser: Any, until: float, start_delay: float) -> None:
        await asyncio.sleep(start_delay)
        context = await browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(
            self.timeout_ms
        )  # every wait, not just the steps' own, may take that long
        self.page = await context.new_page()
        try:
            if not await self.step("sign_in", self.sign_in()):
                return
            round_no = 0
            while round_no == 0 or time.monotonic() < until:  # at least one round, however slow
                period = PERIODS[(self.number + round_no) % len(PERIODS)]
                # Signing in lands on the dashboard; later rounds come back to it from the lead form.
                if round_no and not await self.step("dashboard", self.dashboard()):
                    return
                round_no += 1
                if not await self.step("filter", self.change_filter(period)):
                    return
                if not await self.step("lead_form", self.lead_form()):
                    return
                saving = asyncio.ensure_future(self.save_lead())
                if not await self.step("save", saving):
                    return
                self.result.saved.append(saving.result())
        finally:
            await context.close()


async def _load(server: str, sessions: int, seconds: float, timeout: float, result: LoadResult) -> str:
    from playwright.async_api import async_playwright

    run_id = uuid.uuid4().hex[:6]
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            until = time.monotonic() + seconds
            users = [
                _User(n, LOAD_USERS[n % len(LOAD_USERS)], server, result, run_id, timeout)
                for n in range(sessions)
            ]
            # Staggered by a fraction of a second: everyone arrives within the first few seconds.
            await asyncio.gather(*(u.run(browser, until, start_delay=0.25 * u.number) for u in users))
        finally:
            await browser.close()
    return run_id


def run_load(server: Server, *, sessions: int, seconds: float, timeout: float = 120) -> LoadResult:
    """`sessions` users at once for `seconds` (a round under way is finished), then the server's log read."""
    result = LoadResult(sessions=sessions, seconds=seconds)
    with MemorySampler(server.pid) as memory:
        started = time.monotonic()
        asyncio.run(_load(server.url, sessions, seconds, timeout, result))
        result.seconds = time.monotonic() - started
    result.peak_rss_mb = memory.peak_mb
    log = server.log_text()
    result.locked_in_log = log.count(LOCKED)
    result.tracebacks_in_log = log.count("Traceback")
    return result


@dataclass
class WalkResult:
    peak_rss_mb: dict[str, float]  # page (or "leads page N") -> the server's peak resident memory there
    errors: list[str]
    seconds: dict[str, float]
    file_rss_mb: dict[str, float] = field(default_factory=dict)  # of which file-backed (SQLite's map)


async def _walk(
    server: Server, sampler: MemorySampler, username: str, timeout: float, result: WalkResult
) -> None:
    from playwright.async_api import async_playwright

    timeout_ms = timeout * 1000
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await (await browser.new_context(viewport={"width": 1400, "height": 1000})).new_page()

        async def visit(label: str, go: Any) -> None:
            sampler.label = label
            started = time.monotonic()
            try:
                await go()
                await page.wait_for_timeout(300)  # let the run start before asking whether it is over
                await _finished(page, timeout_ms)
            except Exception as exc:
                result.errors.append(f"{label}: {(str(exc).splitlines() or [''])[0]}")
            result.seconds[label] = round(time.monotonic() - started, 2)
            for marker in await _screen_errors(page):
                result.errors.append(f"{label}: the screen shows {marker!r}")

        async def sign_in() -> None:
            await page.goto(server.url, timeout=timeout_ms)
            await page.get_by_label("Username or e-mail").fill(username)
            await page.get_by_label("Password", exact=True).fill(PASSWORD)
            await page.get_by_role("button", name="Sign in").click()
            await page.get_by_role("heading", name=t("dash.title", "en")).wait_for(timeout=timeout_ms)

        await visit("sign in", sign_in)
        # Every page the user's navigation offers, taken from the sidebar itself (past ten it folds the
        # rest behind "View N more").
        more = page.get_by_test_id("stSidebarNavViewButton")
        if await more.count() and "more" in (await more.inner_text()):
            await more.click()
        links = page.get_by_test_id("stSidebarNav").get_by_role("link")
        hrefs = [await links.nth(i).get_attribute("href") for i in range(await links.count())]
        for href in hrefs:
            assert href
            path = href.removeprefix(server.url).strip("/") or "dashboard"  # the default page is the root
            await visit(path, lambda href=href: page.goto(href, timeout=timeout_ms))
            if path == "leads":
                await _page_through_leads(page, visit, timeout_ms)
        await browser.close()
    for label, kib in sampler.peak_kib.items():
        result.peak_rss_mb[label] = round(kib / 1024, 1)
        result.file_rss_mb[label] = round(sampler.peak_file_kib.get(label, 0) / 1024, 1)


async def _page_through_leads(page: Any, visit: Any, timeout_ms: float) -> None:
    """The leads list's next pages and its last page (a page past the end shows the last one)."""
    number = page.get_by_label(t("leads.page", "en"), exact=True)
    for step in range(2, 5):

        async def next_page(step: int = step) -> None:
            await number.fill(str(step))
            await number.press("Enter")
            await page.wait_for_url(re.compile(rf"page={step}"), timeout=timeout_ms)

        await visit(f"leads page {step}", next_page)

    async def last_page() -> None:
        await page.goto(page.url.split("?")[0] + "?page=999999999", timeout=timeout_ms)
        await page.get_by_label(t("leads.page", "en"), exact=True).wait_for(timeout=timeout_ms)

    await visit("leads last page", last_page)


def walk_pages(server: Server, *, username: str = "admin", timeout: float = 300) -> WalkResult:
    """One user opens every page of the navigation and pages the leads list, the server's memory sampled."""
    result = WalkResult(peak_rss_mb={}, errors=[], seconds={})
    with MemorySampler(server.pid) as sampler:
        asyncio.run(_walk(server, sampler, username, timeout, result))
    log = server.log_text()
    if "Traceback" in log:
        result.errors.append(f"the server log has {log.count('Traceback')} traceback(s)")
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("load", "memory"))
    parser.add_argument("--db", required=True, help="the database URL (a prepared demo database)")
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--timeout", type=float, default=300, help="seconds one step may take")
    parser.add_argument("--log", type=Path, default=Path("streamlit-many-users.log"))
    args = parser.parse_args(argv)
    with streamlit_server(args.db, args.log) as server:
        if args.what == "load":
            load = run_load(server, sessions=args.sessions, seconds=args.seconds, timeout=args.timeout)
            print(load.table())
            print(json.dumps(load.summary(), indent=1))
            for error in load.errors[:30]:
                print("error:", error)
            return 1 if load.errors or load.locked_in_log or load.tracebacks_in_log else 0
        walk = walk_pages(server, timeout=args.timeout)
        print(
            json.dumps(
                {
                    "peak_rss_mb": walk.peak_rss_mb,
                    "of_which_file_backed_mb": walk.file_rss_mb,
                    "seconds": walk.seconds,
                    "errors": walk.errors,
                },
                indent=1,
            )
        )
        return 1 if walk.errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
