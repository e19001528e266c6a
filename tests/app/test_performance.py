"""How long the dashboard takes on 10,000 leads (aggregation happens in SQL; pandas gets small frames)."""

from time import perf_counter

import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from funnel.access.permissions import SYSTEM
from tests.app.helpers import metric_values

LEADS = 10_000


@pytest.mark.slow
def test_dashboard_renders_10000_leads_in_a_few_seconds(
    app: AppTest, app_engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    demo = pytest.importorskip("funnel.demo.generate")
    demo.generate_demo(app_engine, leads=LEADS, seed=42, actor=SYSTEM)

    started = perf_counter()
    app.run(timeout=120)
    first = perf_counter() - started
    started = perf_counter()
    app.multiselect(key="dash_channels").select("直播").run(timeout=120)
    filtered = perf_counter() - started
    started = perf_counter()
    app.multiselect(key="dash_channels").unselect("直播").run(timeout=120)
    cached = perf_counter() - started

    assert not app.exception
    assert metric_values(app)["Leads"] == f"{LEADS:,}"
    with capsys.disabled():
        print(
            f"\ndashboard on {LEADS:,} leads under AppTest: first render {first:.2f} s, "
            f"channel filter {filtered:.2f} s, back to all (cached) {cached:.2f} s"
        )
    assert first < 10
