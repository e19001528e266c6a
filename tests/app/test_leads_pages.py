"""The leads list and the customer page: who sees which customers, opening one, editing, moving, assigning."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pandas as pd
import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from funnel.access.permissions import SYSTEM, Actor
from funnel.audit.read import customer_history
from funnel.capture.leads import LeadInput, create_lead
from funnel.core.clock import utcnow
from funnel.core.db import session_scope
from funnel.customers.edit import update_customer
from funnel.customers.read import get_customer
from funnel.customers.stages import move_stage
from funnel.store.models import Objection, User
from tests.app.helpers import element_after

LEADS = "pages/leads.py"
CUSTOMER = "pages/customer.py"
AppAs = Callable[[str], AppTest]


def add_lead(engine: Engine, owner: int, name: str, **fields: object) -> int:
    """A lead created by its owner through the use case; returns its id."""
    with session_scope(engine) as session:
        actor = Actor.of(session.get(User, owner))  # type: ignore[arg-type]
        lead = LeadInput(name=name, email=f"{abs(hash(name))}@example.com", **fields)  # type: ignore[arg-type]
        return create_lead(session, lead, actor=actor).id


def open_leads(app: AppTest) -> AppTest:
    app.run()
    return app.switch_page(LEADS).run()


def open_customer(app: AppTest, customer_id: int) -> AppTest:
    app.run()
    app.session_state["customer_id"] = customer_id
    return app.switch_page(CUSTOMER).run()


def listed_names(app: AppTest) -> list[str]:
    table = app.dataframe(key="leads_table") if app.dataframe else None
    return sorted(table.value["name"]) if table is not None else []


def table_with(app: AppTest, column: str) -> pd.DataFrame:
    """The table that has `column` (st.dataframe without selection carries no key under AppTest)."""
    return next(table.value for table in app.dataframe if column in table.value.columns)


def actor_of(engine: Engine, user_id: int) -> Actor:
    with session_scope(engine) as session:
        return Actor.of(session.get(User, user_id))  # type: ignore[arg-type]


@pytest.fixture
def book(app_engine: Engine, accounts: dict[str, int]) -> dict[str, int]:
    """rep owns two leads (one won), rep2 owns one."""
    return {
        "Acme": add_lead(app_engine, accounts["rep"], "Acme", company="Acme Ltd", phone="13812345678"),
        "Won deal": add_lead(app_engine, accounts["rep"], "Won deal", status="won"),
        "Other rep's lead": add_lead(app_engine, accounts["rep2"], "Other rep's lead"),
    }


@pytest.mark.parametrize(
    ("username", "expected"),
    [
        ("rep", ["Acme", "Won deal"]),
        ("rep2", ["Other rep's lead"]),
        ("manager", ["Acme", "Other rep's lead", "Won deal"]),
        ("delivery", ["Won deal"]),
    ],
)
def test_the_leads_list_shows_each_user_only_the_customers_they_may_see(
    app_as: AppAs, book: dict[str, int], username: str, expected: list[str]
) -> None:
    app = open_leads(app_as(username))
    assert not app.exception
    assert app.title[0].value == "Leads"
    assert listed_names(app) == expected
    assert f"{len(expected)} customers" in app.markdown[0].value


def test_search_and_status_filter_narrow_the_list(app_as: AppAs, book: dict[str, int]) -> None:
    app = open_leads(app_as("rep"))
    app.text_input(key="leads_search").input("138 1234").run()  # a contact's phone
    assert listed_names(app) == ["Acme"]
    app.text_input(key="leads_search").input("").run()
    app.selectbox(key="leads_status").set_value("won").run()
    assert listed_names(app) == ["Won deal"]
    app.selectbox(key="leads_status").set_value("lost").run()
    assert not app.dataframe
    assert "No customers match" in app.info[0].value


def test_the_list_shows_stage_names_and_no_none_cells(app_as: AppAs, book: dict[str, int]) -> None:
    table = open_leads(app_as("rep")).dataframe(key="leads_table").value
    assert sorted(table["stage"]) == ["Lead", "Won"]
    assert not table.isin(["None", "nan", "NaT"]).any().any()
    assert "id" not in table.columns


def test_a_lead_not_contacted_within_the_sla_is_flagged_overdue(
    app_as: AppAs, app_engine: Engine, accounts: dict[str, int]
) -> None:
    add_lead(app_engine, accounts["rep"], "Fresh")
    add_lead(app_engine, accounts["rep"], "Waiting", created_at=utcnow() - timedelta(hours=30))
    app = open_leads(app_as("rep"))
    table = app.dataframe(key="leads_table").value.set_index("name")
    assert table.loc["Waiting", "first_contact_overdue"] == "⚠ overdue"
    assert table.loc["Fresh", "first_contact_overdue"] == ""
    assert "1 waiting for a first contact longer than 24 h" in app.markdown[0].value


def test_selecting_a_row_opens_that_customer(app_as: AppAs, book: dict[str, int]) -> None:
    app = open_leads(app_as("rep"))
    row = list(app.dataframe(key="leads_table").value["name"]).index("Acme")
    app.session_state["leads_table"] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    app.run()
    assert not app.exception
    assert app.title[0].value == "Customer"
    assert app.session_state["customer_id"] == book["Acme"]
    assert app.query_params["id"] == str(book["Acme"])
    assert "Acme" in app.subheader[0].value


def test_the_customer_page_without_a_customer_points_back_to_the_list(app_as: AppAs) -> None:
    app = app_as("rep").run()
    app.switch_page(CUSTOMER).run()
    assert not app.exception
    assert "No customer is selected" in app.info[0].value


def test_an_edit_is_saved_and_shown_in_the_history_with_old_and_new_values(
    app_as: AppAs, app_engine: Engine, book: dict[str, int], accounts: dict[str, int]
) -> None:
    app = open_customer(app_as("rep"), book["Acme"])
    app.text_input(key="cust_edit_company").input("Acme Group")
    app.selectbox(key="cust_edit_grade").set_value("A")
    app.button(key="cust_edit_submit").click().run()
    assert not app.exception
    assert not app.error
    assert "saved" in app.success[0].value
    assert app.text_input(key="cust_edit_company").value == "Acme Group"
    with session_scope(app_engine) as session:
        stored = get_customer(session, actor=SYSTEM, customer_id=book["Acme"])
        assert (stored.company, stored.grade) == ("Acme Group", "A")
    audit = table_with(app, "Old → new")
    assert {
        "Old → new": "Acme Ltd → Acme Group",
        "Field": "Company",
        "Action": "edited",
        "Who": "rep",
    }.items() <= (audit[audit["Field"] == "Company"].iloc[0].to_dict().items())
    assert "— → A" in audit["Old → new"].tolist()


def test_a_stale_edit_is_refused_with_a_message_and_the_typed_input_is_kept(
    app_as: AppAs, app_engine: Engine, book: dict[str, int], accounts: dict[str, int]
) -> None:
    app = open_customer(app_as("rep"), book["Acme"])
    with session_scope(app_engine) as session:  # a colleague saves while the form is open
        update_customer(
            session,
            actor=actor_of(app_engine, accounts["manager"]),
            customer_id=book["Acme"],
            changes={"company": "Acme by the manager"},
            expected_version=1,
        )
    app.text_input(key="cust_edit_company").input("Acme by the rep")
    app.button(key="cust_edit_submit").click().run()
    assert not app.exception
    assert "manager saved" in app.error[0].value and "first" in app.error[0].value
    assert app.text_input(key="cust_edit_company").value == "Acme by the rep"
    with session_scope(app_engine) as session:
        assert get_customer(session, actor=SYSTEM, customer_id=book["Acme"]).company == "Acme by the manager"
    app.button(key="cust_edit_discard").click().run()  # reload the stored values, then save again
    assert app.text_input(key="cust_edit_company").value == "Acme by the manager"
    app.text_input(key="cust_edit_company").input("Acme by the rep").run()
    app.button(key="cust_edit_submit").click().run()
    assert not app.error
    assert "saved" in app.success[0].value


def test_an_invalid_edit_shows_the_error_under_the_field_and_keeps_the_input(
    app_as: AppAs, book: dict[str, int]
) -> None:
    app = open_customer(app_as("rep"), book["Acme"])
    app.text_input(key="cust_edit_name").input("  ")
    app.text_input(key="cust_edit_region").input("华东")
    app.button(key="cust_edit_submit").click().run()
    below_name = element_after(app, "cust_edit_name")
    assert (below_name.type, below_name.value) == ("error", "This field is required.")
    assert app.text_input(key="cust_edit_region").value == "华东"


def test_moving_to_lost_needs_a_reason_shown_on_the_reason_field(
    app_as: AppAs, app_engine: Engine, book: dict[str, int]
) -> None:
    app = open_customer(app_as("rep"), book["Acme"])
    app.selectbox(key="cust_move_to").set_value("lost")
    app.button(key="cust_move_submit").click().run()
    below_reason = element_after(app, "cust_lost_reason")
    assert (below_reason.type, below_reason.value) == ("error", "This field is required.")
    assert app.selectbox(key="cust_move_to").value == "lost"

    app.selectbox(key="cust_lost_reason").set_value("other")  # "other" needs a note
    app.button(key="cust_move_submit").click().run()
    below_note = element_after(app, "cust_lost_note")
    assert below_note.type == "error" and "Other" in below_note.value
    assert app.selectbox(key="cust_lost_reason").value == "other"

    app.text_input(key="cust_lost_note").input("went with a local vendor")
    app.button(key="cust_move_submit").click().run()
    assert not app.error
    assert "moved to Lost" in app.success[0].value
    assert "Lost because: Other: went with a local vendor" in app.warning[0].value
    with session_scope(app_engine) as session:
        stored = get_customer(session, actor=SYSTEM, customer_id=book["Acme"])
        assert (stored.status, stored.lost_reason, stored.lost_note) == (
            "lost",
            "other",
            "went with a local vendor",
        )

    # Reopening it takes a reason too.
    app.selectbox(key="cust_move_to").set_value("contact")
    app.button(key="cust_move_submit").click().run()
    below_reopen = element_after(app, "cust_reopen_reason")
    assert (below_reopen.type, below_reopen.value) == ("error", "This field is required.")
    app.selectbox(key="cust_reopen_reason").set_value("came_back")
    app.button(key="cust_move_submit").click().run()
    assert not app.error and "moved to" in app.success[0].value
    with session_scope(app_engine) as session:
        stored = get_customer(session, actor=SYSTEM, customer_id=book["Acme"])
        assert (stored.status, stored.stage) == ("open", "contact")


def test_a_stage_move_on_a_customer_changed_since_the_page_was_drawn_is_refused(
    app_as: AppAs, app_engine: Engine, book: dict[str, int], accounts: dict[str, int]
) -> None:
    app = open_customer(app_as("rep"), book["Acme"])
    with session_scope(app_engine) as session:  # a colleague closes it meanwhile
        move_stage(
            session, actor=actor_of(app_engine, accounts["manager"]), customer_id=book["Acme"], to_stage="won"
        )
    app.selectbox(key="cust_move_to").set_value("lost")
    app.selectbox(key="cust_lost_reason").set_value("no_budget")
    app.text_input(key="cust_lost_note").input("their budget went to IT")
    app.button(key="cust_move_submit").click().run()
    assert "manager saved" in app.error[0].value and "first" in app.error[0].value
    assert app.selectbox(key="cust_lost_reason").value == "no_budget"
    assert app.text_input(key="cust_lost_note").value == "their budget went to IT"
    with session_scope(app_engine) as session:
        assert get_customer(session, actor=SYSTEM, customer_id=book["Acme"]).status == "won"


def test_moving_a_stage_records_a_stage_event(app_as: AppAs, book: dict[str, int]) -> None:
    app = open_customer(app_as("rep"), book["Acme"])
    app.selectbox(key="cust_move_to").set_value("qualify")
    app.button(key="cust_move_submit").click().run()
    assert "moved to Needs qualified" in app.success[0].value
    events = table_with(app, "From")
    assert events.iloc[-1][["From", "To", "Who"]].tolist() == ["Lead", "Needs qualified", "rep"]


def test_moving_to_the_stage_the_customer_is_at_says_so_under_the_stage_field(
    app_as: AppAs, book: dict[str, int]
) -> None:
    app = open_customer(app_as("rep"), book["Acme"])
    assert app.selectbox(key="cust_move_to").value == "lead"
    app.button(key="cust_move_submit").click().run()
    below_stage = element_after(app, "cust_move_to")
    assert (below_stage.type, below_stage.value) == (
        "error",
        "The customer is already there: choose another stage or outcome.",
    )
    assert not app.success
    assert table_with(app, "From")["To"].tolist() == ["Lead"]  # no stage event recorded


def test_a_won_deal_cannot_be_moved_back_to_an_open_stage(
    app_as: AppAs, app_engine: Engine, book: dict[str, int]
) -> None:
    app = open_customer(app_as("rep"), book["Won deal"])
    app.selectbox(key="cust_move_to").set_value("contact")
    app.button(key="cust_move_submit").click().run()
    assert not app.exception
    below_stage = element_after(app, "cust_move_to")
    assert below_stage.type == "error"
    assert "A won deal is closed" in below_stage.value
    with session_scope(app_engine) as session:
        assert get_customer(session, actor=SYSTEM, customer_id=book["Won deal"]).status == "won"


def test_a_manager_assigns_a_customer_to_another_rep_who_then_sees_it(
    app_as: AppAs, app_engine: Engine, book: dict[str, int], accounts: dict[str, int]
) -> None:
    app = open_customer(app_as("manager"), book["Acme"])
    app.selectbox(key="cust_assign").set_value(accounts["rep2"])
    app.button(key="cust_assign_submit").click().run()
    assert not app.exception
    assert "now belongs to rep2" in app.success[0].value
    assert "**Owner:** rep2" in app.markdown[0].value
    assert listed_names(open_leads(app_as("rep2"))) == ["Acme", "Other rep's lead"]
    assert listed_names(open_leads(app_as("rep"))) == ["Won deal"]
    with session_scope(app_engine) as session:
        history = customer_history(session, actor=SYSTEM, customer_id=book["Acme"])
    assert ["rep", "rep2"] in history[history["field"] == "owner_id"][["old", "new"]].to_numpy().tolist()


def test_a_manager_shares_a_customer_with_another_rep(
    app_as: AppAs, book: dict[str, int], accounts: dict[str, int]
) -> None:
    app = open_customer(app_as("manager"), book["Acme"])
    app.selectbox(key="cust_share").set_value(accounts["rep2"])
    app.button(key="cust_share_submit").click().run()
    assert "now shared with rep2" in app.success[0].value
    assert listed_names(open_leads(app_as("rep2"))) == ["Acme", "Other rep's lead"]
    assert listed_names(open_leads(app_as("rep"))) == ["Acme", "Won deal"]  # still the owner

    # And takes the share back: rep2 no longer sees the customer.
    app = open_customer(app_as("manager"), book["Acme"])
    app.selectbox(key="cust_unshare").set_value(accounts["rep2"])
    app.button(key="cust_unshare_submit").click().run()
    assert "no longer shared with rep2" in app.success[0].value
    assert listed_names(open_leads(app_as("rep2"))) == ["Other rep's lead"]


def test_a_manager_deletes_a_customer_after_confirming_and_returns_to_the_list(
    app_as: AppAs, book: dict[str, int]
) -> None:
    app = open_customer(app_as("manager"), book["Acme"])
    assert app.button(key="cust_delete").disabled
    app.checkbox(key="cust_delete_confirm").check().run()
    app.button(key="cust_delete").click().run()
    assert not app.exception
    assert app.title[0].value == "Leads"
    assert "was deleted" in app.success[0].value
    assert listed_names(app) == ["Other rep's lead", "Won deal"]


def test_both_pages_speak_chinese(app_as: AppAs, book: dict[str, int]) -> None:
    app = app_as("rep").run()
    app.radio(key="lang").set_value("zh").run()
    app.switch_page(LEADS).run()
    assert app.title[0].value == "线索与客户"
    assert "线索获取" in app.dataframe(key="leads_table").value["stage"].tolist()
    app.session_state["customer_id"] = book["Acme"]
    app.switch_page(CUSTOMER).run()
    assert not app.exception
    assert app.title[0].value == "客户详情"
    assert "**阶段**：线索获取" in app.markdown[0].value


def test_the_status_filter_survives_a_language_switch(app_as: AppAs, book: dict[str, int]) -> None:
    app = open_leads(app_as("rep"))
    app.selectbox(key="leads_status").set_value("won").run()
    app.radio(key="lang").set_value("zh").run()
    assert app.selectbox(key="leads_status").value == "won"
    assert listed_names(app) == ["Won deal"]


def test_the_customer_page_shows_deals_and_objections_by_name(
    app_as: AppAs, app_engine: Engine, accounts: dict[str, int]
) -> None:
    customer_id = add_lead(app_engine, accounts["rep"], "Deal", amount=Decimal("1200"))
    with session_scope(app_engine) as session:
        session.add(Objection(customer_id=customer_id, category="price", detail="too dear", stage="lead"))
    app = open_customer(app_as("rep"), customer_id)
    assert not app.exception
    assert table_with(app, "Amount")["Amount"].tolist() == ["1,200.00"]
    objection = table_with(app, "Category").iloc[0]
    assert (objection["Category"], objection["Stage"], objection["The customer's words"]) == (
        "Price",
        "Lead",
        "too dear",
    )


def test_the_leads_table_a_reader_can_download_neutralises_formulas(
    app_as: AppAs, app_engine: Engine
) -> None:
    with session_scope(app_engine) as session:
        create_lead(
            session, LeadInput(name='=HYPERLINK("https://evil.example")', email="f@x.cn"), actor=SYSTEM
        )
    names = listed_names(open_leads(app_as("admin")))
    assert '\'=HYPERLINK("https://evil.example")' in names
