"""Lists & scoring page: a manager edits a managed list and the score rules; bad rows are named."""

from sqlalchemy import Engine, select
from streamlit.testing.v1 import AppTest

from funnel.core.db import session_scope
from funnel.store.models import ListItem, ScoreRule
from tests.app.helpers import open_page

PAGE = "pages/lists.py"


def test_the_page_shows_the_channel_list_with_both_names(app: AppTest) -> None:
    open_page(app, PAGE)

    assert not app.exception
    assert app.title[0].value == "Managed lists"
    assert any("needs 200 closed" in info.value for info in app.info)  # no history: no learned model


def test_saving_the_list_unchanged_keeps_every_value(app: AppTest, app_engine: Engine) -> None:
    open_page(app, PAGE)
    app.button(key="lists_save").click().run()

    assert not app.exception
    with session_scope(app_engine) as session:
        names = set(session.scalars(select(ListItem.name_en).where(ListItem.list_name == "channel")))
    assert "Trade show" in names


def test_saving_the_rules_rescores_and_keeps_them(app: AppTest, app_engine: Engine) -> None:
    open_page(app, PAGE)
    with session_scope(app_engine) as session:
        before = len(session.scalars(select(ScoreRule)).all())

    app.button(key="scoring_save").click().run()

    assert not app.exception
    with session_scope(app_engine) as session:
        assert len(session.scalars(select(ScoreRule)).all()) == before
