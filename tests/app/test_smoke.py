"""Every page of app.py's table renders without an exception: empty, seeded, in Chinese, with a failing database."""

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from streamlit.testing.v1 import AppTest

from tests.app.helpers import APP, PAGES, app_page_table, open_page, seed


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

    Path(make_url(sqlite_url).database or "").touch()  # an empty file: a missing one is refused outside data/
    st.cache_resource.clear()
    st.cache_data.clear()
    app = AppTest.from_file(str(APP), default_timeout=30)
    app.run()
    assert not app.exception
    assert "customer" in inspect(make_engine(sqlite_url)).get_table_names()
    st.cache_resource.clear()


@pytest.mark.parametrize("page", PAGES)
def test_a_page_whose_database_reads_fail_shows_a_message_and_never_streamlits_error(
    app: AppTest, app_engine: Engine, page: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.engine import Connection
    from sqlalchemy.exc import OperationalError

    seed(app_engine, {"lead": 2})
    original = Connection.execute

    def failing(self: Connection, statement: Any, *args: Any, **kwargs: Any) -> Any:
        if any(table in str(statement) for table in ("user_session", "alembic_version")):
            return original(self, statement, *args, **kwargs)  # the shell's sign-in check still works
        raise OperationalError(str(statement)[:40], {}, Exception("database is locked"))

    monkeypatch.setattr(Connection, "execute", failing)
    app.query_params["id"] = "1"  # the customer page shows customer 1
    open_page(app, page)
    assert not app.exception
    assert any(error.value.startswith("The database could not complete this") for error in app.error)


def test_the_smoke_tests_cover_every_page_of_app_pys_table() -> None:
    assert set(PAGES) == {path for _, path, *_ in app_page_table()}
    assert "pages/customer.py" in PAGES  # the hidden page too


def test_a_mistyped_database_path_gets_a_clear_page_not_an_empty_new_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import streamlit as st

    from funnel.core.settings import get_settings

    missing = tmp_path / "typo" / "loudou.db"
    monkeypatch.setenv("CRM_DATABASE_URL", f"sqlite:///{missing}")
    get_settings.cache_clear()
    st.cache_resource.clear()
    app = AppTest.from_file(str(APP), default_timeout=30).run()
    assert not app.exception
    assert "does not exist" in app.error[0].value
    assert not missing.exists()  # nobody becomes the first admin of a database made by mistake
    st.cache_resource.clear()
    get_settings.cache_clear()
