"""The forecast page: leadership sees the weighted weeks, P(win | stage), the deals and the backtest."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import Engine, select
from streamlit.testing.v1 import AppTest

from funnel.access.permissions import SYSTEM
from funnel.analytics.forecast import backtest, build_forecast
from funnel.core.clock import team_today
from funnel.core.db import session_scope
from funnel.demo.generate import generate_demo
from funnel.store.models import ForecastSnapshot, Notification
from pages._shared import forecast_parts
from tests.app.helpers import metric_values, open_page


def test_the_forecast_page_shows_the_same_numbers_as_the_engine_and_stores_the_weeks_snapshot(
    app_as, app_engine: Engine
) -> None:
    generate_demo(app_engine, leads=400, seed=3, actor=SYSTEM)
    app: AppTest = open_page(app_as("leader"), "pages/forecast.py")
    assert not app.exception
    with session_scope(app_engine) as session:
        expected = build_forecast(session, actor=SYSTEM)
        snapshots = session.scalars(select(ForecastSnapshot.week)).all()
    metrics = metric_values(app)
    assert metrics["Open customers"] == f"{expected.open:,}"
    assert metrics["Slipped"] == f"{expected.slipped:,}"
    assert len(snapshots) == 1  # the first visit of the week stored it
    specs = [json.loads(chart.proto.spec) for chart in app.get("vega_lite_chart")]
    assert specs[0]["encoding"]["x"]["sort"] == [w.week for w in expected.weeks]
    # The page assembles the backtest from weeks cached one by one: the same as backtest() in one go.
    for weeks in (8, 10):
        app.slider(key="forecast_backtest_weeks").set_value(weeks).run()
        with session_scope(app_engine) as session:
            tested = backtest(session, actor=SYSTEM, weeks=weeks, today=team_today())
        assert tested.wape_pct is not None
        assert metric_values(app)["Backtest error (WAPE)"] == f"{tested.wape_pct:.0f} %"

    # A past as-of day replays the forecast made then.
    earlier = team_today() - timedelta(days=30)
    app.date_input(key="forecast_as_of").set_value(earlier).run()
    assert not app.exception
    with session_scope(app_engine) as session:
        then = build_forecast(session, actor=SYSTEM, as_of=earlier)
    assert metric_values(app)["Open customers"] == f"{then.open:,}"


def test_the_page_works_on_an_empty_database(app_as) -> None:
    app = open_page(app_as("manager"), "pages/forecast.py")
    assert not app.exception
    assert metric_values(app)["Open customers"] == "0"
    assert "No open deal has an amount yet" in app.info[0].value


def test_a_manager_picks_a_deal_and_puts_it_in_commit_with_a_call(app_as, app_engine: Engine) -> None:
    generate_demo(app_engine, leads=400, seed=3, actor=SYSTEM)
    app: AppTest = open_page(app_as("manager"), "pages/forecast.py")
    with session_scope(app_engine) as session:
        deals = build_forecast(session, actor=SYSTEM).deals
    shown = deals[deals["amount"] > 0].sort_values("weighted", ascending=False)
    picked = shown.iloc[0]
    app.session_state["forecast_deals"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    app.run()
    assert not app.exception
    assert any(picked["customer_no"] in m.value for m in app.markdown)
    [category] = [s for s in app.selectbox if s.label == "Your forecast call"]
    category.set_value("commit")
    app.text_input[-1].input("signs after the board meeting")
    [button] = [b for b in app.button if b.label == "Save the call"]
    button.click().run()
    assert not app.exception
    with session_scope(app_engine) as session:
        after = build_forecast(session, actor=SYSTEM).deals.set_index("customer_no")
    assert after.loc[picked["customer_no"], "call"] == "commit"
    assert after.loc[picked["customer_no"], "call_note"] == "signs after the board meeting"


def test_leadership_sees_the_deal_but_makes_no_call(app_as, app_engine: Engine) -> None:
    generate_demo(app_engine, leads=200, seed=3, actor=SYSTEM)
    app: AppTest = open_page(app_as("leader"), "pages/forecast.py")
    app.session_state["forecast_deals"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    app.run()
    assert not app.exception
    assert [b.label for b in app.button if b.label == "Open the customer"]
    assert not [s for s in app.selectbox if s.label == "Your forecast call"]


def test_the_weekly_summary_is_prepared_downloaded_and_announced_from_the_page(
    app_as, app_engine: Engine
) -> None:
    generate_demo(app_engine, leads=300, seed=3, actor=SYSTEM)
    app: AppTest = open_page(app_as("manager"), "pages/forecast.py")
    [prepare] = [b for b in app.button if b.label == "Prepare the summary"]
    prepare.click().run()
    assert not app.exception
    downloads = app.get("download_button")
    assert [d.proto.label for d in downloads] == ["Download the summary (HTML)"]
    page = app.session_state["_forecast_summary_html"][2]
    assert page.startswith("<!doctype html>") and "<svg" in page and "Top loss point" in page
    [post] = [b for b in app.button if b.label == "Tell leadership (inbox and group bots)"]
    post.click().run()
    assert not app.exception
    with session_scope(app_engine) as session:
        told = session.scalars(select(Notification.kind).where(Notification.kind == "weekly_summary")).all()
    assert len(told) >= 1


def test_the_deals_table_lists_the_largest_weighted_deals_and_says_how_many_there_are(
    app_as, app_engine: Engine, monkeypatch
) -> None:
    generate_demo(app_engine, leads=300, seed=3, actor=SYSTEM)
    monkeypatch.setattr(forecast_parts, "DEALS_SHOWN", 5)
    with session_scope(app_engine) as session:
        deals = build_forecast(session, actor=SYSTEM).deals
    with_amount = deals[deals["amount"] > 0]
    assert len(with_amount) > 5
    app: AppTest = open_page(app_as("manager"), "pages/forecast.py")
    assert not app.exception
    [table] = [df for df in app.dataframe if "customer_no" in df.value.columns]
    assert len(table.value) == 5
    assert table.value["customer_no"].tolist() == with_amount.nlargest(5, "weighted")["customer_no"].tolist()
    assert any(f"The 5 largest weighted deals of {len(with_amount):,}" in c.value for c in app.caption)
