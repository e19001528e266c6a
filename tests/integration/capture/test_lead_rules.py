"""Rules of a lead's life: a duplicate is reported on the field that matched, a stage move goes somewhere,
and a won deal stays closed."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from funnel.access.permissions import SYSTEM, Actor
from funnel.accounts.users import UserInput, add_user
from funnel.capture.leads import LeadInput, create_lead
from funnel.core.errors import FieldError, ValidationError
from funnel.customers.stages import move_stage
from funnel.store.models import AuditLog, Customer, StageEvent

EXISTING = {"phone": "13812345678", "email": "li@acme.cn", "wechat": "li_acme_88"}


@pytest.fixture
def existing(session: Session) -> Customer:
    """A customer of rep2 with a phone, an e-mail and a WeChat ID."""
    rep2 = add_user(session, UserInput(username="rep2", role="rep"), password=None, actor=SYSTEM)
    customer = create_lead(session, LeadInput(name="Acme", **EXISTING), actor=Actor.of(rep2))
    session.commit()
    return customer


# the new lead's contact details -> the field its duplicate error names
DUPLICATES = [
    ({"phone": "+86 138 1234 5678"}, "phone"),
    ({"email": "LI@acme.cn"}, "email"),
    ({"wechat": "li_acme_88"}, "wechat"),
    ({"phone": "13900000000", "email": "li@acme.cn"}, "email"),  # another phone, the same e-mail
    ({"phone": "13900000000", "wechat": "li_acme_88"}, "wechat"),
]  # fmt: skip


@pytest.mark.parametrize(("contact", "field"), DUPLICATES)
def test_a_duplicate_is_reported_on_the_field_that_matched(session, existing, contact, field):
    with pytest.raises(ValidationError) as raised:
        create_lead(session, LeadInput(name="Again", **contact), actor=SYSTEM)

    assert raised.value.errors == [
        FieldError(field, "error.duplicate", {"customer_no": existing.customer_no})
    ]


def test_a_hidden_duplicate_is_also_reported_on_the_field_that_matched(session, existing):
    rep = Actor.of(add_user(session, UserInput(username="rep", role="rep"), password=None, actor=SYSTEM))

    with pytest.raises(ValidationError) as raised:
        create_lead(session, LeadInput(name="Again", wechat="li_acme_88"), actor=rep)

    assert raised.value.errors == [FieldError("wechat", "error.duplicate_hidden")]


def _trail(session: Session, customer: Customer) -> tuple[int, int, int]:
    """What a move leaves behind: stage events, audit rows, the customer's version."""
    events = session.scalar(select(func.count()).where(StageEvent.customer_id == customer.id))
    rows = session.scalar(select(func.count()).where(AuditLog.customer_id == customer.id))
    return events or 0, rows or 0, customer.version


# (how the customer is created, where it is moved) -> the stage error, None when the move happens
MOVES = [
    ({}, "lead", "error.same_stage"),
    ({"stage": "qualify"}, "Needs qualified", "error.same_stage"),  # a stage named, not keyed
    ({"status": "lost", "lost_reason": "price"}, "lost", "error.same_stage"),
    ({"status": "won"}, "won", "error.same_stage"),
    ({"status": "won"}, "contact", "error.won_is_final"),
    ({"status": "won"}, "lost", "error.won_is_final"),
    ({"status": "lost", "lost_reason": "price", "stage": "qualify"}, "qualify", None),  # reopened
    ({"status": "lost", "lost_reason": "price"}, "contact", None),
    ({}, "won", None),
]  # fmt: skip


@pytest.mark.parametrize(("created", "to_stage", "code"), MOVES)
def test_a_move_to_where_the_customer_is_or_out_of_won_is_refused_and_records_nothing(
    session, created, to_stage, code
):
    customer = create_lead(session, LeadInput(name="Acme", email="acme@x.cn", **created), actor=SYSTEM)
    session.commit()
    before = _trail(session, customer)

    if code is None:  # a reopened customer says why (funnel.customers.stages: reopen_reason)
        move_stage(session, customer_id=customer.id, to_stage=to_stage, lost_reason="price",
                   reopen_reason="came_back", actor=SYSTEM)  # fmt: skip
        session.commit()
        assert _trail(session, customer) != before
        return
    with pytest.raises(ValidationError) as raised:
        move_stage(session, customer_id=customer.id, to_stage=to_stage, lost_reason="price", actor=SYSTEM)
    session.commit()

    assert raised.value.errors == [FieldError("stage", code)]
    assert _trail(session, customer) == before


def test_a_won_customer_stays_won_with_its_history_unchanged(session):
    customer = create_lead(session, LeadInput(name="Acme", email="acme@x.cn"), actor=SYSTEM)
    move_stage(session, customer_id=customer.id, to_stage="won", actor=SYSTEM)
    session.commit()

    with pytest.raises(ValidationError):
        move_stage(session, customer_id=customer.id, to_stage="proposal", actor=SYSTEM)

    assert (customer.status, customer.stage) == ("won", "won")
    stages = session.scalars(select(StageEvent.to_stage).where(StageEvent.customer_id == customer.id))
    assert list(stages) == ["lead", "won"]
