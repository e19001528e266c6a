"""The dashboard: welcome on an empty database, the funnel in pipeline order, the loss point, filters."""

import json
from datetime import date, timedelta

import pandas as pd
import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from funnel.core.db import session_scope
from funnel.pipeline.stages import get_pipeline
from tests.app.helpers import metric_values, seed, shown
from tests.factories import SEED_STAGES


def table_with(app: AppTest, column: str) -> pd.DataFrame:
    """The first table on the page that has `column` (the page draws several)."""
    return next(df.value for df in app.dataframe if column in df.value.columns)


def chart_specs(app: AppTest) -> list[dict]:
    return [json.loads(element.proto.spec) for element in app.get("vega_lite_chart")]


def test_an_empty_database_gets_a_welcome_a_demo_button_and_a_link_to_lead_entry(app: AppTest) -> None:
    app.run()
    assert not app.exception
    assert "sales-funnel CRM" in app.markdown[0].value
    assert app.button(key="load_demo").label == "Load demo data"
    assert app.get("page_link")[0].proto.page == "lead_entry"
    assert not app.metric


def test_load_demo_fills_the_dashboard(app: AppTest) -> None:
    pytest.importorskip("funnel.demo.generate")
    app.run()
    app.button(key="load_demo").click().run(timeout=120)
    assert not app.exception
    assert metric_values(app)["Leads"] == "2,000"
    assert chart_specs(app)


def test_a_failing_demo_load_shows_a_message_not_a_traceback(
    app: AppTest, monkeypatch: pytest.MonkeyPatch
) -> None:
    demo = pytest.importorskip("funnel.demo.generate")

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(demo, "generate_demo", broken)
    app.run()
    app.button(key="load_demo").click().run()
    assert not app.exception
    assert "could not be loaded" in app.error[0].value
    assert app.button(key="load_demo")  # still on the welcome, ready to try again


def test_the_funnel_chart_lists_stages_in_pipeline_order(app: AppTest, app_engine: Engine) -> None:
    seed(app_engine, {"lead": 5, "contact": 3, "closing": 1, "won": 1})
    app.run()
    funnel = chart_specs(app)[0]
    expected = [get_pipeline().name(key, "en") for key in get_pipeline().funnel_keys]
    assert expected != sorted(expected)  # the check below would not notice an alphabetical sort otherwise
    assert [layer["encoding"]["y"]["sort"] for layer in funnel["layer"]] == [expected, expected]


def test_the_seed_funnel_shows_its_step_conversions(app: AppTest, app_engine: Engine) -> None:
    seed(app_engine, SEED_STAGES)  # 1000 -> 200 -> 100 -> 20 -> 10
    app.run()
    table = app.dataframe[0].value
    assert table["reached"].tolist()[:5] == [1000, 200, 100, 20, 10]
    assert table["step_conversion"].tolist()[:5] == ["—", "20.0%", "50.0%", "20.0%", "50.0%"]
    assert metric_values(app)["Leads"] == "1,000"
    loss = app.warning[0].value
    assert "Biggest loss: Lead → First contact" in loss
    assert "20% step conversion, 800 dropped" in loss


def test_the_loss_point_names_lost_reasons_recorded_at_that_stage(app: AppTest, app_engine: Engine) -> None:
    seed(app_engine, {"lead": 10, "contact": 1, "qualify": 1, "proposal": 1, "closing": 1})
    seed(app_engine, {"lost": 6}, lost_reason="价格太高")  # lost at the first stage
    app.run()
    assert "Top lost reasons there: 价格太高 (6)" in shown(app.warning[0].value)


def test_the_channel_filter_narrows_every_figure(app: AppTest, app_engine: Engine) -> None:
    seed(app_engine, {"lead": 4, "contact": 2}, channel="展会")
    seed(app_engine, {"lead": 3}, channel="直播")
    app.run()
    assert metric_values(app)["Leads"] == "9"
    # Stored codes, offered by their managed-list names in the reader's language.
    assert app.multiselect(key="dash_channels").options == ["Trade show", "Live stream"]
    app.multiselect(key="dash_channels").select("直播").run()
    assert metric_values(app)["Leads"] == "3"
    by_channel = table_with(app, "conversion_to_won")
    assert by_channel["channel"].tolist() == ["直播"]


def test_a_period_with_no_leads_says_so(app: AppTest, app_engine: Engine) -> None:
    seed(app_engine, {"lead": 2})
    app.run()
    app.selectbox(key="dash_period").set_value("custom").run()
    long_ago = (date.today() - timedelta(days=400), date.today() - timedelta(days=300))
    app.date_input(key="dash_range").set_value(long_ago).run()
    assert not app.exception
    assert "No leads match" in app.info[0].value


def test_switching_to_chinese_translates_labels_and_stage_names_and_keeps_the_filters(
    app: AppTest, app_engine: Engine
) -> None:
    seed(app_engine, {"lead": 3, "proposal": 1})
    app.run()
    app.selectbox(key="dash_period").set_value("90d").run()
    app.radio(key="lang").set_value("zh").run()
    assert not app.exception
    assert app.title[0].value == "销售漏斗看板"
    assert "线索数" in metric_values(app)
    assert app.selectbox(key="dash_period").value == "90d"
    assert app.selectbox(key="dash_period").options[2] == "最近 90 天"
    stages = chart_specs(app)[0]["layer"][0]["encoding"]["y"]["sort"]
    assert stages[:2] == ["线索获取", "初步沟通"]


def test_the_entity_funnel_counts_customers_with_opportunities(app: AppTest, app_engine: Engine) -> None:
    seed(app_engine, {"lead": 3})
    app.run()
    entities = table_with(app, "step")
    assert entities["customers"].tolist() == [3, 0, 0, 0]


def test_lost_customers_are_counted_by_their_reasons_name(app: AppTest, app_engine: Engine) -> None:
    from funnel.access.permissions import SYSTEM
    from funnel.capture.leads import LeadInput, create_lead
    from funnel.customers.stages import move_stage

    with session_scope(app_engine) as session:
        for n, reason in enumerate(("price", "price", "competitor")):
            lead = create_lead(session, LeadInput(name=f"Lost {n}", phone=f"1390000000{n}"), actor=SYSTEM)
            move_stage(session, actor=SYSTEM, customer_id=lead.id, to_stage="lost", lost_reason=reason)
    app.run()
    assert not app.exception
    [table] = [df for df in app.dataframe if {"reason", "share"} <= set(df.value.columns)]
    rows = dict(zip(table.value["reason"], table.value["customers"], strict=True))
    assert rows["Price"] == 2 and sum(rows.values()) == 3
