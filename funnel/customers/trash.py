"""Soft delete of a customer: its rows and every row that hangs on it kept as data for 30 days.

Deleting moves the customer and the rows of every table with a `customer_id` foreign key into one
`deleted_customer` record, then deletes them, so that no read anywhere needs a "not deleted" condition;
an admin's undo puts the same rows back with the same ids. The audit trail is never deleted.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Date, DateTime, Numeric, Table, delete, insert, select
from sqlalchemy.orm import Session

from funnel.core.clock import utcnow
from funnel.store.deal_amounts import recount_deal_amounts
from funnel.store.last_active import recount_last_active
from funnel.store.models import Base, Customer, DeletedCustomer

UNDO_DAYS = 30


def _attached_tables() -> list[Table]:
    """Tables whose rows belong to one customer (a `customer_id` foreign key), parents first."""
    return [
        table
        for table in Base.metadata.sorted_tables
        if "customer_id" in table.c
        and any(fk.column.table.name == "customer" for fk in table.c.customer_id.foreign_keys)
    ]


def _plain(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _typed(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in row.items():
        if name not in table.c:
            continue  # a column dropped since the delete
        kind = table.c[name].type
        if value is not None and isinstance(kind, DateTime):
            value = datetime.fromisoformat(value)
        elif value is not None and isinstance(kind, Date):
            value = date.fromisoformat(value)
        elif value is not None and isinstance(kind, Numeric):
            value = Decimal(value)
        out[name] = value
    return out


def snapshot(session: Session, customer: Customer) -> dict[str, list[dict[str, object]]]:
    """The customer's row and its attached rows, as JSON-storable data per table."""
    customer_table = Base.metadata.tables["customer"]
    tables = [customer_table, *_attached_tables()]
    rows: dict[str, list[dict[str, object]]] = {}
    for table in tables:
        where = table.c.id == customer.id if table is customer_table else table.c.customer_id == customer.id
        found = session.execute(select(table).where(where)).mappings().all()
        if found:
            rows[table.name] = [{k: _plain(v) for k, v in row.items()} for row in found]
    return rows


def move_to_trash(session: Session, customer: Customer, *, user_id: int | None) -> DeletedCustomer:
    """Keep the customer's data in a `deleted_customer` record and delete it (cascading to its rows)."""
    record = DeletedCustomer(
        customer_id=customer.id,
        customer_no=customer.customer_no,
        name=customer.name,
        rows=snapshot(session, customer),
        deleted_at=utcnow(),
        by_user_id=user_id,
    )
    session.add(record)
    session.flush()
    session.execute(delete(Customer).where(Customer.id == customer.id))
    return record


def restorable(record: DeletedCustomer, now: datetime) -> bool:
    return record.restored_at is None and now - record.deleted_at <= timedelta(days=UNDO_DAYS)


def put_back(session: Session, record: DeletedCustomer) -> None:
    """Insert the kept rows again, parents first, with their own ids."""
    order = {table.name: i for i, table in enumerate(Base.metadata.sorted_tables)}
    for name in sorted(record.rows, key=lambda n: order.get(n, len(order))):
        table = Base.metadata.tables.get(name)
        if table is None:
            continue
        values = [_typed(table, row) for row in record.rows[name]]
        if values:
            session.execute(insert(table), values)
    # Core inserts: the flush listeners that keep last_active_at and the deal sums did not see the rows
    # (and a record kept before those columns existed has none).
    restored = [int(str(row["id"])) for row in record.rows.get("customer", [])]
    recount_last_active(session, restored)
    recount_deal_amounts(session, restored)
    session.expire_all()
