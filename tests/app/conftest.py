"""App tests: each runs app.py under AppTest against its own migrated SQLite file, with clean caches."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import streamlit as st
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from funnel.db import make_engine, upgrade
from tests.app.helpers import APP


def _clear_streamlit_caches() -> None:
    st.cache_data.clear()
    st.cache_resource.clear()


@pytest.fixture
def app_engine(sqlite_url: str) -> Iterator[Engine]:
    """A migrated engine on the database the app opens (CRM_DATABASE_URL); Streamlit caches cleared around."""
    _clear_streamlit_caches()
    engine = make_engine(sqlite_url)
    upgrade(engine)
    yield engine
    engine.dispose()
    _clear_streamlit_caches()


@pytest.fixture
def app(app_engine: Engine) -> AppTest:
    """The app on that database, not yet run."""
    return AppTest.from_file(str(APP), default_timeout=30)
