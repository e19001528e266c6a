"""The dashboard's redraw times on a large demo database (100,000 leads), under AppTest.

Build the database once (a minute or two), then point the test at it:

    CRM_DATABASE_URL=sqlite:////tmp/demo100k.db python -m funnel demo --leads 100000 --seed 1
    CRM_DASHBOARD_BIG_DB=sqlite:////tmp/demo100k.db pytest -s tests/app/test_dashboard_100k.py

Skipped without CRM_DASHBOARD_BIG_DB. It prints the figures; it asserts the numbers, not the times
(a shared CI machine's times vary too much), except a generous ceiling.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select
from streamlit.testing.v1 import AppTest

from funnel.access.permissions import SYSTEM
from funnel.analytics.filters import CustomerFilter
from funnel.analytics.report import build_report
from funnel.core.db import session_scope
from funnel.store.models import User
from tests.app.helpers import APP, big_database, metric_values, start_signed_in, timed_run

BIG_DB = os.environ.get("CRM_DASHBOARD_BIG_DB")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not BIG_DB, reason="CRM_DASHBOARD_BIG_DB (a demo database URL) is not set"),
]


@pytest.fixture
def big(monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    assert BIG_DB
    with big_database(monkeypatch, BIG_DB) as engine:
        yield engine


def test_filter_changes_redraw_the_dashboard_on_a_big_database(big: Engine, capsys) -> None:
    with session_scope(big) as session:
        admin_id = session.scalar(select(User.id).where(User.username == "admin"))
        leads = build_report(session, actor=SYSTEM, filters=CustomerFilter()).overall.total
        live = build_report(session, actor=SYSTEM, filters=CustomerFilter(values={"channel": ("直播",)}))
    app = AppTest.from_file(str(APP), default_timeout=300)
    start_signed_in(app, big, admin_id)

    times = {"first render": timed_run(app)}
    assert not app.exception
    assert metric_values(app)["Leads"] == f"{leads:,}"
    times["channel filter"] = timed_run(app.multiselect(key="dash_channels").select("直播"))
    assert metric_values(app)["Leads"] == f"{live.overall.total:,}"
    times["period 90 days"] = timed_run(app.selectbox(key="dash_period").set_value("90d"))
    times["grade A"] = timed_run(app.multiselect(key="dash_grades").select("A"))
    times["period all, 直播, A"] = timed_run(app.selectbox(key="dash_period").set_value("all"))
    times["channel off: all, A"] = timed_run(app.multiselect(key="dash_channels").unselect("直播"))
    times["grade off: back (cached)"] = timed_run(app.multiselect(key="dash_grades").unselect("A"))
    times["rerun, nothing changed"] = timed_run(app)
    assert not app.exception
    assert metric_values(app)["Leads"] == f"{leads:,}"
    with capsys.disabled():
        print(f"\ndashboard on {leads:,} leads under AppTest:")
        for name, seconds in times.items():
            print(f"  {name:28} {seconds:6.2f} s")
    assert times["grade off: back (cached)"] < 5
