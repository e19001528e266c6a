"""Customer use cases after creation: edit, assign, share, delete (reads: read.py, stage moves: stages.py)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor, assignee_error, require, require_customer
from funnel.audit import record as audit
from funnel.audit.actions import AuditAction
from funnel.core import events
from funnel.core.db import take_write_lock
from funnel.core.errors import FORM, FieldError, ValidationError
from funnel.customers.fields import AUDITED_FIELDS, EDITABLE_FIELDS, audited_fields, clean_grade, clean_text
from funnel.customers.read import UserChoice, flush_edit, get_customer, stale_edit
from funnel.customers.trash import move_to_trash
from funnel.inbox.notify import notify
from funnel.store.models import Contract, Customer, CustomerShare, Payment, User


def update_customer(
    session: Session,
    *,
    actor: Actor,
    customer_id: int,
    changes: dict[str, object],
    expected_version: int,
    loaded: dict[str, object] | None = None,
) -> Customer:
    """Save edited fields; refuse a stale edit (someone saved after `expected_version` was read).

    `loaded` holds the stored values the form was filled from: when a save since then (a stage move, a
    logged call) left all of them as they were, the edit is not stale.
    """
    take_write_lock(session)  # SQLite: read and write under one lock (see take_write_lock)
    customer = get_customer(session, actor=actor, customer_id=customer_id)
    require_customer(session, actor, customer, "customer.edit")
    untouched = loaded is not None and all(
        (getattr(customer, name) or "") == (value or "") for name, value in loaded.items()
    )
    if customer.version != expected_version and not untouched:
        raise stale_edit(session, customer)
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"cannot edit {', '.join(sorted(unknown))}")
    errors: list[FieldError] = []
    values = {
        name: clean_grade(value, errors) if name == "grade" else clean_text(name, value, errors)
        for name, value in changes.items()
    }
    if "name" in changes and not values["name"] and not any(e.field == "name" for e in errors):
        errors.append(FieldError("name", "error.required"))
    if errors:
        raise ValidationError(errors)
    before = audited_fields(customer)
    changed = audit.diff(before, {**before, **values})
    if not changed:  # saving the form unchanged is no edit: no audit row, no new version
        return customer
    for name, value in values.items():
        setattr(customer, name, value)
    audit.record_customer(session, actor=actor, customer=customer, action=AuditAction.UPDATE, changes=changed)
    flush_edit(session, customer)
    events.record(session, events.CustomerUpdated(customer.id, tuple(sorted(changed))))
    return customer


def assign_customer(session: Session, *, actor: Actor, customer_id: int, owner_id: int) -> Customer:
    """Give a customer to another owner (managers and admins); see `assignee_error` for who may take it."""
    take_write_lock(session)  # SQLite: read and write under one lock (see take_write_lock)
    customer = get_customer(session, actor=actor, customer_id=customer_id)
    require_customer(session, actor, customer, "customer.assign")
    owner = session.get(User, owner_id)
    error = assignee_error(actor, owner, field="owner_id")
    if error is not None:
        raise ValidationError([error])
    before = audited_fields(customer)
    previous = customer.owner_id
    customer.owner_id = owner_id
    assert owner is not None  # assignee_error refused a missing user
    customer.team = owner.team or customer.team  # the customer moves with its owner to their team
    by = actor.display_name or actor.username
    # Why it has this owner (shown on the customer; routing writes its rule here, funnel.capture.routing).
    customer.assignment_reason = {"key": "routing.reason.manual", "params": {"by": by}}
    changes = audit.diff(before, audited_fields(customer))
    audit.record_customer(session, actor=actor, customer=customer, action=AuditAction.ASSIGN, changes=changes)
    flush_edit(session, customer)
    events.record(session, events.LeadAssigned(customer.id, owner_id, previous))
    if (
        owner_id != previous and owner_id != actor.user_id
    ):  # the new owner is told (not who gave it to himself)
        params = {"customer_no": customer.customer_no, "name": customer.name, "by": by}
        notify(session, user_id=owner_id, kind="lead_reassigned", params=params, customer_id=customer.id)
    return customer


def share_customer(session: Session, *, actor: Actor, customer_id: int, user_id: int) -> None:
    """Let another user see and edit a customer without owning it; see `assignee_error` for who."""
    take_write_lock(session)  # SQLite: read and write under one lock (see take_write_lock)
    customer = get_customer(session, actor=actor, customer_id=customer_id)
    require_customer(session, actor, customer, "customer.assign")
    error = assignee_error(actor, session.get(User, user_id), field="user_id")
    if error is not None:
        raise ValidationError([error])
    if session.get(CustomerShare, (customer.id, user_id)) is None:
        session.add(CustomerShare(customer_id=customer.id, user_id=user_id))
        changes: dict[str, list[object]] = {"shared_with": [None, user_id]}
        audit.record_customer(
            session, actor=actor, customer=customer, action=AuditAction.SHARE, changes=changes
        )


def unshare_customer(session: Session, *, actor: Actor, customer_id: int, user_id: int) -> None:
    """Take a share back: the user no longer sees the customer unless they own it (audited)."""
    take_write_lock(session)  # SQLite: read and write under one lock (see take_write_lock)
    customer = get_customer(session, actor=actor, customer_id=customer_id)
    require_customer(session, actor, customer, "customer.assign")
    share = session.get(CustomerShare, (customer.id, user_id))
    if share is None:
        raise ValidationError([FieldError("user_id", "error.not_shared")])
    session.delete(share)
    changes: dict[str, list[object]] = {"shared_with": [user_id, None]}
    action = AuditAction.UNSHARE
    audit.record_customer(session, actor=actor, customer=customer, action=action, changes=changes)
    session.flush()


def delete_customer(session: Session, *, actor: Actor, customer_id: int) -> None:
    """Delete a customer and everything attached to it, keeping its audit trail and, for 30 days, its data
    (an admin may undo it: funnel.customers.trash). One with a signed contract or a payment is never
    deleted, only archived (nothing signed is lost)."""
    take_write_lock(session)  # SQLite: read and write under one lock (see take_write_lock)
    customer = get_customer(session, actor=actor, customer_id=customer_id)
    require_customer(session, actor, customer, "customer.delete")
    if has_signed_business(session, customer.id):
        number = customer.customer_no
        raise ValidationError([FieldError(FORM, "error.delete_signed", {"customer_no": number})])
    snapshot = audit.diff(audited_fields(customer), dict.fromkeys(AUDITED_FIELDS))
    changes: dict[str, list[object]] = {**snapshot, "customer_no": [customer.customer_no, None]}
    audit.record_customer(session, actor=actor, customer=customer, action=AuditAction.DELETE, changes=changes)
    number = customer.customer_no
    move_to_trash(session, customer, user_id=actor.user_id)
    events.record(session, events.CustomerDeleted(customer_id, number))


def has_signed_business(session: Session, customer_id: int) -> bool:
    """Whether the customer has a signed contract or any payment: then it may only be archived."""
    signed = select(Contract.id).where(Contract.customer_id == customer_id, Contract.status == "signed")
    paid = select(Payment.id).where(Payment.customer_id == customer_id)
    return session.scalar(signed.limit(1)) is not None or session.scalar(paid.limit(1)) is not None


def assignable_users(session: Session, *, actor: Actor) -> list[UserChoice]:
    """The users `actor` may assign a customer to or share it with (the rule is `assignee_error`)."""
    require(actor, "customer.assign")
    users = session.scalars(select(User).where(User.is_active.is_(True)).order_by(User.display_name, User.id))
    return [
        UserChoice(id=user.id, display_name=user.display_name, role=user.role)
        for user in users
        if assignee_error(actor, user, field="user_id") is None
    ]
