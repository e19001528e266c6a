"""Customer use cases after creation: read, list, edit, assign, share, delete, and their history."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pandas as pd
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from funnel import audit
from funnel.leads import AUDITED_FIELDS, GRADES, StaleEditError, audited_fields
from funnel.models import AuditLog, Contact, Customer, CustomerShare, User
from funnel.permissions import Actor, customer_scope, require, require_customer
from funnel.validation import FieldError, ValidationError, clean

EDITABLE_FIELDS = (
    "name", "company", "industry", "region", "channel", "tags", "grade",
    "budget_range", "purchase_timeline", "use_case", "competitors",
)  # fmt: skip


def get_customer(session: Session, *, actor: Actor | None, customer_id: int) -> Customer:
    """One customer the actor may read; LookupError if it does not exist."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise LookupError(f"customer {customer_id} does not exist")
    require_customer(session, actor, customer, "customer.read")
    return customer


def list_customers(
    session: Session,
    *,
    actor: Actor | None,
    search: str | None = None,
    status: str | None = None,
    limit: int = 500,
) -> pd.DataFrame:
    """The customers the actor may see, newest first, optionally matching a search text."""
    require(actor, "customer.read")
    stmt = (
        select(
            Customer.id,
            Customer.customer_no,
            Customer.name,
            Customer.company,
            Customer.channel,
            Customer.region,
            Customer.industry,
            User.display_name.label("owner"),
            Customer.grade,
            Customer.stage,
            Customer.status,
            Customer.created_at,
            Customer.first_contacted_at,
        )
        .outerjoin(User, User.id == Customer.owner_id)
        .where(*customer_scope(session, actor).conditions())
        .order_by(Customer.created_at.desc(), Customer.id.desc())
        .limit(limit)
    )
    if status:
        stmt = stmt.where(Customer.status == status)
    text = clean(search)
    if text:
        like = f"%{text}%"
        phone_match = select(Contact.customer_id).where(
            or_(Contact.phone.like(like), Contact.email.ilike(like), Contact.wechat.ilike(like))
        )
        stmt = stmt.where(
            or_(
                Customer.name.ilike(like),
                Customer.company.ilike(like),
                Customer.customer_no.ilike(like),
                Customer.id.in_(phone_match),
            )
        )
    rows = session.execute(stmt).all()
    return pd.DataFrame(rows, columns=list(rows[0]._fields) if rows else list(stmt.selected_columns.keys()))


def update_customer(
    session: Session,
    *,
    actor: Actor | None,
    customer_id: int,
    changes: dict[str, object],
    expected_version: int,
) -> Customer:
    """Save edited fields; refuse a stale edit (someone saved after `expected_version` was read)."""
    customer = get_customer(session, actor=actor, customer_id=customer_id)
    require_customer(session, actor, customer, "customer.edit")
    if customer.version != expected_version:
        raise StaleEditError(customer.customer_no)
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"cannot edit {', '.join(sorted(unknown))}")
    values = {name: clean(value) for name, value in changes.items()}
    errors = []
    if "name" in values and not values["name"]:
        errors.append(FieldError("name", "error.required"))
    grade = values.get("grade")
    if isinstance(grade, str):
        values["grade"] = grade.upper()
        if values["grade"] not in GRADES:
            errors.append(FieldError("grade", "error.grade_invalid", {"value": grade}))
    if errors:
        raise ValidationError(errors)
    before = audited_fields(customer)
    for name, value in values.items():
        setattr(customer, name, value)
    _audit(session, actor, customer, "update", before)
    session.flush()
    return customer


def assign_customer(session: Session, *, actor: Actor | None, customer_id: int, owner_id: int) -> Customer:
    """Give a customer to another owner (managers and admins)."""
    customer = get_customer(session, actor=actor, customer_id=customer_id)
    require_customer(session, actor, customer, "customer.assign")
    owner = session.get(User, owner_id)
    if owner is None or not owner.is_active:
        raise ValidationError([FieldError("owner_id", "error.owner_invalid")])
    before = audited_fields(customer)
    customer.owner_id = owner.id
    _audit(session, actor, customer, "assign", before)
    session.flush()
    return customer


def share_customer(session: Session, *, actor: Actor | None, customer_id: int, user_id: int) -> None:
    """Let another user see and edit a customer without owning it."""
    customer = get_customer(session, actor=actor, customer_id=customer_id)
    require_customer(session, actor, customer, "customer.assign")
    if session.get(CustomerShare, (customer.id, user_id)) is None:
        session.add(CustomerShare(customer_id=customer.id, user_id=user_id))
        audit.record(
            session,
            action="share",
            entity="customer",
            entity_id=customer.id,
            customer_id=customer.id,
            user_id=actor.user_id if actor else None,
            changes={"shared_with": [None, user_id]},
        )


def delete_customer(session: Session, *, actor: Actor | None, customer_id: int) -> None:
    """Delete a customer and everything attached to it, keeping its audit trail."""
    customer = get_customer(session, actor=actor, customer_id=customer_id)
    require_customer(session, actor, customer, "customer.delete")
    snapshot = audit.diff(audited_fields(customer), dict.fromkeys(AUDITED_FIELDS))
    audit.record(
        session,
        action="delete",
        entity="customer",
        entity_id=customer.id,
        customer_id=customer.id,
        user_id=actor.user_id if actor else None,
        changes={**snapshot, "customer_no": [customer.customer_no, None]},
    )
    session.execute(delete(Customer).where(Customer.id == customer.id))


def _audit(
    session: Session, actor: Actor | None, customer: Customer, action: str, before: dict[str, object]
) -> None:
    audit.record(
        session,
        action=action,
        entity="customer",
        entity_id=customer.id,
        customer_id=customer.id,
        user_id=actor.user_id if actor else None,
        changes=audit.diff(before, audited_fields(customer)),
    )


AUDIT_COLUMNS = ["at", "user", "action", "entity", "entity_id", "customer_id", "changes"]


def audit_entries(
    session: Session,
    *,
    actor: Actor | None,
    customer_id: int | None = None,
    action: str | None = None,
    username: str | None = None,
    since: date | None = None,
    until: date | None = None,
    limit: int = 1000,
) -> pd.DataFrame:
    """Audit rows, newest first. A customer's own history is readable by whoever may read the customer."""
    if customer_id is not None:
        get_customer(session, actor=actor, customer_id=customer_id)
    else:
        require(actor, "audit.read")
    stmt = (
        select(
            AuditLog.at,
            User.username.label("user"),
            AuditLog.action,
            AuditLog.entity,
            AuditLog.entity_id,
            AuditLog.customer_id,
            AuditLog.changes,
        )
        .outerjoin(User, User.id == AuditLog.user_id)
        .order_by(AuditLog.at.desc(), AuditLog.id.desc())
        .limit(limit)
    )
    if customer_id is not None:
        stmt = stmt.where(AuditLog.customer_id == customer_id)
    if action:
        stmt = stmt.where(AuditLog.action == action)
    if username:
        stmt = stmt.where(User.username == username)
    if since:
        stmt = stmt.where(AuditLog.at >= datetime.combine(since, time.min))
    if until:
        stmt = stmt.where(AuditLog.at < datetime.combine(until + timedelta(days=1), time.min))
    return pd.DataFrame(session.execute(stmt).all(), columns=AUDIT_COLUMNS)
