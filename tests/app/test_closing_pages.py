"""Objections and contracts pages under AppTest: the playbook shows on picking a category, an objection
is logged, the review counts it; a manager approves a pending contract, finance records a receipt."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import Engine, select
from streamlit.testing.v1 import AppTest

from funnel.access.permissions import SYSTEM, Actor
from funnel.capture.leads import LeadInput, create_lead
from funnel.closing import contracts, objections
from funnel.core.db import session_scope
from funnel.store.models import Contract, Objection, Payment, User
from tests.app.helpers import open_page

OBJECTIONS, CONTRACTS = "pages/objections.py", "pages/contracts.py"


def a_customer(engine: Engine, owner: str) -> tuple[int, str]:
    with session_scope(engine) as session:
        user = session.scalars(select(User).where(User.username == owner)).one()
        made = create_lead(
            session, LeadInput(name="Acme", email=f"{owner}@acme.example", stage="proposal"), actor=SYSTEM
        )
        made.owner_id = user.id
        session.flush()
        return made.id, made.customer_no


def test_the_playbook_answer_shows_when_a_rep_picks_the_category(
    app_as: Callable[[str], AppTest], app_engine: Engine, accounts: dict[str, int]
) -> None:
    customer_id, number = a_customer(app_engine, "rep")
    with session_scope(app_engine) as session:
        manager = Actor.of(session.get(User, accounts["manager"]))  # type: ignore[arg-type]
        objections.set_playbook(
            session, actor=manager, category="competitor", answer="Show the migration case"
        )
    app = open_page(app_as("rep"), OBJECTIONS)
    assert not app.exception
    app.selectbox(key="objection_category").set_value("competitor").run()
    assert "Show the migration case" in [text.value for text in app.text]
    app.text_input(key="objection_customer").set_value(number)
    app.text_area(key="objection_words").set_value("对手便宜 20%")
    app.button(key="objection_save").click().run()
    assert not app.exception and not app.error
    with session_scope(app_engine) as session:
        saved = session.scalars(select(Objection)).one()
        assert (saved.customer_id, saved.category, saved.detail) == (
            customer_id,
            "competitor",
            "对手便宜 20%",
        )


def test_a_missing_customer_is_named_and_the_words_are_kept(
    app_as: Callable[[str], AppTest], app_engine: Engine
) -> None:
    app = open_page(app_as("rep"), OBJECTIONS)
    app.text_input(key="objection_customer").set_value("C-NOPE")
    app.text_area(key="objection_words").set_value("too dear")
    app.button(key="objection_save").click().run()
    assert app.error and app.text_area(key="objection_words").value == "too dear"


def test_the_manager_review_counts_objections(app_as: Callable[[str], AppTest], app_engine: Engine) -> None:
    customer_id, _ = a_customer(app_engine, "rep")
    with session_scope(app_engine) as session:
        objections.log_objection(session, actor=SYSTEM, customer_id=customer_id, category="price", words="贵")
    app = open_page(app_as("manager"), OBJECTIONS)
    assert not app.exception
    assert len(app.dataframe) == 3 and app.dataframe[1].value["objections"].tolist() == [1]


def test_a_manager_approves_and_finance_records_a_receipt(
    app_as: Callable[[str], AppTest], app_engine: Engine, accounts: dict[str, int]
) -> None:
    customer_id, _ = a_customer(app_engine, "rep")
    with session_scope(app_engine) as session:
        rep = Actor.of(session.get(User, accounts["rep"]))  # type: ignore[arg-type]
        draft = contracts.create_contract(
            session, actor=rep, customer_id=customer_id, amount="1000", contract_no="HT-9"
        )
        contracts.submit_contract(session, actor=rep, contract_id=draft.id)
    app = open_page(app_as("manager"), CONTRACTS)
    assert not app.exception
    app.button(key="contract_approve").click().run()
    assert not app.exception and app.success
    finance = open_page(app_as("delivery"), CONTRACTS)
    assert not finance.exception
    finance.text_input(key="receipt_amount").set_value("5000")
    finance.button[0].click().run()
    assert finance.error  # more than the outstanding 1,000.00
    finance.text_input(key="receipt_amount").set_value("400")
    finance.button[0].click().run()
    assert not finance.exception
    with session_scope(app_engine) as session:
        assert session.scalars(select(Contract.status)).one() == "signed"
        assert [float(p) for p in session.scalars(select(Payment.amount))] == [400.0]


def test_a_rep_is_not_offered_the_contracts_page(app_as: Callable[[str], AppTest]) -> None:
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        open_page(app_as("rep"), CONTRACTS)
