"""Demo data in the app: the welcome's button and its caution, the sign-in hint, and CRM_ALLOW_DEMO."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from funnel.access.permissions import SYSTEM
from funnel.core.settings import get_settings
from funnel.demo.generate import DEMO_PASSWORD, generate_demo


@pytest.fixture
def allow_demo(monkeypatch: pytest.MonkeyPatch) -> Callable[[bool], None]:
    def set_to(on: bool) -> None:
        monkeypatch.setenv("CRM_ALLOW_DEMO", "1" if on else "0")
        get_settings.cache_clear()

    return set_to


def captions(app: AppTest) -> str:
    return "\n".join(caption.value for caption in app.caption)


def test_the_demo_button_comes_with_a_caution_about_the_demo_password(
    app: AppTest, allow_demo: Callable[[bool], None]
) -> None:
    allow_demo(True)
    app.run()
    assert not app.exception
    assert app.button(key="load_demo")
    assert f"`{DEMO_PASSWORD}`" in captions(app)
    assert "not for a production database" in captions(app)


def test_with_demo_data_switched_off_an_admin_gets_no_demo_button_and_no_mention_of_it(
    app: AppTest, allow_demo: Callable[[bool], None]
) -> None:
    allow_demo(False)
    app.run()
    assert not app.exception
    assert "load_demo" not in [button.key for button in app.button]
    assert DEMO_PASSWORD not in captions(app)
    assert "demo" not in app.markdown[0].value.lower()
    assert app.get("page_link")[0].proto.page == "lead_entry"


def test_a_rep_gets_no_demo_button(app_as: Callable[[str], AppTest]) -> None:
    app = app_as("rep").run()
    assert "load_demo" not in [button.key for button in app.button]
    assert DEMO_PASSWORD not in captions(app)


def test_the_sign_in_page_names_the_demo_logins_but_never_the_real_admin(
    anonymous_app: AppTest, accounts: dict[str, int], app_engine: Engine, allow_demo: Callable[[bool], None]
) -> None:
    allow_demo(True)
    generate_demo(app_engine, leads=20, seed=1, actor=SYSTEM)
    app = anonymous_app.run()
    hint = captions(app)
    assert f"`{DEMO_PASSWORD}`" in hint
    assert "`rep01`" in hint
    assert "`boss`" in hint
    assert "`admin`" not in hint  # the accounts fixture's admin kept its own password


def test_with_demo_data_switched_off_the_sign_in_page_shows_no_demo_password(
    anonymous_app: AppTest, accounts: dict[str, int], app_engine: Engine, allow_demo: Callable[[bool], None]
) -> None:
    generate_demo(app_engine, leads=20, seed=1, actor=SYSTEM)
    allow_demo(False)
    app = anonymous_app.run()
    assert not app.exception
    assert app.title[0].value == "Sign in"
    assert DEMO_PASSWORD not in captions(app)


def test_without_demo_users_the_sign_in_page_shows_no_demo_password(
    anonymous_app: AppTest, accounts: dict[str, int]
) -> None:
    app = anonymous_app.run()
    assert DEMO_PASSWORD not in captions(app)
