"""Nothing signed is lost: archive a customer with signed business; undo a soft delete within 30 days.

Deleting a customer (funnel.customers.edit.delete_customer) refuses one with a signed contract or a
payment; such a customer is archived instead and stays in the analytics of its period. Any other delete
keeps the rows for 30 days (funnel.customers.trash) for an admin to restore.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor, customer_scope, require
from funnel.audit import record as audit
from funnel.audit.actions import AuditAction, AuditEntity
from funnel.closing.common import customer_for
from funnel.core.clock import utcnow
from funnel.core.db import take_write_lock
from funnel.core.errors import FORM, FieldError, NotFound, ValidationError
from funnel.customers.trash import UNDO_DAYS, put_back, restorable
from funnel.store.models import Customer, DeletedCustomer


def archive_customer(session: Session, *, actor: Actor, customer_id: int, archived: bool = True) -> Customer:
    """Archive (archived=False: bring back) a customer; it keeps counting in its period's analytics."""
    take_write_lock(session)
    customer = customer_for(session, actor, customer_id, "customer.archive")
    was = customer.archived_at
    if (was is not None) == archived:
        code = "closing.error.already_archived" if archived else "closing.error.not_archived"
        raise ValidationError([FieldError(FORM, code, {"customer_no": customer.customer_no})])
    customer.archived_at = utcnow() if archived else None
    audit.record_customer(
        session,
        actor=actor,
        customer=customer,
        action=AuditAction.ARCHIVE if archived else AuditAction.RESTORE,
        changes={"archived_at": [audit._plain(was), audit._plain(customer.archived_at)]},
    )
    session.flush()
    return customer


def archived_customers(session: Session, *, actor: Actor, limit: int = 500) -> pd.DataFrame:
    """The archived customers the actor may read (customer.archive), newest archived first."""
    require(actor, "customer.archive")
    columns = ["id", "customer_no", "name", "stage", "status", "archived_at"]
    stmt = (
        select(*(getattr(Customer, name) for name in columns))
        .where(Customer.archived_at.is_not(None), *customer_scope(session, actor).conditions())
        .order_by(Customer.archived_at.desc(), Customer.id.desc())
        .limit(limit)
    )
    return pd.DataFrame(session.execute(stmt).all(), columns=columns)


def deleted_customers(session: Session, *, actor: Actor, now: datetime | None = None) -> pd.DataFrame:
    """Deleted customers an admin may still restore (newest first)."""
    require(actor, "customer.restore")
    now = now or utcnow()
    rows = session.scalars(
        select(DeletedCustomer)
        .where(DeletedCustomer.restored_at.is_(None))
        .order_by(DeletedCustomer.deleted_at.desc(), DeletedCustomer.id.desc())
    )
    data = [
        {
            "id": r.id,
            "customer_no": r.customer_no,
            "name": r.name,
            "deleted_at": r.deleted_at,
            "restorable": restorable(r, now),
        }
        for r in rows
    ]
    return pd.DataFrame(data, columns=["id", "customer_no", "name", "deleted_at", "restorable"])


def restore_customer(session: Session, *, actor: Actor, deleted_id: int, now: datetime | None = None) -> int:
    """Undo a delete of at most UNDO_DAYS ago: the customer and its rows come back with their ids."""
    take_write_lock(session)
    require(actor, "customer.restore")
    record = session.get(DeletedCustomer, deleted_id)
    if record is None:
        raise NotFound("deleted customer", deleted_id)
    if not restorable(record, now or utcnow()):
        code = "closing.error.restored_already" if record.restored_at else "closing.error.undo_expired"
        raise ValidationError(
            [FieldError(FORM, code, {"days": str(UNDO_DAYS), "customer_no": record.customer_no})]
        )
    row = record.rows["customer"][0]
    same = [Customer.id == record.customer_id, Customer.customer_no == row["customer_no"]]
    if row.get("external_id"):
        same.append(Customer.external_id == row["external_id"])
    clash = session.scalar(select(Customer.customer_no).where(or_(*same)))
    if clash is not None:
        raise ValidationError([FieldError(FORM, "closing.error.restore_clash", {"customer_no": str(clash)})])
    put_back(session, record)
    record.restored_at = utcnow()
    audit.record(
        session,
        action=AuditAction.RESTORE,
        entity=AuditEntity.CUSTOMER,
        entity_id=record.customer_id,
        customer_id=record.customer_id,
        user_id=actor.user_id,
        changes={"customer_no": [None, record.customer_no]},
    )
    session.flush()
    return record.customer_id
