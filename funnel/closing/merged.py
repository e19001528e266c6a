"""The data factory's merged view: one row per customer with its opportunities, contracts and payments.

Aggregated in SQL (one grouped subquery per table, joined to the customers the reader may see), so the
export streams a small row per customer however many deals each has. Contracts count when signed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor, customer_scope, require
from funnel.store.models import Contract, Customer, Opportunity, Payment, User

MERGED_COLUMNS = (
    "customer_no", "external_id", "name", "channel", "owner", "stage", "status", "opportunities",
    "opportunity_amount", "contracts", "contract_amount", "paid_amount", "outstanding",
)  # fmt: skip


def per_customer() -> tuple[Any, Any, Any]:
    """Grouped subqueries: opportunities (count, amount), signed contracts (count, amount), payments (sum)."""
    opportunities = (
        select(
            Opportunity.customer_id.label("customer_id"),
            func.count().label("n"),
            func.sum(Opportunity.amount).label("amount"),
        )
        .group_by(Opportunity.customer_id)
        .subquery()
    )
    contracts = (
        select(
            Contract.customer_id.label("customer_id"),
            func.count().label("n"),
            func.sum(Contract.amount).label("amount"),
        )
        .where(Contract.status == "signed")
        .group_by(Contract.customer_id)
        .subquery()
    )
    payments = (
        select(Payment.customer_id.label("customer_id"), func.sum(Payment.amount).label("amount"))
        .group_by(Payment.customer_id)
        .subquery()
    )
    return opportunities, contracts, payments


def merged_select() -> tuple[Any, dict[str, Any]]:
    """One row per customer: Customer.id, then MERGED_COLUMNS (unordered, unfiltered); and the conditions
    that narrow it to customers with an opportunity / a signed contract / a payment / an outstanding
    balance. `merged_rows` (the export) and the analytics' through-to-cash table both read this select."""
    opportunities, contracts, payments = per_customer()
    contract_amount = func.coalesce(contracts.c.amount, 0)
    paid = func.coalesce(payments.c.amount, 0)
    outstanding = contract_amount - paid
    # The owner as a scalar subquery, not a join: a filter on the owner (a sub-select on user) then
    # correlates to nothing it should not.
    owner = select(User.username).where(User.id == Customer.owner_id).scalar_subquery()
    stmt = (
        select(
            Customer.id,
            Customer.customer_no,
            Customer.external_id,
            Customer.name,
            Customer.channel,
            func.coalesce(owner, "").label("owner"),
            Customer.stage,
            Customer.status,
            func.coalesce(opportunities.c.n, 0),
            func.coalesce(opportunities.c.amount, 0),
            func.coalesce(contracts.c.n, 0),
            contract_amount,
            paid,
            outstanding.label("outstanding"),
        )
        .select_from(Customer)
        .outerjoin(opportunities, opportunities.c.customer_id == Customer.id)
        .outerjoin(contracts, contracts.c.customer_id == Customer.id)
        .outerjoin(payments, payments.c.customer_id == Customer.id)
    )
    narrowing = {
        "with_opportunity": opportunities.c.n.is_not(None),
        "with_contract": contracts.c.n.is_not(None),
        "with_payment": payments.c.amount.is_not(None),
        "outstanding": outstanding > 0,
    }
    return stmt, narrowing


def merged_rows(session: Session, *, actor: Actor, batch: int = 2000) -> Iterator[dict[str, object]]:
    """The merged rows of every customer `actor` may read, in customer number order, streamed."""
    require(actor, "customer.read")
    stmt, _ = merged_select()
    stmt = (
        stmt.where(*customer_scope(session, actor).conditions())
        .order_by(Customer.customer_no)
        .execution_options(yield_per=batch)
    )
    money = {"opportunity_amount", "contract_amount", "paid_amount", "outstanding"}
    for row in session.execute(stmt):
        record = dict(zip(MERGED_COLUMNS, row[1:], strict=True))
        for name in money:
            record[name] = round(float(record[name] or 0), 2)
        for name in ("opportunities", "contracts"):
            record[name] = int(record[name] or 0)
        yield record
