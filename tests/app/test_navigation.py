"""The navigation: always st.navigation, by role and section; signed out only the sign-in page; deep links."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import streamlit as st
from sqlalchemy import Engine
from streamlit.navigation.page import StreamlitPage
from streamlit.testing.v1 import AppTest

from funnel.access.permissions import SYSTEM, Actor, allowed
from funnel.accounts.sessions import claim_handoff, start_session
from funnel.accounts.users import update_user
from funnel.core.db import session_scope
from pages._shared import auth_ui
from tests.app.conftest import PASSWORD
from tests.app.helpers import APP, app_page_table, seed
from tests.app.test_login import log_in, titles


@pytest.fixture(autouse=True)
def navigations(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, list[StreamlitPage]]]:
    """What each run handed st.navigation, by section ("" when not in sections)."""
    calls: list[dict[str, list[StreamlitPage]]] = []
    original = st.navigation

    def spy(pages: Any, **kwargs: Any) -> StreamlitPage:
        calls.append(dict(pages) if isinstance(pages, dict) else {"": list(pages)})
        return original(pages, **kwargs)

    monkeypatch.setattr(st, "navigation", spy)
    return calls


def pages_of(call: dict[str, list[StreamlitPage]]) -> list[StreamlitPage]:
    return [page for section in call.values() for page in section]


def visible_titles(call: dict[str, list[StreamlitPage]]) -> list[str]:
    return [page.title for page in pages_of(call) if page.visibility == "visible"]


def test_signed_out_the_navigation_holds_only_the_sign_in_page(
    anonymous_app: AppTest, accounts: dict[str, int], navigations: list[dict[str, list[StreamlitPage]]]
) -> None:
    app = anonymous_app.run()
    assert not app.exception
    assert navigations, "st.navigation is called on every run, signed out too"
    assert visible_titles(navigations[-1]) == ["Sign in"]
    # Every app page's address answers with the sign-in page (hidden), never with the page itself.
    assert {page.title for page in pages_of(navigations[-1])} == {"Sign in"}
    page_urls = {path.removeprefix("pages/").removesuffix(".py") for _, path, *_ in app_page_table()}
    hidden = {page.url_path for page in pages_of(navigations[-1]) if page.visibility == "hidden"}
    assert hidden == page_urls
    assert not any(info.get("script_path") for info in app._registered_pages.values())  # no page file


def test_signed_out_in_chinese_the_navigation_is_chinese_too(
    anonymous_app: AppTest, accounts: dict[str, int], navigations: list[dict[str, list[StreamlitPage]]]
) -> None:
    app = anonymous_app.run()
    app.radio(key="lang").set_value("zh").run()
    assert visible_titles(navigations[-1]) == ["登录"]


def test_on_first_run_the_navigation_holds_only_the_admin_form(
    anonymous_app: AppTest, navigations: list[dict[str, list[StreamlitPage]]]
) -> None:
    app = anonymous_app.run()
    assert len(visible_titles(navigations[-1])) == 1
    assert titles(app) == ["Welcome to Loudou: create the first administrator"]


@pytest.mark.parametrize("role", ["rep", "manager", "leader", "delivery", "admin"])
def test_signed_in_the_navigation_offers_the_pages_of_the_table_the_role_may_open(
    app_as: Callable[[str], AppTest], navigations: list[dict[str, list[StreamlitPage]]], role: str
) -> None:
    app = app_as(role).run()
    assert not app.exception
    actor = Actor(user_id=0, username=role, role=role)
    expected = [path for _, path, _, _, permission in app_page_table() if allowed(actor, permission)]
    offered = pages_of(navigations[-1])
    assert [str(page._page) for page in offered] == [str(APP.parent / path) for path in expected]
    assert [page.title for page in offered if page.visibility == "hidden"] == (
        ["Customer"] if "pages/customer.py" in expected else []
    )


def test_signed_in_the_pages_are_grouped_in_sections(
    app_as: Callable[[str], AppTest], navigations: list[dict[str, list[StreamlitPage]]]
) -> None:
    app_as("admin").run()
    sections = {name: [page.title for page in pages] for name, pages in navigations[-1].items()}
    assert sections == {
        "Sell": ["Leads", "New lead", "Customer", "Objections", "Contracts & payments"],
        "Analyse": ["Dashboard"],
        "Admin": ["Users", "Audit log"],
    }


def test_a_deep_link_opened_signed_out_returns_to_that_page_after_sign_in(
    anonymous_app: AppTest, accounts: dict[str, int], app_engine: Engine
) -> None:
    seed(app_engine, {"lead": 1}, company="Deep Link Ltd")
    app = anonymous_app.switch_page("pages/customer.py")  # /customer?id=1 typed into the address bar
    app.query_params["id"] = "1"
    app.run()
    assert titles(app) == ["Sign in"]
    log_in(app, "manager", PASSWORD)
    assert not app.exception
    assert titles(app) == ["Customer"]
    assert "Deep Link Ltd" in [caption.value for caption in app.caption]


def test_a_browser_cookie_signs_in_a_new_session_until_the_user_is_disabled(
    anonymous_app: AppTest, accounts: dict[str, int], app_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with session_scope(app_engine) as session:
        token = claim_handoff(session, start_session(session, user_id=accounts["rep"]).handoff)
    monkeypatch.setattr(auth_ui, "_cookie_token", lambda: token)  # AppTest cannot send cookies
    app = anonymous_app.run()  # a refresh: a new Streamlit session, the browser's cookie
    assert "Funnel dashboard" in titles(app)
    with session_scope(app_engine) as session:
        update_user(session, "rep", actor=SYSTEM, is_active=False)
    app.run()  # the next click
    assert titles(app) == ["Sign in"]
    assert app.info[0].value == "This account is disabled. Ask an administrator."


def test_signing_in_hands_the_browser_a_code_for_its_cookie_and_signing_out_drops_it(
    anonymous_app: AppTest, accounts: dict[str, int]
) -> None:
    app = log_in(anonymous_app.run(), "rep", PASSWORD)
    html = [element.proto.body for element in app.get("html")]
    assert any("/api/sign-in" in body for body in html)
    app.sidebar.button(key="sign_out").click().run()
    assert titles(app) == ["Sign in"]
    assert any("/api/sign-out" in element.proto.body for element in app.get("html"))
