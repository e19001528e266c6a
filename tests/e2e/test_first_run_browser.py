"""First run in Chromium against `streamlit run`: an empty database offers only the administrator form;
filling it signs the new administrator in, a refresh keeps them signed in, and the form is gone for good.

Needs Debian's Chromium (/usr/bin/chromium) and the playwright package; skipped without them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from funnel.core.db import make_engine, session_scope, upgrade
from funnel.core.i18n import t
from funnel.store.models import User
from tests.e2e.conftest import CHROMIUM
from tests.e2e.test_browser import server  # noqa: F401 (fixture)
from tests.e2e.test_sessions_browser import wait_for_cookie

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]
sync_api = pytest.importorskip("playwright.sync_api")
TIMEOUT = 30_000


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database without a single user (the `server` fixture of test_browser uses it)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('first_run') / 'first_run.db'}"
    engine = make_engine(url, create=True)
    upgrade(engine)
    engine.dispose()
    return url


def test_the_first_visitor_creates_the_administrator_and_is_signed_in(
    server: str,  # noqa: F811
    database_url: str,
    browser: Any,
) -> None:
    expect = sync_api.expect
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="en-US")
    page = context.new_page()
    page.goto(server)
    expect(page.get_by_role("heading", name=t("auth.setup_title", "en"))).to_be_visible(timeout=TIMEOUT)
    assert page.get_by_label("Username or e-mail").count() == 0  # no sign-in form before an admin exists

    page.get_by_label(t("users.username", "en"), exact=True).fill("founder")
    page.get_by_label(t("auth.display_name", "en")).fill("Founding Admin")
    page.get_by_label(t("auth.password", "en"), exact=True).fill("first-run-pass-1")
    page.get_by_label(t("auth.password_repeat", "en")).fill("first-run-pass-1")
    page.get_by_role("button", name=t("auth.create_admin", "en")).click()

    expect(page.get_by_text("Signed in as")).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_text("Founding Admin").first).to_be_visible(timeout=TIMEOUT)
    expect(page.get_by_role("heading", name=t("auth.setup_title", "en"))).to_have_count(0)

    engine = make_engine(database_url)
    with session_scope(engine) as session:
        (admin,) = session.scalars(select(User)).all()
        assert (admin.username, admin.role, admin.display_name) == ("founder", "admin", "Founding Admin")
    engine.dispose()

    # The cookie the sign-in set keeps the administrator signed in across a refresh.
    wait_for_cookie(context)
    page.reload()
    expect(page.get_by_text("Signed in as")).to_be_visible(timeout=TIMEOUT)

    # A second browser, without the cookie, now meets the sign-in form, not the first-run form.
    stranger = browser.new_context(locale="en-US").new_page()
    stranger.goto(server)
    expect(stranger.get_by_label("Username or e-mail")).to_be_visible(timeout=TIMEOUT)
    expect(stranger.get_by_role("heading", name=t("auth.setup_title", "en"))).to_have_count(0)
