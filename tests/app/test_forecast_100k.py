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
from funnel.core.db import session_scope
from funnel.store.models import User
from tests.app.helpers import APP, big_database, metric_values, start_signed_in, timed_run

BIG_DB = os.environ.get("CRM_FORECAST_BIG_DB")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(1800),  # the command runs six times over 100,000 customers
    pytest.mark.skipif(not BIG_DB, reason="CRM_FORECAST_BIG_DB (a demo database URL) is not set"),
]


@pytest.fixture
def big(monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    assert BIG_DB
    with big_database(monkeypatch, BIG_DB) as engine:
        yield engine


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


def _shown(app: AppTest) -> dict[str, Any]:
    """The page's figures: its tiles, weeks table and P(win) table, in the command's JSON terms."""
    assert not app.exception
    metrics = metric_values(app)
    weeks, p_win = app.dataframe[0].value, app.dataframe[1].value
    return {
        "open": metrics["Open customers"],
        "slipped": metrics["Slipped"],
        "weeks": [
            {"week": w, "deals": int(d), "amount": round(float(a), 2), "weighted": round(float(v), 2)}
            for w, d, a, v in zip(
                weeks["Week"], weeks["Deals"], weeks["Amount"], weeks["Weighted"], strict=True
            )
        ],
        "p_win": [round(float(p), 4) for p in p_win["P(win)"]],
        "captions": [c.value for c in app.caption],
    }


def _assert_same(shown: dict[str, Any], expected: dict[str, Any]) -> None:
    assert shown["open"] == f"{expected['open']:,}"
    assert shown["slipped"] == f"{expected['slipped']:,}"
    assert shown["weeks"] == [
        {key: w[key] for key in ("week", "deals", "amount", "weighted")} for w in expected["weeks"]
    ]
    assert shown["p_win"] == list(expected["p_win"].values())
    closed = (
        f"From {expected['closed_in_window']} customers closed in the last {expected['window_days']} days"
    )
    assert any(closed in caption for caption in shown["captions"])


def test_the_forecast_page_redraws_each_control_with_the_commands_numbers_on_a_big_database(
    big: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    with session_scope(big) as session:
        admin_id = session.scalar(select(User.id).where(User.username == "admin"))
    assert admin_id is not None
    today = team_today()
    earlier = today - timedelta(days=60)
    app = AppTest.from_file(str(APP), default_timeout=300)
    start_signed_in(app, big, admin_id)
    app.run(timeout=300)  # the app opens on the dashboard, timed by its own test

    # Timed first, one control after another as a reader would (the commands, which take longer than
    # the caches' minute on a loaded machine, run afterwards).
    times: dict[str, float] = {}
    shown: dict[tuple[date, int, int], dict[str, Any]] = {}
    times["first render"] = timed_run(app.switch_page("pages/forecast.py"))
    shown[(today, 12, 365)] = _shown(app)
    times["as of 60 days ago"] = timed_run(app.date_input(key="forecast_as_of").set_value(earlier))
    shown[(earlier, 12, 365)] = _shown(app)
    times["weeks 12 -> 20"] = timed_run(app.slider(key="forecast_weeks").set_value(20))
    shown[(earlier, 20, 365)] = _shown(app)
    times["window 365 -> 90 days"] = timed_run(app.selectbox(key="forecast_window").set_value(90))
    shown[(earlier, 20, 90)] = _shown(app)
    times["backtest 8 -> 12 weeks"] = timed_run(app.slider(key="forecast_backtest_weeks").set_value(12))
    wape_shown = metric_values(app)["Backtest error (WAPE)"]
    times["as of back to today"] = timed_run(app.date_input(key="forecast_as_of").set_value(today))
    shown[(today, 20, 90)] = _shown(app)
    times["window back to 365 (backtest: new)"] = timed_run(
        app.selectbox(key="forecast_window").set_value(365)
    )
    times["backtest back to 8 (cached)"] = timed_run(app.slider(key="forecast_backtest_weeks").set_value(8))
    times["rerun, nothing changed"] = timed_run(app)
    shown[(today, 20, 365)] = _shown(app)
    # Another visit: a new session on the warm caches, then one on cold caches (the snapshot stored).
    for name in ("another session, warm caches", "another session, cold caches"):
        if "cold" in name:
            st.cache_data.clear()
            st.cache_resource.clear()
        visit = AppTest.from_file(str(APP), default_timeout=300)
        start_signed_in(visit, big, admin_id)
        visit.run(timeout=300)
        times[name] = timed_run(visit.switch_page("pages/forecast.py"))
        assert _shown(visit) == shown[(today, 12, 365)]
    with capsys.disabled():
        print(f"\nforecast page on {BIG_DB} under AppTest:")
        for name, seconds in times.items():
            print(f"  {name:30} {seconds:6.2f} s")

    for (as_of, weeks, window_days), figures in shown.items():
        _assert_same(figures, _command(as_of, weeks, window_days))
    started = perf_counter()
    with session_scope(big) as session:
        tested = backtest(session, actor=SYSTEM, weeks=12, today=today, window_days=90)
    took = perf_counter() - started
    assert tested.wape_pct is not None
    assert wape_shown == f"{tested.wape_pct:.0f} %"
    with capsys.disabled():
        print(f"  backtest, 12 weeks, on its own: {took:.2f} s; error (WAPE) {tested.wape_pct:.1f} %")
        for week in tested.weeks:
            print(f"    {week.week}  forecast {week.forecast:14,.0f}  actual {week.actual:14,.0f}")
    assert times["rerun, nothing changed"] < 5
