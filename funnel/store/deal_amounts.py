"""customer.opportunity_amount and customer.signed_amount: the sums of a customer's opportunities and of its
signed contracts, kept in the same flush as the rows that change them.

What a customer is worth to the reports is its signed business, else its opportunities; the board and the
leads list show its opportunities. Read through two correlated sums per customer, that was two index
probes for every customer a report counted: at a million customers the won amount by channel and the
days from lead to won took seconds each. Now they read two columns.

Every ORM write of an Opportunity or a Contract (new, changed, deleted, moved to another customer),
whichever use case makes it, goes through a flush: the listener below recounts the customers it touched
there, in the same transaction. The bulk writers that insert opportunities with Core (funnel.capture.leads
.store_leads, the demo loader) set the columns in the customer rows they insert; the trash's put_back
recounts the customers it restores. `python -m funnel check` compares the columns with a recount
(deal_amount_differences) and `--fix` writes the recount.

The update is a Core statement, not an attribute change: it does not bump the customer's version, so a
new opportunity does not make an open form of the same customer stale.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Table, event, func, inspect, or_, select, update
from sqlalchemy.orm import Session, UOWTransaction
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from funnel.store.models import Contract, Customer, Opportunity

_CUSTOMER: Table = Customer.__table__  # type: ignore[assignment]
_BATCH = 500
SIGNED = "signed"


def opportunity_sum(customer_id: Any) -> ColumnElement[Any]:
    """The recount of one customer's opportunity_amount: the sum of its opportunities (None: none)."""
    return (
        select(func.sum(Opportunity.amount)).where(Opportunity.customer_id == customer_id).scalar_subquery()
    )


def signed_sum(customer_id: Any) -> ColumnElement[Any]:
    """The recount of one customer's signed_amount: the sum of its signed contracts (None: none)."""
    return (
        select(func.sum(Contract.amount))
        .where(Contract.customer_id == customer_id, Contract.status == SIGNED)
        .scalar_subquery()
    )


def worth() -> ColumnElement[Any]:
    """What a customer is worth: its signed contracts if any, else its opportunities, else 0 (a draft,
    pending or rejected contract is not signed business: funnel.closing.merged counts the same way)."""
    return func.coalesce(Customer.signed_amount, Customer.opportunity_amount, 0)


def _touched(session: Session) -> set[int]:
    """The customers whose opportunities or contracts this flush inserts, changes or deletes (and the one
    a row moved away from)."""
    touched: set[int] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Opportunity | Contract):
            if obj.customer_id is not None:
                touched.add(obj.customer_id)
            state: Any = inspect(obj)
            moved = state.attrs.customer_id.history.deleted
            touched.update(int(cid) for cid in moved if cid is not None)
    return touched


def recount_deal_amounts(session: Session, customer_ids: Iterable[int] | None = None) -> None:
    """Write the recount over the stored columns: for these customers, or every customer (None)."""
    stmt = update(_CUSTOMER).values(
        opportunity_amount=opportunity_sum(_CUSTOMER.c.id), signed_amount=signed_sum(_CUSTOMER.c.id)
    )
    connection = session.connection()
    if customer_ids is None:
        connection.execute(stmt)
        return
    ids = sorted(set(customer_ids))
    for start in range(0, len(ids), _BATCH):
        connection.execute(stmt.where(_CUSTOMER.c.id.in_(ids[start : start + _BATCH])))


@event.listens_for(Session, "after_flush")
def _keep_deal_amounts(session: Session, _flush: UOWTransaction) -> None:
    touched = _touched(session)
    if not touched:
        return
    recount_deal_amounts(session, touched)
    loaded = {cid for cid in touched if identity_key(Customer, cid) in session.identity_map}
    if not loaded:
        return
    # A customer object already in the session shows the new sums without being marked dirty.
    rows = session.connection().execute(
        select(_CUSTOMER.c.id, _CUSTOMER.c.opportunity_amount, _CUSTOMER.c.signed_amount).where(
            _CUSTOMER.c.id.in_(sorted(loaded))
        )
    )
    for cid, opportunities, signed in rows:
        customer = session.identity_map.get(identity_key(Customer, cid))
        if customer is not None:
            set_committed_value(customer, "opportunity_amount", opportunities)
            set_committed_value(customer, "signed_amount", signed)


@dataclass(frozen=True)
class DealAmountDifference:
    customer_id: int
    customer_no: str
    stored: tuple[Decimal | None, Decimal | None]  # opportunity_amount, signed_amount
    expected: tuple[Decimal | None, Decimal | None]


def deal_amount_differences(session: Session) -> list[DealAmountDifference]:
    """Customers whose stored sums are not the recount of their opportunities and signed contracts (to the
    cent: SQLite sums its numbers as floating point, in whatever order it reads them)."""
    inner = select(
        Customer.id,
        Customer.customer_no,
        Customer.opportunity_amount,
        Customer.signed_amount,
        opportunity_sum(Customer.id).label("opportunities"),
        signed_sum(Customer.id).label("signed"),
    ).subquery()
    c = inner.c

    def differs(stored: Any, expected: Any) -> ColumnElement[bool]:
        return func.round(stored, 2).is_distinct_from(func.round(expected, 2))

    rows = session.execute(
        select(inner)
        .where(or_(differs(c.opportunity_amount, c.opportunities), differs(c.signed_amount, c.signed)))
        .order_by(c.id)
    )
    return [
        DealAmountDifference(cid, number, (opportunities, signed), (opp_expected, signed_expected))
        for cid, number, opportunities, signed, opp_expected, signed_expected in rows
    ]
