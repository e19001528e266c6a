"""Channels page: a manager adds a source and sees its token once, gets the QR code, switches it, revokes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from funnel.access.permissions import SYSTEM
from funnel.capture.intake import TokenRefused, check_token, list_sources
from funnel.core.db import session_scope
from tests.app.helpers import open_page

CHANNELS = "pages/channels.py"


def add(app: AppTest, channel: str, campaign: str = "") -> AppTest:
    app.text_input(key="channels_add_channel").input(channel)
    app.text_input(key="channels_add_campaign").input(campaign)
    return app.button(key="channels_add_submit").click().run()


def sources(engine: Engine):
    with session_scope(engine) as session:
        return list_sources(session, actor=SYSTEM)


def test_a_manager_adds_a_source_and_its_token_is_shown_once_and_works(
    app_as: Callable[[str], AppTest], app_engine: Engine
) -> None:
    app = open_page(app_as("manager"), CHANNELS)
    assert not app.exception
    add(app, "展会", "CIIE 2026")
    assert not app.exception and not app.error
    (token,) = [c.value for c in app.code if len(c.value) >= 40 and "/" not in c.value]
    with session_scope(app_engine) as session:
        assert check_token(session, token).campaign == "CIIE 2026"
    table = app.dataframe[0].value
    assert table["campaign"].tolist() == ["CIIE 2026"] and table["form_url"][0].startswith(
        "http://localhost:8501/f/"
    )
    assert app.text_input(key="channels_add_channel").value == ""
    app.run()  # the next run no longer shows the token
    assert token not in [c.value for c in app.code]
    assert app.get("download_button")[0].proto.label == "Download QR code (PNG)"


def test_a_second_source_of_the_same_channel_is_refused_under_the_channel_with_the_input_kept(
    app: AppTest,
) -> None:
    open_page(app, CHANNELS)
    add(app, "官网")
    add(app, "官网")
    assert "exists already" in app.error[0].value
    assert app.text_input(key="channels_add_channel").value == "官网"


def test_switching_off_and_revoking(app: AppTest, app_engine: Engine) -> None:
    open_page(app, CHANNELS)
    add(app, "公众号")
    (token,) = [c.value for c in app.code if len(c.value) >= 40 and "/" not in c.value]
    (source,) = sources(app_engine)
    app.toggle(key=f"channels_active_{source.id}").set_value(False).run()
    assert not app.exception
    assert [s.active for s in sources(app_engine)] == [False]
    app.button(key="channels_revoke").click().run()
    assert [s.has_token for s in sources(app_engine)] == [False]
    with session_scope(app_engine) as session:
        try:
            check_token(session, token)
        except TokenRefused:
            pass
        else:
            raise AssertionError("a revoked token still works")


def test_the_page_is_in_the_menu_of_managers_and_admins_only(app_as: Callable[[str], AppTest]) -> None:
    for role in ("rep", "leader", "delivery", "manager", "admin"):
        app = app_as(role)
        app.run()
        if role in ("manager", "admin"):
            app.switch_page(CHANNELS).run()
            assert app.title[0].value == "Channels"
        else:
            with pytest.raises(ValueError, match="Could not find a navigation page"):
                app.switch_page(CHANNELS)
