"""Payments (回款): a contract's plan of instalments, the receipts, balances and overdue instalments.

Balances are summed in SQL. An instalment is overdue when its due day has passed and the receipts of its
contract do not yet cover it and every instalment due before it (receipts pay the oldest first).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pandas as pd
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from funnel.access.permissions import Actor, customer_scope, require
from funnel.audit import record as audit
from funnel.audit.actions import AuditAction, AuditEntity
from funnel.closing.common import clean_amount, clean_date
from funnel.closing.contracts import SIGNED, get_contract
from funnel.core.clock import team_today, utcnow
from funnel.core.db import take_write_lock
from funnel.core.errors import FieldError, ValidationError
from funnel.store.models import Contract, Customer, Payment, PaymentInstalment

ZERO = Decimal("0.00")


def _paid(session: Session, contract_id: int) -> Decimal:
    total = session.scalar(
        select(func.coalesce(func.sum(Payment.amount), 0)).where(Payment.contract_id == contract_id)
    )
    return Decimal(str(total or 0)).quantize(Decimal("0.01"))


def set_plan(
    session: Session, *, actor: Actor, contract_id: int, instalments: Sequence[tuple[object, object]]
) -> list[PaymentInstalment]:
    """Replace a contract's plan with (amount, due day) instalments; together at most the contract's amount.

    Errors name the row: `instalment_<n>_amount` / `instalment_<n>_due_on` (n from 1).
    """
    take_write_lock(session)
    contract = get_contract(session, actor=actor, contract_id=contract_id, action="payment.record")
    errors: list[FieldError] = []
    rows: list[tuple[Decimal, date]] = []
    for n, (amount, due) in enumerate(instalments, start=1):
        value = clean_amount(f"instalment_{n}_amount", amount, errors)
        day = clean_date(f"instalment_{n}_due_on", due, errors, required=True)
        if value is not None and day is not None:
            rows.append((value, day))
    total = sum((value for value, _ in rows), ZERO)
    if not errors and total > contract.amount:
        errors.append(
            FieldError(
                "instalments",
                "closing.error.plan_exceeds",
                {"total": f"{total:,.2f}", "amount": f"{contract.amount:,.2f}"},
            )
        )
    if errors:
        raise ValidationError(errors)
    session.execute(delete(PaymentInstalment).where(PaymentInstalment.contract_id == contract.id))
    made = [
        PaymentInstalment(
            customer_id=contract.customer_id,
            contract_id=contract.id,
            amount=value,
            due_on=day,
            created_at=utcnow(),
        )
        for value, day in sorted(rows, key=lambda row: row[1])
    ]
    session.add_all(made)
    session.flush()
    audit.record(
        session,
        action=AuditAction.UPDATE,
        entity=AuditEntity.CONTRACT,
        entity_id=contract.id,
        customer_id=contract.customer_id,
        user_id=actor.user_id,
        changes={
            # One text, not a list: the customer page's history shows each change as a cell.
            "payment_plan": [
                None,
                "; ".join(f"{v:.2f} @ {d.isoformat()}" for v, d in sorted(rows, key=lambda r: r[1])),
            ]
        },
    )
    return made


def record_payment(
    session: Session,
    *,
    actor: Actor,
    contract_id: int,
    amount: object,
    received_on: object = None,
    external_id: str | None = None,
) -> Payment:
    """A receipt against a signed contract (payment.record); more than the outstanding balance is refused."""
    take_write_lock(session)
    contract = get_contract(session, actor=actor, contract_id=contract_id, action="payment.record")
    errors: list[FieldError] = []
    if contract.status != SIGNED:
        errors.append(FieldError("contract_id", "closing.error.contract_not_signed"))
    value = clean_amount("amount", amount, errors)
    day = clean_date("received_on", received_on, errors) or team_today()
    if value is not None and not errors:
        outstanding = contract.amount - _paid(session, contract.id)
        if value > outstanding:
            errors.append(
                FieldError("amount", "closing.error.overpaid", {"outstanding": f"{outstanding:,.2f}"})
            )
    if day > team_today():
        errors.append(FieldError("received_on", "closing.error.future_date", {"value": day.isoformat()}))
    if errors:
        raise ValidationError(errors)
    assert value is not None
    payment = Payment(
        customer_id=contract.customer_id,
        contract_id=contract.id,
        amount=value,
        received_on=day,
        external_id=external_id,
        by_user_id=actor.user_id,
        created_at=utcnow(),
    )
    session.add(payment)
    session.flush()
    audit.record(
        session,
        action=AuditAction.CREATE,
        entity=AuditEntity.PAYMENT,
        entity_id=payment.id,
        customer_id=contract.customer_id,
        user_id=actor.user_id,
        changes={"amount": [None, float(value)], "received_on": [None, day.isoformat()]},
    )
    return payment


@dataclass(frozen=True)
class Balance:
    contracted: Decimal
    paid: Decimal

    @property
    def outstanding(self) -> Decimal:
        return self.contracted - self.paid


def _paid_by_contract():  # type: ignore[no-untyped-def]
    return (
        select(Payment.contract_id.label("contract_id"), func.sum(Payment.amount).label("paid"))
        .where(Payment.contract_id.is_not(None))
        .group_by(Payment.contract_id)
        .subquery()
    )


def contract_balances(session: Session, *, actor: Actor, customer_id: int | None = None) -> pd.DataFrame:
    """Per signed contract the customers `actor` sees: amount, paid, outstanding, next instalment due."""
    require(actor, "customer.read")
    paid = _paid_by_contract()
    next_due = (
        select(PaymentInstalment.contract_id.label("contract_id"), func.count().label("instalments"))
        .group_by(PaymentInstalment.contract_id)
        .subquery()
    )
    stmt = (
        select(
            Contract.id,
            Customer.id.label("customer_id"),
            Customer.customer_no,
            Customer.name.label("customer"),
            Contract.contract_no,
            Contract.amount,
            func.coalesce(paid.c.paid, 0).label("paid"),
            func.coalesce(next_due.c.instalments, 0).label("instalments"),
        )
        .join(Customer, Customer.id == Contract.customer_id)
        .outerjoin(paid, paid.c.contract_id == Contract.id)
        .outerjoin(next_due, next_due.c.contract_id == Contract.id)
        .where(Contract.status == SIGNED, *customer_scope(session, actor).conditions())
        .order_by(Contract.signed_on.desc(), Contract.id.desc())
    )
    if customer_id is not None:
        stmt = stmt.where(Contract.customer_id == customer_id)
    columns = ["id", "customer_id", "customer_no", "customer", "contract_no", "amount", "paid", "instalments"]
    frame = pd.DataFrame(session.execute(stmt).all(), columns=columns)
    for name in ("amount", "paid"):
        frame[name] = frame[name].astype("float64").round(2)
    frame["outstanding"] = (frame["amount"] - frame["paid"]).round(2)
    frame["instalments"] = frame["instalments"].astype("int64")
    return frame


def customer_balance(session: Session, *, actor: Actor, customer_id: int) -> Balance:
    """What a customer signed (signed contracts) and paid, summed in SQL."""
    from funnel.closing.common import customer_for

    customer_for(session, actor, customer_id, "customer.read")
    contracted = session.scalar(
        select(func.coalesce(func.sum(Contract.amount), 0)).where(
            Contract.customer_id == customer_id, Contract.status == SIGNED
        )
    )
    paid = session.scalar(
        select(func.coalesce(func.sum(Payment.amount), 0)).where(Payment.customer_id == customer_id)
    )
    cents = Decimal("0.01")
    return Balance(Decimal(str(contracted or 0)).quantize(cents), Decimal(str(paid or 0)).quantize(cents))


@dataclass(frozen=True)
class OverdueInstalment:
    instalment_id: int
    contract_id: int
    customer_id: int
    owner_id: int | None
    due_on: date
    amount: Decimal  # the part of this instalment not yet covered by receipts


def overdue_instalments(
    session: Session,
    *,
    today: date | None = None,
    since: date | None = None,
    customer_id: int | None = None,
) -> list[OverdueInstalment]:
    """Instalments due before `today` (the team's today) that the contract's receipts do not cover yet.

    For the timers (the owner's and finance's lists) and the customer's red flags: cumulative plan per
    contract against its receipts, a window sum in SQL, so only the overdue rows come back. `since`
    bounds the due days looked at (the timers' look-back); `customer_id` limits it to one customer.
    """
    today = today or team_today()
    paid = _paid_by_contract()
    running = func.sum(PaymentInstalment.amount).over(
        partition_by=PaymentInstalment.contract_id, order_by=(PaymentInstalment.due_on, PaymentInstalment.id)
    )
    plan_stmt = (
        select(
            PaymentInstalment.id.label("id"),
            PaymentInstalment.contract_id.label("contract_id"),
            PaymentInstalment.customer_id.label("customer_id"),
            PaymentInstalment.due_on.label("due_on"),
            PaymentInstalment.amount.label("amount"),
            running.label("due_so_far"),
        )
        .join(Contract, Contract.id == PaymentInstalment.contract_id)
        .where(Contract.status == SIGNED)
    )
    if customer_id is not None:
        plan_stmt = plan_stmt.where(PaymentInstalment.customer_id == customer_id)
    plan = plan_stmt.subquery()
    covered = func.coalesce(paid.c.paid, 0)
    stmt = (
        select(
            plan.c.id,
            plan.c.contract_id,
            plan.c.customer_id,
            Customer.owner_id,
            plan.c.due_on,
            plan.c.amount,
            plan.c.due_so_far,
            covered,
        )
        .join(Customer, Customer.id == plan.c.customer_id)
        .outerjoin(paid, paid.c.contract_id == plan.c.contract_id)
        .where(plan.c.due_on < today, plan.c.due_so_far > covered)
        .order_by(plan.c.due_on, plan.c.id)
    )
    if since is not None:
        stmt = stmt.where(plan.c.due_on >= since)
    result = []
    for row in session.execute(stmt):
        amount, due_so_far, covered_amount = (Decimal(str(v)) for v in (row[5], row[6], row[7]))
        left = min(amount, due_so_far - covered_amount).quantize(Decimal("0.01"))
        result.append(OverdueInstalment(row[0], row[1], row[2], row[3], row[4], left))
    return result


def plan_table(session: Session, *, actor: Actor, contract_id: int) -> pd.DataFrame:
    """A contract's instalments with what is still open of each (receipts pay the oldest first)."""
    contract = get_contract(session, actor=actor, contract_id=contract_id)
    rows = session.execute(
        select(PaymentInstalment.id, PaymentInstalment.due_on, PaymentInstalment.amount)
        .where(PaymentInstalment.contract_id == contract.id)
        .order_by(PaymentInstalment.due_on, PaymentInstalment.id)
    ).all()
    left = _paid(session, contract.id)
    out = []
    for instalment_id, due_on, amount in rows:
        amount = Decimal(str(amount))
        covered = min(amount, left)
        left -= covered
        out.append(
            {"id": instalment_id, "due_on": due_on, "amount": float(amount), "open": float(amount - covered)}
        )
    return pd.DataFrame(out, columns=["id", "due_on", "amount", "open"])
