"""Every page renders without an exception, on an empty and on a seeded database, in both languages."""

import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from tests.app.helpers import APP, PAGES, open_page, seed


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_on_an_empty_database(app: AppTest, page: str) -> None:
    open_page(app, page)
    assert not app.exception
    assert app.title


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_on_a_seeded_database(app: AppTest, app_engine: Engine, page: str) -> None:
    seed(app_engine, {"lead": 3, "contact": 2, "proposal": 1, "won": 1, "lost": 1}, channel="官网")
    open_page(app, page)
    assert not app.exception
    assert app.title


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_in_chinese_and_keeps_the_language_across_pages(
    app: AppTest, app_engine: Engine, page: str
) -> None:
    seed(app_engine, {"lead": 2, "qualify": 1})
    app.run()
    app.radio(key="lang").set_value("zh").run()
    open_page(app, page)
    assert not app.exception
    assert app.session_state["lang"] == "zh"
    assert any("\u4e00" <= ch <= "\u9fff" for ch in app.title[0].value)  # a Chinese title


def test_the_app_brings_an_unmigrated_database_to_the_latest_schema(sqlite_url: str) -> None:
    import streamlit as st
    from sqlalchemy import inspect

    from funnel.core.db import make_engine

    st.cache_resource.clear()
    st.cache_data.clear()
    app = AppTest.from_file(str(APP), default_timeout=30)
    app.run()
    assert not app.exception
    assert "customer" in inspect(make_engine(sqlite_url)).get_table_names()
    st.cache_resource.clear()
