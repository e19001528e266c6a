"""A real browser keeps its sign-in across a refresh and a deep link, and loses it at sign-out or disable.

Needs Debian's Chromium (/usr/bin/chromium) and the playwright package; skipped without them.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from funnel.access.permissions import SYSTEM
from funnel.accounts.users import update_user
from funnel.core.db import make_engine, session_scope
from funnel.store.models import Customer
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS, database_url, server  # noqa: F401 (fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]
sync_api = pytest.importorskip("playwright.sync_api")
COOKIE = "loudou_session"
SIGN_IN_FORM = "Username or e-mail"


@pytest.fixture
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def context(browser: Any) -> Any:
    """One browser profile: its tabs share cookies."""
    return browser.new_context(viewport={"width": 1400, "height": 1000})


@pytest.fixture
def a_customer(database_url: str) -> tuple[int, str]:  # noqa: F811
    engine = make_engine(database_url)
    with session_scope(engine) as session:
        customer = session.scalars(select(Customer).order_by(Customer.id)).first()
        assert customer is not None
        found = customer.id, customer.customer_no
    engine.dispose()
    return found


def sign_in(page: Any, username: str) -> None:
    page.get_by_label(SIGN_IN_FORM).fill(username)
    page.get_by_label("Password", exact=True).fill("loudou-demo")
    page.get_by_role("button", name="Sign in").click()


def wait_for_cookie(context: Any, present: bool = True, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(c["name"] == COOKIE for c in context.cookies()) == present:
            return
        time.sleep(0.2)
    pytest.fail(f"the session cookie was {'not set' if present else 'not removed'} within {timeout} s")


def signed_in_page(context: Any, server: str, username: str) -> Any:  # noqa: F811
    page = context.new_page()
    page.goto(server)
    sign_in(page, username)
    page.get_by_role("heading", name="Funnel dashboard").wait_for(timeout=30_000)
    wait_for_cookie(context)
    return page


def test_the_session_cookie_is_httponly_and_lax(context: Any, server: str) -> None:  # noqa: F811
    signed_in_page(context, server, "manager")
    (cookie,) = [c for c in context.cookies() if c["name"] == COOKIE]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"


def test_a_refresh_stays_signed_in(context: Any, server: str, tmp_path: Path) -> None:  # noqa: F811
    page = signed_in_page(context, server, "manager")
    page.reload()
    page.get_by_role("heading", name="Funnel dashboard").wait_for(timeout=30_000)
    assert page.get_by_label(SIGN_IN_FORM).count() == 0
    page.screenshot(path=str(tmp_path / "after_refresh.png"), full_page=True)


def test_a_deep_link_in_a_new_tab_stays_signed_in_and_shows_that_customer(
    context: Any,
    server: str,  # noqa: F811
    a_customer: tuple[int, str],
) -> None:
    signed_in_page(context, server, "manager")
    customer_id, customer_no = a_customer
    tab = context.new_page()
    tab.goto(f"{server}/customer?id={customer_id}")
    tab.get_by_role("heading", name="Customer", exact=True).wait_for(timeout=30_000)
    tab.get_by_text(customer_no).first.wait_for(timeout=30_000)
    assert tab.get_by_label(SIGN_IN_FORM).count() == 0


def test_a_deep_link_opened_signed_out_returns_to_it_after_sign_in(
    context: Any,
    server: str,  # noqa: F811
    a_customer: tuple[int, str],
) -> None:
    customer_id, customer_no = a_customer
    page = context.new_page()
    page.goto(f"{server}/customer?id={customer_id}")
    page.get_by_label(SIGN_IN_FORM).wait_for(timeout=30_000)
    sign_in(page, "manager")
    page.get_by_text(customer_no).first.wait_for(timeout=30_000)
    assert page.url.endswith(f"/customer?id={customer_id}")


def test_signing_out_ends_the_session(context: Any, server: str) -> None:  # noqa: F811
    page = signed_in_page(context, server, "boss")
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label(SIGN_IN_FORM).wait_for(timeout=30_000)
    wait_for_cookie(context, present=False)
    page.reload()
    page.get_by_label(SIGN_IN_FORM).wait_for(timeout=30_000)


def test_disabling_the_user_ends_their_session_on_the_next_run(
    context: Any,
    server: str,  # noqa: F811
    database_url: str,  # noqa: F811
) -> None:
    page = signed_in_page(context, server, "rep07")
    engine = make_engine(database_url)
    try:
        with session_scope(engine) as session:
            update_user(session, "rep07", actor=SYSTEM, is_active=False)
        page.get_by_role("link", name="Leads").click()  # the next run
        page.get_by_text("This account is disabled").wait_for(timeout=30_000)
        page.reload()  # the cookie no longer signs anyone in either
        page.get_by_label(SIGN_IN_FORM).wait_for(timeout=30_000)
    finally:
        with session_scope(engine) as session:
            update_user(session, "rep07", actor=SYSTEM, is_active=True)
        engine.dispose()
