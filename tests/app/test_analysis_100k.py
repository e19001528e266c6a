"""The analysis page's redraw times on a large demo database (100,000 leads), under AppTest.

    CRM_DATABASE_URL=sqlite:////tmp/demo100k.db python -m funnel demo --leads 100000 --seed 1
    CRM_ANALYSIS_BIG_DB=sqlite:////tmp/demo100k.db pytest -s tests/app/test_analysis_100k.py

Skipped without CRM_ANALYSIS_BIG_DB. It prints the figures and checks the heatmap's table against
`report --by channel` on the same data; times only against a generous ceiling (shared machines vary).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from time import perf_counter

import pytest
import streamlit as st
from sqlalchemy import Engine, select
from streamlit.testing.v1 import AppTest

from funnel.access.permissions import SYSTEM
from funnel.analytics.filters import CustomerFilter
from funnel.analytics.report import build_report
from funnel.core.db import make_engine, session_scope
from funnel.core.settings import get_settings
from funnel.pipeline.stages import get_pipeline
from funnel.store.models import User
from tests.app.helpers import APP, start_signed_in

BIG_DB = os.environ.get("CRM_ANALYSIS_BIG_DB")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not BIG_DB, reason="CRM_ANALYSIS_BIG_DB (a demo database URL) is not set"),
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


def _timed(step: object) -> float:
    started = perf_counter()
    step.run(timeout=300)  # type: ignore[attr-defined]
    return perf_counter() - started


def test_the_analysis_page_redraws_and_agrees_with_the_report(big: Engine, capsys) -> None:
    with session_scope(big) as session:
        admin_id = session.scalar(select(User.id).where(User.username == "admin"))
        report = build_report(
            session, actor=SYSTEM, by="channel", filters=CustomerFilter(values={"channel": ("直播",)})
        )
    app = AppTest.from_file(str(APP), default_timeout=300)
    start_signed_in(app, big, admin_id)
    app.run(timeout=300)
    times = {"open the page": _timed(app.switch_page("pages/analysis.py"))}
    times["channel filter 直播"] = _timed(app.multiselect(key="analysis_channels").select("直播"))
    assert not app.exception and not app.error
    table = app.dataframe[0].value
    pipeline = get_pipeline()
    (live,) = report.segments
    for stage in report.stages[1:]:
        row = table[table.iloc[:, 1] == pipeline.name(stage, "en")].iloc[0]
        assert row.iloc[3] == live.reached[stage]
    times["dimension owner"] = _timed(app.selectbox(key="analysis_dimension").select("owner"))
    times["dimension tag"] = _timed(app.selectbox(key="analysis_dimension").select("tag"))
    times["view trends"] = _timed(app.radio(key="analysis_view").set_value("trends"))
    times["view velocity"] = _timed(app.radio(key="analysis_view").set_value("velocity"))
    times["view cash"] = _timed(app.radio(key="analysis_view").set_value("cash"))
    times["channel off (all 100k)"] = _timed(app.multiselect(key="analysis_channels").unselect("直播"))
    times["rerun, nothing changed"] = _timed(app)
    assert not app.exception and not app.error
    with capsys.disabled():
        print("\nanalysis page under AppTest:")
        for name, seconds in times.items():
            print(f"  {name:28} {seconds:6.2f} s")
    assert times["rerun, nothing changed"] < 5
