"""customer.last_active_at: the latest `at` of the customer's activities and stage events, kept in the same
flush as the row that moves it, so "active in the period" is an index range on one column.

Every ORM write of an Activity or a StageEvent, whichever use case makes it, goes through one flush: the
listener below moves the customer's column forward there, in the same transaction. The bulk writers that
insert those rows with Core (funnel.capture.leads.store_leads, the demo loader) set the column in the
customer rows they insert; the trash's put_back recounts the customers it restores. `python -m funnel check`
compares the column with a recount (last_active_differences) and `--fix` writes the recount.

The update is a Core statement, not an attribute change: it does not bump the customer's version, so a
logged call does not make an open form of the same customer stale.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, bindparam, case, event, func, or_, select, update
from sqlalchemy.orm import Session, UOWTransaction
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from funnel.core.clock import utcnow
from funnel.store.models import Activity, Customer, StageEvent

_CUSTOMER: Table = Customer.__table__  # type: ignore[assignment]
_BATCH = 500


def _moved_forward(session: Session) -> dict[int, datetime]:
    """customer id -> the latest `at` among the activities and stage events this flush inserted."""
    latest: dict[int, datetime] = {}
    for obj in session.new:
        if isinstance(obj, Activity | StageEvent) and obj.customer_id is not None:
            at = obj.at or utcnow()
            if obj.customer_id not in latest or latest[obj.customer_id] < at:
                latest[obj.customer_id] = at
    return latest


@event.listens_for(Session, "after_flush")
def _keep_last_active(session: Session, _flush: UOWTransaction) -> None:
    latest = _moved_forward(session)
    if not latest:
        return
    column = _CUSTOMER.c.last_active_at
    session.connection().execute(
        update(_CUSTOMER)
        .where(_CUSTOMER.c.id == bindparam("cid"), or_(column.is_(None), column < bindparam("at")))
        .values(last_active_at=bindparam("at")),
        [{"cid": cid, "at": at} for cid, at in latest.items()],
    )
    for cid, at in latest.items():
        # A customer object already in the session shows the new value without being marked dirty.
        loaded = session.identity_map.get(identity_key(Customer, cid))
        if loaded is not None:
            current = loaded.__dict__.get("last_active_at")
            if current is None or current < at:
                set_committed_value(loaded, "last_active_at", at)


def latest_at(customer_id: Any) -> ColumnElement[Any]:
    """The recount of one customer's last_active_at: the later of its latest activity and stage event."""
    activity = select(func.max(Activity.at)).where(Activity.customer_id == customer_id).scalar_subquery()
    moved = select(func.max(StageEvent.at)).where(StageEvent.customer_id == customer_id).scalar_subquery()
    return case((activity.is_(None), moved), (or_(moved.is_(None), activity > moved), activity), else_=moved)


def recount_last_active(session: Session, customer_ids: Iterable[int] | None = None) -> None:
    """Write the recount over the stored column: for these customers, or every customer (None)."""
    stmt = update(_CUSTOMER).values(last_active_at=latest_at(_CUSTOMER.c.id))
    if customer_ids is None:
        session.execute(stmt)
        return
    ids = list(customer_ids)
    for start in range(0, len(ids), _BATCH):
        session.execute(stmt.where(_CUSTOMER.c.id.in_(ids[start : start + _BATCH])))


@dataclass(frozen=True)
class LastActiveDifference:
    customer_id: int
    customer_no: str
    stored: datetime | None
    expected: datetime | None


def last_active_differences(session: Session) -> list[LastActiveDifference]:
    """Customers whose stored last_active_at is not the recount of their activities and stage events."""
    expected = latest_at(Customer.id).label("expected")
    inner = select(Customer.id, Customer.customer_no, Customer.last_active_at, expected).subquery()
    differs = or_(
        and_(inner.c.last_active_at.is_(None), inner.c.expected.is_not(None)),
        and_(inner.c.last_active_at.is_not(None), inner.c.expected.is_(None)),
        inner.c.last_active_at != inner.c.expected,
    )
    rows = session.execute(select(inner).where(differs).order_by(inner.c.id))
    return [LastActiveDifference(*row) for row in rows]
