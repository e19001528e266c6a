"""Duplicate handling of a new lead: normalised phones, e-mail and WeChat case, company and name, what a
reader is shown of the match, saving anyway with a reason, adding the person as a contact, concurrency."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor
from funnel.capture.leads import LeadInput, add_as_contact, create_lead, find_duplicate
from funnel.core.db import session_scope
from funnel.core.errors import PermissionDenied, ValidationError
from funnel.customers.duplicates import DuplicateLead, fold_key
from funnel.store.models import Activity, AuditLog, Contact, Customer, User

STORED = {
    "name": "Li Ming",
    "company": "Acme Trading Ltd",
    "phone": "13812345678",
    "email": "li.ming@acme.cn",
    "wechat": "Li_Acme_88",
}


@pytest.fixture
def existing(session: Session, role_users: dict[str, User]) -> Customer:
    """A lead of rep2 (a manager sees it, rep does not)."""
    customer = create_lead(session, LeadInput(**STORED), actor=Actor.of(role_users["rep2"]))
    session.commit()
    return customer


def _dup(session: Session, actor: Actor, **typed: str) -> DuplicateLead:
    with pytest.raises(DuplicateLead) as raised:
        create_lead(session, LeadInput(**{"name": "Someone new", **typed}), actor=actor)
    session.rollback()
    return raised.value


@pytest.mark.parametrize(
    "phone",
    ["138 1234 5678", "+86 138 1234 5678", "0086-138-1234-5678", "(+86) 138-1234-5678", "86 13812345678",
     "+86(138)12345678"],
)  # fmt: skip
def test_a_mainland_mobile_matches_in_every_written_form(session, existing, role_users, phone):
    found = _dup(session, Actor.of(role_users["manager"]), phone=phone).summary
    assert (found.field, found.customer_no) == ("phone", existing.customer_no)


@pytest.mark.parametrize(
    ("typed", "field"),
    [
        ({"email": "  LI.Ming@ACME.cn "}, "email"),
        ({"wechat": "li_acme_88"}, "wechat"),
        ({"wechat": "LI_ACME_88"}, "wechat"),
        ({"name": "li  ming", "company": "ACME Trading  Ltd", "phone": "13900000001"}, "company"),
        ({"name": "LiMing", "company": "acme trading ltd", "wechat": "other_id_1"}, "company"),
    ],
)
def test_email_and_wechat_ignore_case_and_company_with_name_ignores_case_and_spaces(
    session, existing, role_users, typed, field
):
    found = _dup(session, Actor.of(role_users["manager"]), **typed).summary
    assert (found.field, found.customer_no, found.visible) == (field, existing.customer_no, True)


@pytest.mark.parametrize(
    "typed",
    [
        {"wechat": "LiXAcme_88"},  # "_" is no wildcard
        {"name": "Li Ming", "company": "Acme Trading", "phone": "13900000002"},  # another company
        {"name": "Wang Fang", "company": "Acme Trading Ltd", "phone": "13900000003"},  # another person
        {"name": "Li Ming", "phone": "13900000004"},  # the name alone
    ],
)
def test_near_misses_are_new_leads(session, existing, role_users, typed):
    customer = create_lead(
        session, LeadInput(**{"name": "x", **typed}), actor=Actor.of(role_users["manager"])
    )
    assert customer.id != existing.id


def test_fold_key_folds_case_and_every_kind_of_space():
    assert fold_key(" Acme\u3000Trading\tLtd ") == fold_key("acme trading ltd") == "acmetradingltd"
    assert fold_key("  ") is None


def test_a_manager_is_shown_the_customer_and_its_owner(session, existing, role_users):
    found = _dup(session, Actor.of(role_users["manager"]), phone="13812345678").summary
    assert (found.name, found.company, found.stage, found.owner_name) == (
        "Li Ming", "Acme Trading Ltd", "lead", "REP2",
    )  # fmt: skip
    assert found.editable


def test_a_rep_who_may_not_see_the_customer_learns_only_the_field(session, existing, role_users):
    error = _dup(session, Actor.of(role_users["rep"]), email="li.ming@acme.cn")
    found = error.summary
    assert (found.field, found.visible, found.customer_no, found.name, found.owner_name) == (
        "email", False, None, None, None,
    )  # fmt: skip
    assert [(e.field, e.code, e.params) for e in error.errors] == [("email", "error.duplicate_hidden", {})]
    hidden_company = _dup(session, Actor.of(role_users["rep"]), name="Li Ming", company="Acme Trading Ltd",
                          phone="13900000005")  # fmt: skip
    assert hidden_company.errors[0].code == "error.duplicate_company_hidden"


def test_the_leader_sees_the_match_but_may_not_add_a_contact(session, existing, role_users):
    found = find_duplicate(
        session, LeadInput(name="x", phone="13812345678"), actor=Actor.of(role_users["rep2"])
    )
    assert found is not None and found.editable
    with pytest.raises(PermissionDenied):
        find_duplicate(
            session, LeadInput(name="x", phone="13812345678"), actor=Actor.of(role_users["leader"])
        )


def test_saving_anyway_needs_a_reason_and_audits_it_with_the_match(session, existing, role_users):
    rep = Actor.of(role_users["rep"])
    lead = LeadInput(name="Li Ming (purchasing)", phone="+86 138 1234 5678", campaign="2026 expo")
    with pytest.raises(ValidationError) as refused:
        create_lead(session, lead, actor=rep, duplicate_reason="   ")
    assert [(e.field, e.code) for e in refused.value.errors] == [("duplicate_reason", "error.required")]

    stored = create_lead(session, lead, actor=rep, duplicate_reason="Another department, own budget")
    session.commit()
    row = session.scalars(select(AuditLog).where(AuditLog.customer_id == stored.id)).one()
    assert row.changes is not None
    assert row.changes["duplicate_of"] == [None, existing.customer_no]
    assert row.changes["duplicate_field"] == [None, "phone"]
    assert row.changes["duplicate_reason"] == [None, "Another department, own budget"]
    assert row.changes["campaign"] == [None, "2026 expo"]
    assert session.scalar(select(func.count()).select_from(Customer)) == 2


def test_a_new_lead_keeps_its_campaign_and_first_note_as_a_note_by_its_author(session, role_users):
    rep = Actor.of(role_users["rep"])
    stored = create_lead(
        session,
        LeadInput(name="Zhao", phone="13700000000", campaign="春季展会", note=" Wants a demo "),
        actor=rep,
    )
    session.commit()
    assert stored.campaign == "春季展会"
    note = session.scalars(select(Activity).where(Activity.customer_id == stored.id)).one()
    assert (note.kind, note.summary, note.by_user_id) == ("note", "Wants a demo", rep.user_id)


def test_an_over_long_campaign_or_note_is_refused_on_its_field(session, role_users):
    rep = Actor.of(role_users["rep"])
    with pytest.raises(ValidationError) as refused:
        create_lead(
            session,
            LeadInput(name="Zhao", phone="13700000000", campaign="c" * 65, note="n" * 5001),
            actor=rep,
        )
    assert sorted(e.field for e in refused.value.errors) == ["campaign", "note"]


def test_adding_the_person_as_a_contact_stores_no_lead_and_is_audited(session, existing, role_users):
    manager = Actor.of(role_users["manager"])
    lead = LeadInput(name="Li Ming", contact_name="Wang Fang", email="wang@acme.cn", note="Li's assistant")
    add_as_contact(session, lead, customer_id=existing.id, actor=manager)
    session.commit()
    contacts = session.scalars(
        select(Contact).where(Contact.customer_id == existing.id).order_by(Contact.id)
    ).all()
    assert [(c.name, c.email, c.is_primary) for c in contacts] == [
        ("Li Ming", "li.ming@acme.cn", True), ("Wang Fang", "wang@acme.cn", False),
    ]  # fmt: skip
    assert session.scalar(select(func.count()).select_from(Customer)) == 1
    audit = session.scalars(select(AuditLog).where(AuditLog.action == "update")).one()
    assert (audit.customer_id, audit.user_id) == (existing.id, manager.user_id)
    assert audit.changes == {"contact_added": [None, "Wang Fang, wang@acme.cn"]}
    assert session.scalars(select(Activity.summary)).all() == ["Li's assistant"]


@pytest.mark.parametrize("role", ["rep", "leader"])
def test_a_contact_is_added_only_by_someone_who_may_edit_the_customer(session, existing, role_users, role):
    with pytest.raises(PermissionDenied):
        add_as_contact(session, LeadInput(name="x", phone="13900000009"), customer_id=existing.id,
                       actor=Actor.of(role_users[role]))  # fmt: skip


def test_two_concurrent_saves_of_one_person_store_one_customer_and_one_clear_duplicate(
    engine: Engine, role_users: dict[str, User], session: Session
):
    session.commit()
    reps = [Actor.of(role_users["rep"]), Actor.of(role_users["rep2"])]
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def save(actor: Actor, phone: str) -> None:
        start.wait()
        try:
            with session_scope(engine) as own:
                create_lead(own, LeadInput(name="Same person", phone=phone), actor=actor)
            outcomes.append("stored")
        except DuplicateLead as exc:
            outcomes.append(exc.errors[0].field)

    threads = [threading.Thread(target=save, args=(actor, phone))
               for actor, phone in zip(reps, ["13612345678", "+86 136-1234-5678"], strict=True)]  # fmt: skip
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["phone", "stored"]
    with session_scope(engine) as check:
        assert check.scalar(select(func.count()).select_from(Customer)) == 1
