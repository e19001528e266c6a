"""The dashboard's KPI tiles, loss points, drill-down and downloads, and its numbers against the CLI."""

from __future__ import annotations

import json
from datetime import timedelta

import pandas as pd
import pytest
from sqlalchemy import Engine, select
from streamlit.testing.v1 import AppTest

from funnel.access.permissions import SYSTEM
from funnel.cli.main import main
from funnel.closing.objections import log_objection
from funnel.core.clock import team_today, utcnow
from funnel.core.db import session_scope
from funnel.store.models import Customer
from tests.app.helpers import metric_values, seed


def _metric(app: AppTest, label: str):  # type: ignore[no-untyped-def]
    return next(m for m in app.metric if m.label == label)


def _table_with(app: AppTest, column: str) -> pd.DataFrame:
    """A table without selection (AppTest gives it no key), found by one of its columns."""
    return next(df.value for df in app.dataframe if column in df.value.columns)


def _table_keyed(app: AppTest, key: str) -> pd.DataFrame:
    return app.dataframe(key=key).value


def test_kpi_tiles_compare_the_period_with_the_one_before(app: AppTest, app_engine: Engine) -> None:
    seed(app_engine, {"lead": 3, "won": 1})  # created now: in the last 30 days
    seed(app_engine, {"lead": 1}, created_at=utcnow() - timedelta(days=45))  # in the 30 days before
    app.query_params = {"period": "30d"}
    app.run()
    assert not app.exception
    new_leads = _metric(app, "New leads")
    assert (new_leads.value, new_leads.proto.delta) == ("4", "+3")
    won = _metric(app, "Deals won")
    assert (won.value, won.proto.delta) == ("1", "+1")
    assert _metric(app, "Win rate (closed)").value == "100.0%"
    # Each tile drills down to the customers it counts.
    app.selectbox(key="dash_drill_kind").set_value("kpi_new").run()
    assert len(_table_keyed(app, "dash_drill_table")) == 4
    app.selectbox(key="dash_drill_kind").set_value("kpi_won").run()
    assert _table_keyed(app, "dash_drill_table")["status"].tolist() == ["Won"]
    # All time has no previous period to compare with: no deltas.
    app.selectbox(key="dash_period").set_value("all").run()
    assert _metric(app, "New leads").value == "5"
    assert not _metric(app, "New leads").proto.delta


def test_the_funnel_equals_the_cli_report_for_the_same_period(
    app: AppTest, app_engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(app_engine, {"lead": 5, "contact": 3, "proposal": 2, "won": 1})
    seed(app_engine, {"lost": 2}, lost_reason="价格太高")
    seed(app_engine, {"lead": 4, "qualify": 1}, created_at=utcnow() - timedelta(days=200))
    since, until = team_today() - timedelta(days=30), team_today()
    app.query_params = {"from": since.isoformat(), "to": until.isoformat()}
    app.run()
    assert not app.exception

    assert (
        main(["report", "--format", "json", "--since", since.isoformat(), "--until", until.isoformat()]) == 0
    )
    cli = json.loads(capsys.readouterr().out)["overall"]
    funnel = next(df.value for df in app.dataframe if "drop_off" in df.value.columns)
    assert funnel["reached"].tolist() == list(cli["reached"].values())
    assert funnel["drop_off"].tolist() == list(cli["drop_off"].values())
    shown_steps = funnel["step_conversion"].tolist()
    assert shown_steps == ["—" if v is None else f"{v:.1%}" for v in cli["step_conversion"].values()]
    assert metric_values(app)["Leads"] == f"{cli['total']:,}" == "13"
    assert metric_values(app)["Win rate"] == f"{cli['win_rate']:.1%}"


def test_the_loss_point_lists_reasons_objections_and_who_is_stuck(app: AppTest, app_engine: Engine) -> None:
    seed(app_engine, {"lead": 10, "contact": 2, "qualify": 2, "proposal": 1, "closing": 1})
    seed(app_engine, {"lost": 4}, lost_reason="价格太高")
    seed(app_engine, {"lost": 1}, lost_reason="无预算")
    seed(app_engine, {"lead": 1}, created_at=utcnow() - timedelta(days=90))
    with session_scope(app_engine) as session:
        oldest = session.scalar(select(Customer.name).order_by(Customer.created_at).limit(1))
        first = session.scalars(select(Customer.id).where(Customer.stage == "lead").limit(2)).all()
        for customer_id in first:
            log_objection(session, actor=SYSTEM, customer_id=customer_id, category="price", words="too dear")
    app.run()
    assert not app.exception
    head = next(m.value for m in app.markdown if "did not get through" in m.value)
    assert "Lead → First contact" in head
    reasons = _table_with(app, "reason")
    assert reasons.values.tolist() == [["价格太高", 4], ["无预算", 1]]
    objections = _table_with(app, "objections")
    assert objections.values.tolist() == [["Price", 2, 2]]
    stuck = _table_keyed(app, "dash_stuck_lead")
    assert stuck["name"].iloc[0] == oldest and stuck["days"].iloc[0] in (89, 90)  # now is read by the hour

    # Choosing the row opens that customer's page.
    app.session_state["dash_stuck_lead"] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    app.run()
    assert not app.exception
    assert app.title[0].value == "Customer"
    assert oldest in app.subheader[0].value


def test_drill_down_lists_the_customers_behind_a_bar(app: AppTest, app_engine: Engine) -> None:
    seed(app_engine, {"lead": 4, "contact": 2, "proposal": 1})
    seed(app_engine, {"won": 2}, channel="展会")
    app.run()
    app.selectbox(key="dash_drill_kind").set_value("reached").run()
    app.selectbox(key="dash_drill_stage").set_value("contact").run()
    assert len(_table_keyed(app, "dash_drill_table")) == 5  # contact, proposal and the won ones
    assert "5 of 5 customers" in next(c.value for c in app.caption if "of 5 customers" in c.value)
    app.selectbox(key="dash_drill_kind").set_value("won").run()
    drilled = _table_keyed(app, "dash_drill_table")
    assert drilled["channel"].tolist() == ["展会", "展会"]
    app.multiselect(key="dash_channels").select("展会").run()  # the same filter drives the drill-down
    assert len(_table_keyed(app, "dash_drill_table")) == 2


def test_the_funnel_offers_its_downloads(app: AppTest, app_engine: Engine) -> None:
    seed(app_engine, {"lead": 3, "contact": 1})
    app.run()
    labels = [button.proto.label for button in app.get("download_button")]
    assert labels == ["Table (CSV)", "Table (Excel)", "Chart (PNG)", "Chart (SVG)"]


def test_clicking_a_funnel_bar_drills_down_to_who_reached_it(app: AppTest, app_engine: Engine) -> None:
    seed(app_engine, {"lead": 4, "contact": 2, "proposal": 1})
    app.run()
    app.session_state["dash_funnel_chart"] = {"selection": {"stage_pick": [{"stage": "contact"}]}}
    app.run()
    assert not app.exception
    assert app.selectbox(key="dash_drill_kind").value == "reached"
    assert app.selectbox(key="dash_drill_stage").value == "contact"
    assert len(_table_keyed(app, "dash_drill_table")) == 3
    # The drill-down stays free to change while that bar stays selected.
    app.selectbox(key="dash_drill_kind").set_value("open").run()
    assert app.selectbox(key="dash_drill_kind").value == "open"
    assert len(_table_keyed(app, "dash_drill_table")) == 7


def test_the_funnel_equals_the_cli_report_for_the_same_attribute_filters(
    app: AppTest, app_engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(app_engine, {"lead": 4, "contact": 2, "won": 1}, channel="官网", grade="A")
    seed(app_engine, {"lead": 3, "qualify": 2}, channel="官网", grade="B")
    seed(app_engine, {"lead": 5, "proposal": 1}, channel="展会", grade="A")
    app.query_params = {"channel": "官网", "grade": "A"}
    app.run()
    assert not app.exception

    assert main(["report", "--format", "json", "--channel", "官网", "--grade", "A"]) == 0
    cli = json.loads(capsys.readouterr().out)["overall"]
    assert cli["total"] == 7
    funnel = next(df.value for df in app.dataframe if "drop_off" in df.value.columns)
    assert funnel["reached"].tolist() == list(cli["reached"].values())
    assert metric_values(app)["Leads"] == f"{cli['total']:,}"
    assert main(["report", "--format", "json", "--channel", "官网", "--channel", "展会", "--grade", "A"]) == 0
    assert json.loads(capsys.readouterr().out)["overall"]["total"] == 13
