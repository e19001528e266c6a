"""The customer page's closing sections one by one: a meeting with its attendees and attachment, an
opportunity edited, an objection resolved, a contract rejected and resubmitted, a payment plan."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select
from streamlit.testing.v1 import AppTest

from funnel.access.permissions import Actor
from funnel.capture.leads import LeadInput, create_lead
from funnel.closing import contracts, files, objections, opportunities
from funnel.core.clock import team_today
from funnel.core.db import session_scope
from funnel.store.models import Contract, Meeting, Objection, Opportunity, PaymentInstalment, User
from funnel.working.contacts import add_contact

AppAs = Callable[[str], AppTest]
CUSTOMER = "pages/customer.py"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 64


def actor_of(engine: Engine, user_id: int) -> Actor:
    with session_scope(engine) as session:
        user = session.get(User, user_id)
        assert user is not None
        return Actor.of(user)


@pytest.fixture
def deal(app_engine: Engine, accounts: dict[str, int]) -> int:
    rep = actor_of(app_engine, accounts["rep"])
    with session_scope(app_engine) as session:
        made = create_lead(
            session,
            LeadInput(name="Beta 科技", email="it@beta.example", owner_id=accounts["rep"], stage="proposal"),
            actor=rep,
        )
        return made.id


def open_customer(app: AppTest, customer_id: int) -> AppTest:
    app.run()
    app.session_state["customer_id"] = customer_id
    return app.switch_page(CUSTOMER).run()


def test_a_meeting_with_contacts_colleagues_link_feedback_and_a_file(
    app_as: AppAs, app_engine: Engine, accounts: dict[str, int], deal: int
) -> None:
    rep = actor_of(app_engine, accounts["rep"])
    with session_scope(app_engine) as session:
        boss_contact = add_contact(
            session, actor=rep, customer_id=deal, values={"name": "李总", "phone": "13800138000"}
        )
        contact_id = boss_contact.id
        document = files.upload_document(session, actor=rep, customer_id=deal, filename="demo.png", data=PNG)
        document_id = document.id
    app = open_customer(app_as("rep"), deal)
    app.radio(key="deal_meet_kind").set_value("demo")
    app.multiselect(key="deal_meet_contacts").set_value([contact_id])
    app.multiselect(key="deal_meet_users").set_value([accounts["manager"]])
    app.text_input(key="deal_meet_link").input("meet.example/abc")
    app.text_area(key="deal_meet_minutes").input("演示了线索分配")
    app.text_area(key="deal_meet_feedback").input("分配规则符合预期；报表不够贴合")
    app.multiselect(key="deal_meet_files").set_value([document_id])
    app.button(key="deal_meet_submit").click().run()
    assert not app.exception
    assert any("full https:// address" in e.value for e in app.error)
    assert app.text_area(key="deal_meet_minutes").value == "演示了线索分配"  # kept
    app.text_input(key="deal_meet_link").input("https://meet.example/abc")
    app.button(key="deal_meet_submit").click().run()
    assert not app.exception and not app.error
    with session_scope(app_engine) as session:
        meeting = session.scalars(select(Meeting)).one()
        assert (meeting.kind, meeting.link, meeting.feedback) == (
            "demo",
            "https://meet.example/abc",
            "分配规则符合预期；报表不够贴合",
        )
        assert (meeting.contact_ids, meeting.user_ids) == ([contact_id], [accounts["manager"]])
        assert meeting.document_ids == [document_id]
    table = next(df for df in app.dataframe if "Attendees" in df.value.columns)
    assert table.value[["Attendees", "Attachments"]].values.tolist() == [["李总, manager", "demo.png"]]


def test_an_opportunity_is_edited_and_an_objection_resolved(
    app_as: AppAs, app_engine: Engine, accounts: dict[str, int], deal: int
) -> None:
    rep = actor_of(app_engine, accounts["rep"])
    with session_scope(app_engine) as session:
        opportunities.catalogue(session)
        made = opportunities.save_opportunity(
            session, actor=rep, customer_id=deal, values={"name": "Pilot", "amount": "30000"}
        )
        opportunity_id = made.id
        objections.log_objection(session, actor=rep, customer_id=deal, category="stability", words="怕宕机")
    app = open_customer(app_as("rep"), deal)
    app.selectbox(key="deal_opp_choose").set_value(opportunity_id).run()
    assert app.text_input(key=f"deal_opp_amount_{opportunity_id}").value == "30,000.00"
    app.text_input(key=f"deal_opp_probability_{opportunity_id}").input("150")
    app.text_area(key=f"deal_opp_next_step_{opportunity_id}").input("Visit the plant")
    app.button(key=f"deal_opp_submit_{opportunity_id}").click().run()
    assert any("is not a probability" in e.value for e in app.error)
    app.text_input(key=f"deal_opp_probability_{opportunity_id}").input("70")
    app.button(key=f"deal_opp_submit_{opportunity_id}").click().run()
    assert not app.exception and not app.error
    app.text_area(key="deal_obj_resolve_response").input("SLA 99.9% 写进合同")
    app.button(key="deal_obj_resolve").click().run()
    assert not app.exception and not app.error
    with session_scope(app_engine) as session:
        saved = session.get(Opportunity, opportunity_id)
        assert saved is not None and (saved.probability, saved.next_step) == (70, "Visit the plant")
        objection = session.scalars(select(Objection)).one()
        assert (objection.status, objection.response) == ("resolved", "SLA 99.9% 写进合同")


def test_a_rejected_contract_is_corrected_and_submitted_again(
    app_as: AppAs, app_engine: Engine, accounts: dict[str, int], deal: int
) -> None:
    rep = actor_of(app_engine, accounts["rep"])
    with session_scope(app_engine) as session:
        draft = contracts.create_contract(
            session, actor=rep, customer_id=deal, amount="50000", contract_no="HT-7"
        )
        contracts.submit_contract(session, actor=rep, contract_id=draft.id)
        contract_id = draft.id
    boss = open_customer(app_as("manager"), deal)
    boss.button(key=f"deal_contract_reject_{contract_id}").click().run()
    assert any("required" in e.value.lower() for e in boss.error)  # the reason is asked for
    boss.text_input(key=f"deal_contract_reason_{contract_id}").input("Payment terms missing")
    boss.button(key=f"deal_contract_reject_{contract_id}").click().run()
    assert not boss.exception and not boss.error
    again = open_customer(app_as("rep"), deal)
    shown = next(df for df in again.dataframe if "Reason rejected" in df.value.columns)
    assert shown.value[["Status", "Reason rejected"]].values.tolist() == [
        ["Rejected", "Payment terms missing"]
    ]
    again.button(key=f"deal_contract_submit_{contract_id}").click().run()
    assert not again.exception and not again.error
    with session_scope(app_engine) as session:
        assert session.get(Contract, contract_id).status == "pending"  # type: ignore[union-attr]


def test_a_payment_plan_over_the_contract_is_refused_then_saved(
    app_as: AppAs, app_engine: Engine, accounts: dict[str, int], deal: int
) -> None:
    rep, manager = actor_of(app_engine, accounts["rep"]), actor_of(app_engine, accounts["manager"])
    with session_scope(app_engine) as session:
        draft = contracts.create_contract(session, actor=rep, customer_id=deal, amount="100000")
        contracts.submit_contract(session, actor=rep, contract_id=draft.id)
        contracts.approve_contract(session, actor=manager, contract_id=draft.id)
        contract_id = draft.id
    rep_page = open_customer(app_as("rep"), deal)
    assert not [w for w in rep_page.text_input if (w.key or "").startswith("deal_pay_")]  # a rep records none
    app = open_customer(app_as("manager"), deal)
    app.number_input(key=f"deal_pay_count_{contract_id}").set_value(2).run()
    first, second = team_today() + timedelta(days=30), team_today() + timedelta(days=90)
    app.text_input(key=f"deal_pay_{contract_id}_amount_1").input("60000")
    app.date_input(key=f"deal_pay_{contract_id}_due_1").set_value(first)
    app.text_input(key=f"deal_pay_{contract_id}_amount_2").input("50000")
    app.button(key=f"deal_pay_plan_save_{contract_id}").click().run()
    assert not app.exception
    assert any("Write it as YYYY-MM-DD" in e.value or "required" in e.value.lower() for e in app.error)
    app.date_input(key=f"deal_pay_{contract_id}_due_2").set_value(second)
    app.button(key=f"deal_pay_plan_save_{contract_id}").click().run()
    assert any("more than the contract's 100,000.00" in e.value for e in app.error)
    app.text_input(key=f"deal_pay_{contract_id}_amount_2").input("40000")
    app.button(key=f"deal_pay_plan_save_{contract_id}").click().run()
    assert not app.exception and not app.error
    with session_scope(app_engine) as session:
        plan = session.scalars(select(PaymentInstalment).order_by(PaymentInstalment.due_on)).all()
        assert [(float(p.amount), p.due_on) for p in plan] == [(60000.0, first), (40000.0, second)]


def test_a_file_is_read_when_downloaded_and_only_for_whoever_may_see_the_customer(
    app_as: AppAs, app_engine: Engine, accounts: dict[str, int], deal: int
) -> None:
    from funnel.core.errors import PermissionDenied
    from pages._shared.closing_parts import _file_bytes

    rep, other = actor_of(app_engine, accounts["rep"]), actor_of(app_engine, accounts["rep2"])
    with session_scope(app_engine) as session:
        document_id = files.upload_document(
            session, actor=rep, customer_id=deal, filename="x.png", data=PNG
        ).id
    app = open_customer(app_as("rep"), deal)
    assert [(b.label, b.key) for b in app.download_button] == [
        ("Download", f"deal_file_download_{document_id}")
    ]

    assert _file_bytes(rep, document_id)() == PNG
    with pytest.raises(PermissionDenied):
        _file_bytes(other, document_id)()  # rep2 does not see the customer: the click yields nothing
