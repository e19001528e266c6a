"""The language a user picks is kept with their account: a refresh (a new session) opens in it."""

from __future__ import annotations

from sqlalchemy import Engine, select

from funnel.core.db import session_scope
from funnel.store.models import User
from tests.app.helpers import open_page


def test_a_switch_is_remembered_for_the_next_session_of_that_user_only(
    app_as, app_engine: Engine, accounts
) -> None:
    first = open_page(app_as("manager"), "pages/my_day.py")
    assert first.radio(key="lang").value == "en"  # the team's default (tests run with English)
    first.radio(key="lang").set_value("zh").run()
    assert not first.exception
    with session_scope(app_engine) as session:
        saved = dict(session.execute(select(User.username, User.language)).all())
    assert saved["manager"] == "zh" and saved["rep"] is None

    refreshed = open_page(app_as("manager"), "pages/my_day.py")  # a new session, as after a refresh
    assert refreshed.radio(key="lang").value == "zh"
    assert not refreshed.exception
    other = open_page(app_as("rep"), "pages/my_day.py")
    assert other.radio(key="lang").value == "en"
