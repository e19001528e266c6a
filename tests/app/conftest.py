"""App tests: each runs app.py under AppTest against its own migrated SQLite file, with clean caches."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from funnel.access.permissions import SYSTEM
from funnel.accounts.users import UserInput, add_user
from funnel.core.db import make_engine, session_scope, upgrade
from pages._shared.shell import use_navigation_only
from tests.app.helpers import APP, start_signed_in
from tests.conftest import copy_migrated_sqlite


@pytest.fixture(autouse=True)
def navigation_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the app as the server does (app.py: use_navigation_only), never in old pages-folder mode.

    AppTest starts every run as if no st.navigation call had happened yet, which runs the first script
    of each run.run() in Streamlit's pages-folder mode; the server is told at start-up not to.
    """
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self: PagesManager, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        use_navigation_only()

    monkeypatch.setattr(PagesManager, "__init__", init)


def _clear_streamlit_caches() -> None:
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def app_engine(sqlite_url: str, sqlite_template: Path) -> Iterator[Engine]:
    """A migrated engine on the database the app opens (CRM_DATABASE_URL); Streamlit caches cleared around."""
    _clear_streamlit_caches()
    copy_migrated_sqlite(sqlite_template, sqlite_url)
    engine = make_engine(sqlite_url)
    upgrade(engine)
    yield engine
    engine.dispose()
    _clear_streamlit_caches()


ROLES = ("rep", "manager", "leader", "delivery", "admin")
PASSWORD = "app-test-pass"


@pytest.fixture
def accounts(app_engine: Engine) -> dict[str, int]:
    """One user per role (username = role) plus a second rep `rep2`; their ids by username."""
    ids = {}
    with session_scope(app_engine) as session:
        for username, role in [*((r, r) for r in ROLES), ("rep2", "rep")]:
            user = add_user(session, UserInput(username=username, role=role), password=PASSWORD, actor=SYSTEM)
            ids[username] = user.id
    return ids


@pytest.fixture
def app_as(app_engine: Engine, accounts: dict[str, int]) -> Callable[[str], AppTest]:
    """The app, not yet run, with `username` already signed in."""

    def make(username: str) -> AppTest:
        app = AppTest.from_file(str(APP), default_timeout=30)
        start_signed_in(app, app_engine, accounts[username])
        return app

    return make


@pytest.fixture
def app(app_as: Callable[[str], AppTest]) -> AppTest:
    """The app on that database, not yet run, signed in as the administrator."""
    return app_as("admin")


@pytest.fixture
def anonymous_app(app_engine: Engine) -> AppTest:
    """The app with nobody signed in (the sign-in or first-run form)."""
    return AppTest.from_file(str(APP), default_timeout=30)
