"""The analysis page's redraw times on a large demo database (100,000 leads), under AppTest.

    CRM_DATABASE_URL=sqlite:////tmp/demo100k.db python -m funnel demo --leads 100000 --seed 1
    CRM_ANALYSIS_BIG_DB=sqlite:////tmp/demo100k.db pytest -s tests/app/test_analysis_100k.py

Skipped without CRM_ANALYSIS_BIG_DB. It prints the figures and checks the heatmap's table against
`report --by channel` on the same data; times only against a generous ceiling (shared machines vary).
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
from funnel.pipeline.stages import get_pipeline
from funnel.store.models import User
from tests.app.helpers import APP, big_database, start_signed_in, timed_run

BIG_DB = os.environ.get("CRM_ANALYSIS_BIG_DB")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not BIG_DB, reason="CRM_ANALYSIS_BIG_DB (a demo database URL) is not set"),
]


@pytest.fixture
def big(monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    assert BIG_DB
    with big_database(monkeypatch, BIG_DB) as engine:
        yield engine


def test_the_analysis_page_redraws_and_agrees_with_the_report(big: Engine, capsys) -> None:
    with session_scope(big) as session:
        admin_id = session.scalar(select(User.id).where(User.username == "admin"))
        report = build_report(
            session, actor=SYSTEM, by="channel", filters=CustomerFilter(values={"channel": ("直播",)})
        )
    app = AppTest.from_file(str(APP), default_timeout=300)
    start_signed_in(app, big, admin_id)
    app.run(timeout=300)
    times = {"open the page": timed_run(app.switch_page("pages/analysis.py"))}
    times["channel filter 直播"] = timed_run(app.multiselect(key="analysis_channels").select("直播"))
    assert not app.exception and not app.error
    table = app.dataframe[0].value
    pipeline = get_pipeline()
    (live,) = report.segments
    for stage in report.stages[1:]:
        row = table[table.iloc[:, 1] == pipeline.name(stage, "en")].iloc[0]
        assert row.iloc[3] == live.reached[stage]
    times["dimension owner"] = timed_run(app.selectbox(key="analysis_dimension").select("owner"))
    times["dimension tag"] = timed_run(app.selectbox(key="analysis_dimension").select("tag"))
    times["view trends"] = timed_run(app.radio(key="analysis_view").set_value("trends"))
    times["view velocity"] = timed_run(app.radio(key="analysis_view").set_value("velocity"))
    times["view cash"] = timed_run(app.radio(key="analysis_view").set_value("cash"))
    times["channel off (all 100k)"] = timed_run(app.multiselect(key="analysis_channels").unselect("直播"))
    times["rerun, nothing changed"] = timed_run(app)
    assert not app.exception and not app.error
    with capsys.disabled():
        print("\nanalysis page under AppTest:")
        for name, seconds in times.items():
            print(f"  {name:28} {seconds:6.2f} s")
    assert times["rerun, nothing changed"] < 5
