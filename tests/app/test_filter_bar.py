"""The analytics filter bar: every filter on the page and in the address bar, both ways."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from funnel.analytics.periods import CUSTOM_PERIOD
from pages._shared.filter_bar import params_from_state, state_from_params
from tests.app.helpers import metric_values, seed


@pytest.mark.parametrize(
    ("preset", "custom", "basis", "values"),
    [
        ("all", (), "created", {}),
        ("90d", (), "active", {"channel": ["展会", "直播"], "grade": ["A"]}),
        (
            CUSTOM_PERIOD,
            (date(2026, 1, 1), date(2026, 3, 31)),
            "created",
            {"tag": ["高意向"], "owner": ["rep"]},
        ),
        (CUSTOM_PERIOD, (date(2026, 1, 1),), "created", {"team": ["东区"], "campaign": ["618直播"]}),
        (CUSTOM_PERIOD, (), "created", {"region": ["华东"], "industry": ["零售"]}),
    ],
)
def test_the_query_string_round_trips(preset, custom, basis, values):
    params = params_from_state(preset, custom, basis, values)
    state = state_from_params(params)
    assert state.get("period", "all") == preset
    assert tuple(state.get("range", ())) == custom
    assert state.get("basis", "created") == basis
    assert {k: v for k, v in state.items() if k not in ("period", "range", "basis")} == values


def test_a_hand_edited_query_string_keeps_what_it_can():
    state = state_from_params(
        {"period": ["week"], "from": ["2026-13-01"], "basis": ["x"], "grade": ["", "A"]}
    )
    assert state == {"grade": ["A"]}
    assert state_from_params({"from": ["1066-10-14"], "to": ["2026-02-01"]}) == {
        "period": CUSTOM_PERIOD,
        "range": (date(2026, 2, 1),),
    }


def _seed(engine: Engine) -> None:
    seed(engine, {"lead": 4, "contact": 2}, channel="展会", team="东区", grade="A")
    seed(engine, {"lead": 3}, channel="直播", team="南区", grade="B")


def test_a_shared_link_opens_the_same_view(app: AppTest, app_engine: Engine) -> None:
    _seed(app_engine)
    app.query_params = {"period": "90d", "channel": ["直播", "展会"], "team": "南区", "basis": "active"}
    app.run()
    assert not app.exception
    assert app.selectbox(key="dash_period").value == "90d"
    assert app.radio(key="dash_basis").value == "active"
    assert app.multiselect(key="dash_channels").value == ["直播", "展会"]
    assert app.multiselect(key="dash_teams").value == ["南区"]
    assert metric_values(app)["Leads"] == "3"
    assert "with an activity or a stage change" in app.caption[0].value
    # The page rewrites the address bar from what it shows: the same view again, in canonical form.
    assert app.query_params["period"] == "90d"
    assert app.query_params["channel"] == ["直播", "展会"]


def test_changing_a_filter_rewrites_the_address_bar(
    app: AppTest, app_engine: Engine, app_as: Callable[[str], AppTest]
) -> None:
    _seed(app_engine)
    app.run()
    assert metric_values(app)["Leads"] == "9"
    assert not {"period", "channel", "grade"} & set(app.query_params)  # the default view: a bare address
    app.multiselect(key="dash_grades").select("A").run()
    app.selectbox(key="dash_period").set_value("custom").run()
    app.date_input(key="dash_range").set_value((date(2020, 1, 1), date(2099, 12, 31))).run()
    assert metric_values(app)["Leads"] == "6"
    assert app.query_params["grade"] == "A"
    assert (app.query_params["from"], app.query_params["to"]) == ("2020-01-01", "2099-12-31")

    # Opening that address in a new session gives the same view.
    shared = dict(app.query_params)
    again = app_as("manager")
    again.query_params = shared
    again.run()
    assert not again.exception
    assert again.multiselect(key="dash_grades").value == ["A"]
    assert again.date_input(key="dash_range").value == (date(2020, 1, 1), date(2099, 12, 31))
    assert metric_values(again)["Leads"] == "6"


def test_a_value_the_reader_has_not_got_still_shows_and_matches_nothing(
    app: AppTest, app_engine: Engine
) -> None:
    _seed(app_engine)
    app.query_params = {"tag": "大客户"}
    app.run()
    assert not app.exception
    assert app.multiselect(key="dash_tags").value == ["大客户"]
    assert "No leads match" in app.info[0].value
