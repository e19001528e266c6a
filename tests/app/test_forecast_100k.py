"""The forecast page's redraw times on a large demo database (100,000 leads), under AppTest, and its
figures against `python -m funnel forecast --format json` for the same inputs.

Build the database once (a minute or two), then point the test at it:

    CRM_DATABASE_URL=sqlite:////tmp/demo100k.db python -m funnel demo --leads 100000 --seed 1
    CRM_FORECAST_BIG_DB=sqlite:////tmp/demo100k.db pytest -s tests/app/test_forecast_100k.py

Skipped without CRM_FORECAST_BIG_DB. It prints the figures; it asserts the numbers, not the times
(a shared CI machine's times vary too much), except a generous ceiling.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from time import perf_counter
from typing import Any

import pytest
import streamlit as st
from sqlalchemy import Engine, select
from streamlit.testing.v1 import AppTest

from funnel.access.permissions import SYSTEM
from funnel.analytics.forecast import backtest
from funnel.core.clock import team_today
from funnel.core.db import make_engine, session_scope
from funnel.core.settings import get_settings
from funnel.store.models import User
from tests.app.helpers import APP, metric_values, start_signed_in

BIG_DB = os.environ.get("CRM_FORECAST_BIG_DB")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not BIG_DB, reason="CRM_FORECAST_BIG_DB (a demo database URL) is not set"),
]


@pytest.fixture
def big(monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    assert BIG_DB
    monkeypatch.setenv("CRM_DATABASE_URL", BIG_DB)
    get_settings.cache_clear()
    st.cache_data.clear()
    st.cache_resource.clear()
    engine = make_engine(BIG_DB)
    yield engine
    engine.dispose()
    st.cache_data.clear()
    st.cache_resource.clear()


def _timed(step: Any) -> float:
    started = perf_counter()
    step.run(timeout=300)
    return perf_counter() - started


def _command(as_of: date, weeks: int, window_days: int) -> dict[str, Any]:
    """What `python -m funnel forecast` prints for these inputs."""
    args = ["--as-of", as_of.isoformat(), "--weeks", str(weeks), "--window-days", str(window_days)]
    done = subprocess.run(
        [sys.executable, "-m", "funnel", "forecast", *args, "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "CRM_DATABASE_URL": BIG_DB or ""},
    )
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def _assert_page_shows(app: AppTest, expected: dict[str, Any]) -> None:
    """The page's tiles, weeks table and P(win) table against the command's JSON."""
    assert not app.exception
    metrics = metric_values(app)
    assert metrics["Open customers"] == f"{expected['open']:,}"
    assert metrics["Slipped"] == f"{expected['slipped']:,}"
    weeks, p_win = app.dataframe[0].value, app.dataframe[1].value
    assert list(weeks["Week"]) == [w["week"] for w in expected["weeks"]]
    assert list(weeks["Deals"]) == [w["deals"] for w in expected["weeks"]]
    assert [round(float(v), 2) for v in weeks["Amount"]] == [w["amount"] for w in expected["weeks"]]
    assert [round(float(v), 2) for v in weeks["Weighted"]] == [w["weighted"] for w in expected["weeks"]]
    assert [round(float(v), 4) for v in p_win["P(win)"]] == list(expected["p_win"].values())
    caption = f"{expected['closed_in_window']:,}"
    assert any(caption in c.value or str(expected["closed_in_window"]) in c.value for c in app.caption)


def test_the_forecast_page_redraws_each_control_with_the_commands_numbers_on_a_big_database(
    big: Engine, capsys
) -> None:
    with session_scope(big) as session:
        admin_id = session.scalar(select(User.id).where(User.username == "admin"))
    today = team_today()
    app = AppTest.from_file(str(APP), default_timeout=300)
    start_signed_in(app, big, admin_id)
    app.run(timeout=300)  # the app opens on the dashboard, timed by its own test

    times = {"first render": _timed(app.switch_page("pages/forecast.py"))}
    _assert_page_shows(app, _command(today, 12, 365))
    earlier = today - timedelta(days=60)
    times["as of 60 days ago"] = _timed(app.date_input(key="forecast_as_of").set_value(earlier))
    _assert_page_shows(app, _command(earlier, 12, 365))
    times["weeks 12 -> 20"] = _timed(app.slider(key="forecast_weeks").set_value(20))
    _assert_page_shows(app, _command(earlier, 20, 365))
    times["window 365 -> 90 days"] = _timed(app.selectbox(key="forecast_window").set_value(90))
    _assert_page_shows(app, _command(earlier, 20, 90))
    times["backtest 8 -> 12 weeks"] = _timed(app.slider(key="forecast_backtest_weeks").set_value(12))
    with session_scope(big) as session:
        tested = backtest(session, actor=SYSTEM, weeks=12, today=today, window_days=90)
    assert tested.wape_pct is not None
    assert metric_values(app)["Backtest error (WAPE)"] == f"{tested.wape_pct:.0f} %"
    times["as of back to today"] = _timed(app.date_input(key="forecast_as_of").set_value(today))
    _assert_page_shows(app, _command(today, 20, 90))
    times["window back to 365 (cached)"] = _timed(app.selectbox(key="forecast_window").set_value(365))
    times["backtest back to 8 (cached)"] = _timed(app.slider(key="forecast_backtest_weeks").set_value(8))
    times["rerun, nothing changed"] = _timed(app)
    _assert_page_shows(app, _command(today, 20, 365))
    with capsys.disabled():
        print(f"\nforecast page on {BIG_DB} under AppTest:")
        for name, seconds in times.items():
            print(f"  {name:30} {seconds:6.2f} s")
        print(f"  backtested error (12 weeks, 90-day window): {tested.wape_pct:.1f} %")
    assert times["rerun, nothing changed"] < 5
