"""Two people editing the same customer at once: the second is told who saved first, and keeps its input."""

from __future__ import annotations

from sqlalchemy import Engine

from funnel.access.permissions import SYSTEM
from funnel.core.db import session_scope
from funnel.customers.read import get_customer
from tests.app.test_leads_pages import AppAs, add_lead, open_customer


def test_the_second_session_to_save_is_told_who_saved_first_and_keeps_its_input(
    app_as: AppAs, app_engine: Engine, accounts: dict[str, int]
) -> None:
    customer_id = add_lead(app_engine, accounts["rep"], "Acme", company="Acme Ltd")
    rep = open_customer(app_as("rep"), customer_id)
    manager = open_customer(app_as("manager"), customer_id)  # both forms hold version 1

    manager.text_input(key="cust_edit_company").input("Acme by the manager")
    manager.button(key="cust_edit_submit").click().run()
    assert not manager.error and not manager.exception

    rep.text_input(key="cust_edit_company").input("Acme by the rep")
    rep.text_input(key="cust_edit_region").input("华东")
    rep.button(key="cust_edit_submit").click().run()
    assert not rep.exception
    message = rep.error[0].value
    assert "manager saved" in message and "first" in message and "Acme" not in message.split("saved")[0]
    assert rep.text_input(key="cust_edit_company").value == "Acme by the rep"
    assert rep.text_input(key="cust_edit_region").value == "华东"
    with session_scope(app_engine) as session:
        assert get_customer(session, actor=SYSTEM, customer_id=customer_id).company == "Acme by the manager"


def test_the_leads_filters_round_trip_through_the_address_bar(
    app_as: AppAs, app_engine: Engine, accounts: dict[str, int]
) -> None:
    add_lead(app_engine, accounts["rep"], "Graded", grade="A")
    add_lead(app_engine, accounts["rep"], "Plain")
    app = app_as("rep")
    app.query_params["grade"] = ["A"]
    app.run()
    app = app.switch_page("pages/leads.py").run()
    assert not app.exception
    assert app.multiselect(key="leads_grade").value == ["A"]
    shown = app.dataframe(key="leads_table").value.to_string()
    assert "Graded" in shown and "Plain" not in shown
    app.selectbox(key="leads_sla").set_value("overdue").run()
    assert app.query_params.get("sla") in ("overdue", ["overdue"])
