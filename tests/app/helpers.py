"""Helpers for app tests: seeding through the use cases, opening a page, finding what a page drew."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import pairwise
from pathlib import Path
from time import perf_counter
from typing import Any

import pytest
import streamlit as st
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from funnel.accounts.sessions import start_session
from funnel.core.db import make_engine, session_scope
from funnel.core.settings import get_settings
from pages._shared.auth_ui import SESSION_KEY
from tests.factories import add_leads

APP = Path(__file__).resolve().parents[2] / "app.py"


def app_page_table() -> list[tuple[str, str, str, str, str]]:
    """app.py's page table, read from its source (importing app.py would build the server)."""
    for node in ast.parse(APP.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "PAGES" for t in node.targets):
            return [tuple(row) for row in ast.literal_eval(node.value)]
    raise AssertionError("app.py has no PAGES table")


DASHBOARD = "pages/dashboard.py"
LEAD_ENTRY = "pages/lead_entry.py"
PAGES = tuple(path for _, path, *_ in app_page_table())  # every page, the hidden customer page too


def start_signed_in(app: AppTest, engine: Engine, user_id: int) -> int:
    """Start a session for `user_id` as the sign-in form does; the app, when run, is signed in. Its id."""
    with session_scope(engine) as session:
        session_id = start_session(session, user_id=user_id).session_id
    app.session_state[SESSION_KEY] = session_id
    return session_id


def seed(engine: Engine, stage_counts: dict[str, int], **fields: object) -> None:
    """Leads at each stage (or won / lost), stored through funnel.capture.leads.create_lead."""
    with session_scope(engine) as session:
        add_leads(session, stage_counts, **fields)


def open_page(app: AppTest, page: str) -> AppTest:
    """Run the app (it opens on the dashboard), then switch to `page`."""
    app.run()
    if page != DASHBOARD:
        app.switch_page(page).run()
    return app


def metric_values(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def element_after(app: AppTest, key: str) -> Any:
    """The element drawn right after the widget with `key`, in the same container (None if none)."""

    def walk(node: Any) -> Any:
        children = getattr(node, "children", None) or {}
        ordered = [children[i] for i in sorted(children)]
        for before, after in pairwise(ordered):
            if getattr(before, "key", None) == key:
                return after
        for child in ordered:
            found = walk(child)
            if found is not None:
                return found
        return None

    return walk(app.main)


def shown(markdown: str) -> str:
    """What a reader sees of a markdown source: backslash escapes (user data shown as text) removed."""
    return re.sub(r"\\(.)", r"\1", markdown)


@contextmanager
def big_database(monkeypatch: pytest.MonkeyPatch, url: str) -> Iterator[Engine]:
    """The app pointed at a prepared large database (the opt-in 100k tests), with clean Streamlit caches."""
    monkeypatch.setenv("CRM_DATABASE_URL", url)
    get_settings.cache_clear()
    st.cache_data.clear()
    st.cache_resource.clear()
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
        st.cache_data.clear()
        st.cache_resource.clear()


def timed_run(step: Any) -> float:
    """Seconds one AppTest run (of the app or of a widget change) takes."""
    started = perf_counter()
    step.run(timeout=300)
    return perf_counter() - started
