"""Meetings and demos: date, attendees (the customer's contacts and colleagues), online link, minutes,
the customer's feedback and attached files; `meetings_table` feeds the customer's timeline."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor, require
from funnel.audit import record as audit
from funnel.audit.actions import AuditAction, AuditEntity
from funnel.closing.common import clean_str, customer_for
from funnel.core.clock import utcnow
from funnel.core.db import take_write_lock
from funnel.core.errors import FieldError, ValidationError
from funnel.customers.read import UserChoice
from funnel.store.models import Contact, Document, Meeting, User

KINDS = ("meeting", "demo")


def log_meeting(
    session: Session,
    *,
    actor: Actor,
    customer_id: int,
    at: datetime,
    kind: str = "meeting",
    contact_ids: Sequence[int] = (),
    user_ids: Sequence[int] = (),
    link: object = None,
    minutes: object = None,
    feedback: object = None,
    document_ids: Sequence[int] = (),
) -> Meeting:
    """Record a meeting or demo with a customer the actor works (customer.edit)."""
    take_write_lock(session)
    customer = customer_for(session, actor, customer_id, "customer.edit")
    errors: list[FieldError] = []
    if kind not in KINDS:
        errors.append(FieldError("kind", "closing.error.kind_invalid"))
    url = clean_str("link", link, errors, max_length=500)
    if url is not None and not url.lower().startswith(("https://", "http://")):
        errors.append(FieldError("link", "closing.error.link_invalid"))
    notes = clean_str("minutes", minutes, errors, max_length=20000)
    said = clean_str("feedback", feedback, errors, max_length=20000)
    contacts = set(session.scalars(select(Contact.id).where(Contact.customer_id == customer.id)))
    users = set(session.scalars(select(User.id).where(User.is_active.is_(True))))
    if not set(contact_ids) <= contacts or not set(user_ids) <= users:
        errors.append(FieldError("attendees", "closing.error.attendee_invalid"))
    files = set(session.scalars(select(Document.id).where(Document.customer_id == customer.id)))
    if not set(document_ids) <= files:
        errors.append(FieldError("document_ids", "closing.error.opportunity_other"))
    if errors:
        raise ValidationError(errors)
    meeting = Meeting(
        customer_id=customer.id,
        kind=kind,
        at=at,
        contact_ids=sorted(set(contact_ids)),
        user_ids=sorted(set(user_ids)),
        link=url,
        minutes=notes,
        feedback=said,
        document_ids=sorted(set(document_ids)),
        created_at=utcnow(),
        by_user_id=actor.user_id,
    )
    session.add(meeting)
    session.flush()
    audit.record(
        session,
        action=AuditAction.CREATE,
        entity=AuditEntity.MEETING,
        entity_id=meeting.id,
        customer_id=customer.id,
        user_id=actor.user_id,
        changes={"kind": [None, kind], "at": [None, at.isoformat()]},
    )
    return meeting


def meetings_table(session: Session, *, actor: Actor, customer_id: int) -> pd.DataFrame:
    """A customer's meetings and demos, newest first (for the timeline)."""
    customer_for(session, actor, customer_id, "customer.read")
    columns = ["id", "kind", "at", "contact_ids", "user_ids", "link", "minutes", "feedback", "document_ids"]
    stmt = (
        select(*(getattr(Meeting, name) for name in columns))
        .where(Meeting.customer_id == customer_id)
        .order_by(Meeting.at.desc(), Meeting.id.desc())
    )
    return pd.DataFrame(session.execute(stmt).all(), columns=columns)


def colleagues(session: Session, *, actor: Actor) -> list[UserChoice]:
    """Active users who can take part in a meeting or be named on an order (anyone who reads customers)."""
    require(actor, "customer.read")
    users = session.scalars(select(User).where(User.is_active.is_(True)).order_by(User.display_name, User.id))
    return [
        UserChoice(id=user.id, display_name=user.display_name or user.username, role=user.role)
        for user in users
    ]
