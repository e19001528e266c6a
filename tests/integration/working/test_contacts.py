"""Contacts of a customer: roles, exactly one primary decision maker, permissions, stale edits."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor
from funnel.capture.leads import LeadInput, create_lead
from funnel.core.errors import PermissionDenied, StaleEdit, ValidationError
from funnel.store.models import AuditLog, Contact, User
from funnel.working.contacts import add_contact, edit_contact, list_contacts, remove_contact


@pytest.fixture
def rep(role_users: dict[str, User]) -> Actor:
    return Actor.of(role_users["rep"])


@pytest.fixture
def customer_id(session: Session, rep: Actor) -> int:
    return create_lead(session, LeadInput(name="Acme buyer", email="buyer@acme.cn"), actor=rep).id


def primaries(session: Session, customer_id: int) -> list[str]:
    rows = session.scalars(select(Contact).where(Contact.customer_id == customer_id, Contact.is_primary))
    return sorted(c.name for c in rows)


def test_the_first_decision_maker_becomes_the_primary_one(session, rep, customer_id):
    add_contact(session, actor=rep, customer_id=customer_id, values={"name": "Li", "role": "influencer"})
    assert primaries(session, customer_id) == []
    add_contact(
        session, actor=rep, customer_id=customer_id, values={"name": "Wang", "role": "decision_maker"}
    )
    add_contact(
        session, actor=rep, customer_id=customer_id, values={"name": "Zhao", "role": "decision_maker"}
    )
    assert primaries(session, customer_id) == ["Wang"]


def test_marking_another_decision_maker_primary_moves_the_mark(session, rep, customer_id):
    add_contact(
        session, actor=rep, customer_id=customer_id, values={"name": "Wang", "role": "decision_maker"}
    )
    zhao = add_contact(
        session,
        actor=rep,
        customer_id=customer_id,
        values={"name": "Zhao", "role": "decision_maker", "is_primary": True},
    )
    assert primaries(session, customer_id) == ["Zhao"]
    assert list_contacts(session, actor=rep, customer_id=customer_id)[0].id == zhao.id


def test_removing_or_demoting_the_primary_passes_the_mark_to_another_decision_maker(
    session, rep, customer_id
):
    wang = add_contact(
        session, actor=rep, customer_id=customer_id, values={"name": "Wang", "role": "decision_maker"}
    )
    zhao = add_contact(
        session, actor=rep, customer_id=customer_id, values={"name": "Zhao", "role": "decision_maker"}
    )
    edit_contact(
        session,
        actor=rep,
        customer_id=customer_id,
        contact_id=wang.id,
        values={"name": "Wang", "role": "user"},
        expected_version=wang.version,
    )
    assert primaries(session, customer_id) == ["Zhao"]
    (current,) = [c for c in list_contacts(session, actor=rep, customer_id=customer_id) if c.id == zhao.id]
    assert current.version > zhao.version  # taking the mark is a change to the contact too
    remove_contact(
        session, actor=rep, customer_id=customer_id, contact_id=zhao.id, expected_version=current.version
    )
    assert primaries(session, customer_id) == []  # no decision maker left, so no primary one


def test_only_a_decision_maker_can_be_primary_and_bad_fields_are_named(session, rep, customer_id):
    with pytest.raises(ValidationError) as caught:
        add_contact(
            session,
            actor=rep,
            customer_id=customer_id,
            values={"name": "", "role": "boss", "phone": "1" * 40, "is_primary": True},
        )
    assert {e.field for e in caught.value.errors} == {"name", "role", "phone", "is_primary"}


def test_a_second_session_editing_a_contact_gets_a_stale_edit(session, rep, customer_id):
    wang = add_contact(session, actor=rep, customer_id=customer_id, values={"name": "Wang"})
    edit_contact(
        session,
        actor=rep,
        customer_id=customer_id,
        contact_id=wang.id,
        values={"name": "Wang Wei", "title": "CTO"},
        expected_version=wang.version,
    )
    with pytest.raises(StaleEdit):
        edit_contact(
            session,
            actor=rep,
            customer_id=customer_id,
            contact_id=wang.id,
            values={"name": "Wang W."},
            expected_version=wang.version,
        )


def test_contacts_are_audited_and_only_editors_in_scope_may_change_them(
    session, rep, role_users, customer_id
):
    add_contact(session, actor=rep, customer_id=customer_id, values={"name": "Wang"})
    actions = set(session.scalars(select(AuditLog.action).where(AuditLog.customer_id == customer_id)))
    assert "contact_add" in actions
    with pytest.raises(PermissionDenied):
        add_contact(
            session, actor=Actor.of(role_users["rep2"]), customer_id=customer_id, values={"name": "X"}
        )
    with pytest.raises(PermissionDenied):
        add_contact(
            session, actor=Actor.of(role_users["leader"]), customer_id=customer_id, values={"name": "X"}
        )
