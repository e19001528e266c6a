"""The satisfaction survey in Chromium against `streamlit run`: a customer is won, `remind` three days
later (a fake --now) issues the survey, the link opens, the form is answered once, a second submit is
refused with a clear page, and an expired link says so.

Needs Debian's Chromium (/usr/bin/chromium) and the playwright package; skipped without them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from funnel.access.permissions import SYSTEM, Actor
from funnel.accounts.users import UserInput, add_user
from funnel.capture.leads import LeadInput, create_lead
from funnel.closing import contracts
from funnel.core.clock import utcnow
from funnel.core.db import make_engine, session_scope, upgrade
from funnel.core.i18n import t
from funnel.core.settings import get_settings
from funnel.store.models import Notification, Survey, User
from tests.e2e.test_browser import CHROMIUM, CHROMIUM_ARGS, ROOT, server  # noqa: F401 (fixture)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"),
]
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An empty migrated database for the module's server (the `server` fixture of test_browser uses it)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('survey') / 'survey.db'}"
    engine = make_engine(url, create=True)
    upgrade(engine)
    engine.dispose()
    return url


def won_customer(url: str, name: str, won_days_ago: float) -> tuple[int, datetime]:
    """A customer won through the contract flow (a manager approves), its win moved `won_days_ago` back."""
    engine = make_engine(url)
    with session_scope(engine) as session:
        users = {}
        for username, role in (("rep", "rep"), ("boss", "manager")):
            user = session.scalars(select(User).where(User.username == username)).first()
            if user is None:
                user = add_user(
                    session, UserInput(username=username, role=role), password="pw-e2e-1234", actor=SYSTEM
                )
            users[username] = user
        lead = LeadInput(name=name, email=f"{name.lower()}@example.com", stage="closing")
        deal = create_lead(session, lead, actor=SYSTEM)
        deal.owner_id = users["rep"].id
        session.flush()
        rep, boss = Actor.of(users["rep"]), Actor.of(users["boss"])
        draft = contracts.create_contract(session, actor=rep, customer_id=deal.id, amount="30000")
        contracts.submit_contract(session, actor=rep, contract_id=draft.id)
        contracts.approve_contract(session, actor=boss, contract_id=draft.id)
        assert deal.status == "won" and deal.won_at is not None
        deal.won_at = (utcnow() - timedelta(days=won_days_ago)).replace(microsecond=0)
        made = (deal.id, deal.won_at)
    engine.dispose()
    return made


def remind(url: str, now: datetime) -> dict[str, Any]:
    env = {**os.environ, "CRM_DATABASE_URL": url}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "funnel",
            "remind",
            "--now",
            now.replace(tzinfo=UTC).isoformat(),
            "--format",
            "json",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def survey_path(url: str, customer_id: int) -> str:
    """The link the owner was sent to forward, as a path on the test server."""
    engine = make_engine(url)
    with session_scope(engine) as session:
        note = session.scalars(
            select(Notification).where(
                Notification.kind == "survey_issued", Notification.customer_id == customer_id
            )
        ).one()
        link = str((note.params or {})["path"])
    engine.dispose()
    assert link.startswith(get_settings().public_base_url + "/survey/")
    return link.removeprefix(get_settings().public_base_url)


def test_the_survey_is_issued_three_days_after_the_win_and_answered_once_in_chromium(
    server: str,  # noqa: F811
    database_url: str,
    tmp_path: Path,
) -> None:
    after = timedelta(days=get_settings().survey_after_win_days)
    fresh, fresh_won = won_customer(database_url, "Fresh", 3.01)
    stale, stale_won = won_customer(database_url, "Stale", 18)  # its survey, issued on time, has expired

    assert remind(database_url, stale_won + after)["created"]["survey_issued"] == 1  # the stale one, then
    assert remind(database_url, fresh_won + after - timedelta(minutes=1))["created"]["survey_issued"] == 0
    issued = remind(database_url, fresh_won + after)  # three days after the win: the fresh one
    assert issued["created"]["survey_issued"] == 1 and issued["total_created"] >= 1
    assert remind(database_url, fresh_won + after)["created"]["survey_issued"] == 0  # once only

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context: Any = browser.new_context(locale="en-US")
        first, second = context.new_page(), context.new_page()
        path = survey_path(database_url, fresh)
        for tab in (first, second):
            tab.goto(f"{server}{path}")
            tab.get_by_role("heading", name=t("survey.title", "en")).wait_for(timeout=30_000)

        first.get_by_label("4", exact=True).check()
        first.locator("select[name=recommend]").select_option("9")
        first.locator("textarea[name=comment]").fill("Quick onboarding, 谢谢")
        first.get_by_role("button", name=t("survey.submit", "en")).click()
        first.get_by_text(t("survey.thanks", "en")).wait_for(timeout=30_000)
        first.screenshot(path=str(tmp_path / "thanks.png"), full_page=True)

        # The same form, still open in another tab, is sent again: refused with a clear page.
        second.get_by_label("1", exact=True).check()
        second.locator("select[name=recommend]").select_option("0")
        second.get_by_role("button", name=t("survey.submit", "en")).click()
        second.get_by_text(t("survey.answered", "en")).wait_for(timeout=30_000)

        expired = context.new_page()
        response = expired.goto(f"{server}{survey_path(database_url, stale)}")
        assert response is not None and response.status == 410
        expired.get_by_text(t("survey.expired", "en")).wait_for(timeout=30_000)
        browser.close()

    engine = make_engine(database_url)
    with session_scope(engine) as session:
        answer = session.scalars(select(Survey).where(Survey.customer_id == fresh)).one()
        assert (answer.rating, answer.recommend, answer.comment) == (4, 9, "Quick onboarding, 谢谢")
        assert session.scalars(select(Survey.answered_at).where(Survey.customer_id == stale)).one() is None
    engine.dispose()
